import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q

from radiant.invalidation import InvalidatingQuerySet
from radiant.models import TimeStamped
from radiant.tenancy import TenantManager, TenantOwned

# Upper bounds of the limits, the same for every database (the columns themselves would
# allow 2**31 - 1 on PostgreSQL and anything on SQLite): far above any real tier, and low
# enough that token-bucket arithmetic stays exact.
MAX_RPS = 100_000
MAX_BURST = 1_000_000
MAX_DAILY_QUOTA = 10_000_000_000


class Tier(TimeStamped):
    """A service tier: request rate, burst and daily quota (DESIGN.md §5)."""

    name = models.SlugField(max_length=50, unique=True)
    rps = models.PositiveIntegerField(help_text="Sustained requests per second.", validators=[MaxValueValidator(MAX_RPS)])
    burst = models.PositiveIntegerField(
        help_text="Bucket capacity; at least the RPS.", validators=[MaxValueValidator(MAX_BURST)]
    )
    daily_quota = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Requests per UTC day; empty means unlimited.",
        validators=[MaxValueValidator(MAX_DAILY_QUOTA)],
    )

    web_privileges = "SELECT"

    # Bulk updates invalidate cached authentication too (tenants/caching.py).
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["rps", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(rps__gt=0), name="tier_rps_positive"),
            models.CheckConstraint(condition=Q(burst__gte=F("rps")), name="tier_burst_gte_rps"),
            models.CheckConstraint(
                condition=Q(daily_quota__isnull=True) | Q(daily_quota__gt=0),
                name="tier_daily_quota_positive",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.rps is not None and self.rps <= 0:
            errors["rps"] = "RPS must be greater than zero."
        if self.rps and self.burst is not None and self.burst < self.rps:
            errors["burst"] = "Burst must be at least the RPS."
        if self.daily_quota is not None and self.daily_quota <= 0:
            errors["daily_quota"] = "Leave the daily quota empty for unlimited, or make it positive."
        if errors:
            raise ValidationError(errors)


class Tenant(TimeStamped):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="tenants")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    rps_override = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(MAX_RPS)])
    burst_override = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(MAX_BURST)])
    daily_quota_override = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="0 means unlimited; empty means the tier's quota.",
        validators=[MaxValueValidator(MAX_DAILY_QUOTA)],
    )

    # The web role may read its own row (RLS on id), nothing else.
    web_privileges = "SELECT"

    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rps_override__isnull=True) | Q(rps_override__gt=0),
                name="tenant_rps_override_positive",
            ),
        ]

    def __str__(self):
        return self.slug

    def clean(self):
        rps = self.rps_override or (self.tier.rps if self.tier_id else None)
        if self.burst_override is not None and rps and self.burst_override < rps:
            raise ValidationError({"burst_override": "Burst must be at least the RPS."})

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class Membership(TenantOwned, TimeStamped):
    """A Django user's role in a tenant (operators sign in to the admin as Django users)."""

    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        DEVELOPER = "developer"
        VIEWER = "viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.DEVELOPER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user_per_tenant"),
        ]

    def __str__(self):
        return f"{self.user} @ {self.tenant_id} ({self.role})"


class ApiKey(TenantOwned, TimeStamped):
    """An API key. Only its visible prefix and a SHA-256 hash of the whole key are stored."""

    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TenantManager.from_queryset(InvalidatingQuerySet)()
    all_tenants = InvalidatingQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apikey_tenant_created")]

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

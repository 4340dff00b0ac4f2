"""The AI model catalog: global models every tenant may use, and tenants' private ones."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from radiant.invalidation import InvalidatingQuerySet
from radiant.models import TimeStamped
from radiant.tenancy import TenantManager, TenantOrGlobalManager, TenantOwned

# Lower-case letters, digits, dots, dashes and underscores ("claude-3.5-sonnet"); "list" is
# the list's own cache key (radiant/cache_keys.py), so no model may be called that.
RESERVED_SLUGS = {"list"}
slug_validator = RegexValidator(
    r"\A[a-z0-9][a-z0-9._-]{0,99}\Z",
    "Use 1-100 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit.",
)


def validate_model_slug(value):
    if value in RESERVED_SLUGS:
        raise ValidationError(f"'{value}' is reserved.")


class AIModel(TimeStamped):
    """A model tenants can call. Global when ``tenant`` is empty, else private to it.

    Listed for a tenant when it is global or the tenant's own, enabled, not disabled, and
    not switched off by the tenant (``ModelOptOut``).
    """

    class Category(models.TextChoices):
        CHAT = "chat"
        COMPLETION = "completion"
        EMBEDDING = "embedding"
        IMAGE = "image"
        AUDIO = "audio"
        CODE = "code"
        MODERATION = "moderation"

    class Status(models.TextChoices):
        ACTIVE = "active"
        DEPRECATED = "deprecated"
        DISABLED = "disabled"

    LISTED_STATUSES = (Status.ACTIVE, Status.DEPRECATED)

    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="Empty: a global model every tenant may use. Set: private to that tenant.",
    )
    slug = models.CharField(max_length=100, validators=[slug_validator, validate_model_slug])
    display_name = models.CharField(max_length=200)
    provider = models.CharField(max_length=50)
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    is_enabled = models.BooleanField(default=True)
    input_cost_per_1k = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(Decimal("0"))],
        help_text="Credits per 1,000 input tokens.",
    )
    output_cost_per_1k = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(Decimal("0"))],
        help_text="Credits per 1,000 output tokens.",
    )
    context_window = models.PositiveIntegerField(help_text="Tokens.")
    metadata = models.JSONField(default=dict, blank=True)

    objects = TenantOrGlobalManager.from_queryset(InvalidatingQuerySet)()
    all_tenants = InvalidatingQuerySet.as_manager()

    # Tenants read the catalog; only operators write it.
    web_privileges = "SELECT"

    class Meta:
        db_table = "ai_models"
        verbose_name = "AI model"
        ordering = ["slug"]
        # Django internals (admin forms' unique checks) must see every tenant's rows.
        default_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="ai_model_slug_per_tenant"),
            models.UniqueConstraint(
                fields=["slug"], condition=Q(tenant__isnull=True), name="ai_model_global_slug"
            ),
            models.CheckConstraint(
                condition=Q(input_cost_per_1k__gte=0) & Q(output_cost_per_1k__gte=0),
                name="ai_model_prices_non_negative",
            ),
            models.CheckConstraint(condition=Q(context_window__gt=0), name="ai_model_context_positive"),
        ]
        # The seed's indexes. The covering one, (tenant_id, status, is_enabled) INCLUDE
        # (display_name, category, input_cost_per_1k), is PostgreSQL-only SQL in migration 0002.
        indexes = [models.Index(fields=["tenant", "status"], name="idx_models_tenant_status")]

    def __str__(self):
        return self.slug if self.tenant_id is None else f"{self.slug} (private)"

    @property
    def is_global(self):
        return self.tenant_id is None

    def clean(self):
        # A private slug may not shadow a global one (nor the reverse): one slug, one model.
        if not self.slug:
            return
        clash = AIModel.all_tenants.filter(slug=self.slug).exclude(pk=self.pk)
        if self.tenant_id is not None:
            clash = clash.filter(tenant__isnull=True)
        if clash.exists():
            raise ValidationError({"slug": "A global model or a private model already uses this slug."})


class ModelOptOut(TenantOwned, TimeStamped):
    """A tenant has switched a global model off for itself."""

    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="opt_outs")

    objects = TenantManager.from_queryset(InvalidatingQuerySet)()
    all_tenants = InvalidatingQuerySet.as_manager()

    # Set by operators today; the API only reads it.
    web_privileges = "SELECT"

    class Meta:
        verbose_name = "model switched off for a tenant"
        verbose_name_plural = "models switched off for tenants"
        default_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "model"], name="model_opt_out_unique"),
        ]

    def __str__(self):
        return f"{self.model_id} off for {self.tenant_id}"

    def clean(self):
        if self.model_id and self.model.tenant_id is not None:
            raise ValidationError({"model": "Only a global model can be switched off for a tenant."})

"""Writes for the tenancy core. Keyword-only, atomic, named <entity>_<action>."""

import logging
import re
import secrets
import string

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenants.auth import KEY_SCHEME, api_key_check, api_key_hash
from tenants.models import MAX_BURST, MAX_DAILY_QUOTA, MAX_RPS, ApiKey, Tenant, Tier

logger = logging.getLogger(__name__)

# DESIGN.md §5. The data migration and seed_demo both start from these.
SEED_TIERS = [
    # name, rps, burst, daily (None = unlimited)
    ("free", 10, 20, 1_000),
    ("starter", 50, 100, 10_000),
    ("professional", 100, 200, 50_000),
    ("business", 500, 1_000, 250_000),
    ("enterprise", 2_000, 5_000, None),
]

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


class TenantError(ValueError):
    """An operator asked for something that cannot be done; the message says why."""


def tier_seed(*, tier_model=Tier):
    """Create the five seed tiers where missing; existing tiers keep their edited limits."""
    for name, rps, burst, daily in SEED_TIERS:
        tier_model.objects.get_or_create(name=name, defaults={"rps": rps, "burst": burst, "daily_quota": daily})


def _check_slug(slug: str, what: str = "slug") -> str:
    """A well-formed slug, checked before it goes anywhere near a query (a NUL byte is an
    error on PostgreSQL and not on SQLite; a malformed slug matches nothing anyway)."""
    if not isinstance(slug, str) or not slug or len(slug) > 63 or not _SLUG.fullmatch(slug):
        raise TenantError(f"{what} {slug!r} is not a valid slug (letters, digits, - and _, at most 63)")
    return slug


def _check_name(name: str, *, max_length: int) -> str:
    name = (name or "").strip()
    if not name:
        raise TenantError("the name must not be blank")
    if len(name) > max_length or "\x00" in name:
        raise TenantError(f"the name must be at most {max_length} characters, without NUL")
    return name


def tenant_by_slug(*, slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=_check_slug(slug, "tenant")).first()
    if tenant is None:
        raise TenantError(f"no tenant with slug {slug!r}")
    return tenant


@transaction.atomic
def tenant_create(*, slug, name, tier, rps=None, burst=None, daily=None) -> Tenant:
    """A new active tenant. ``daily=0`` overrides the tier's quota with unlimited."""
    slug, name = _check_slug(slug), _check_name(name, max_length=200)
    _check_slug(tier, "tier")
    tier_obj = Tier.objects.filter(name=tier).first()
    if tier_obj is None:
        raise TenantError(f"unknown tier {tier!r}; tiers: {', '.join(Tier.objects.values_list('name', flat=True))}")
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantError(f"a tenant with slug {slug!r} already exists")
    for label, value, most in (("rps", rps, MAX_RPS), ("burst", burst, MAX_BURST), ("daily", daily, MAX_DAILY_QUOTA)):
        if value is not None and value < 0:
            raise TenantError(f"--{label} must not be negative")
        if value is not None and value > most:
            raise TenantError(f"--{label} must be at most {most}")
    if rps == 0:
        raise TenantError("--rps must be greater than zero")
    effective_rps = rps or tier_obj.rps
    if burst is not None and burst < effective_rps:
        raise TenantError(f"--burst ({burst}) must be at least the RPS ({effective_rps})")
    tenant = Tenant(
        slug=slug, name=name, tier=tier_obj,
        rps_override=rps, burst_override=burst, daily_quota_override=daily,
    )
    tenant.full_clean()
    tenant.save()
    return tenant


def tenant_set_status(*, tenant: Tenant, status: str) -> Tenant:
    tenant.status = status
    tenant.save(update_fields=["status", "updated_at"])
    return tenant


def _new_raw_key():
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    unchecked = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, unchecked + api_key_check(unchecked)


@transaction.atomic
def api_key_create(*, tenant: Tenant, name: str = "default", expires_at=None) -> tuple[ApiKey, str]:
    """A new key for ``tenant``. Returns the row and the raw key, which is never stored."""
    name = _check_name(name, max_length=100)
    if expires_at is not None and expires_at <= timezone.now():
        raise TenantError("the expiry must be in the future")
    prefix, raw = _new_raw_key()
    while ApiKey.all_tenants.filter(prefix=prefix).exists():
        prefix, raw = _new_raw_key()
    key = ApiKey.all_tenants.create(
        tenant=tenant, name=name, prefix=prefix, key_hash=api_key_hash(raw), expires_at=expires_at
    )
    return key, raw


def api_key_revoke(*, prefix: str) -> ApiKey:
    if not (isinstance(prefix, str) and len(prefix) == 8 and prefix.isascii() and prefix.isalnum()):
        raise TenantError(f"{prefix!r} is not an API key prefix (8 letters and digits)")
    key = ApiKey.all_tenants.filter(prefix=prefix).first()
    if key is None:
        raise TenantError(f"no API key with prefix {prefix!r}")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
    return key


@transaction.atomic
def api_key_purge(*, before) -> int:
    """Delete keys revoked or expired before ``before`` (operator job). Returns how many.

    Live keys are never touched; a key revoked or expired recently stays listed (with its
    revocation or expiry) until it is older than the retention period.
    """
    if timezone.is_naive(before):
        raise TenantError("the cut-off time must be timezone-aware")
    if before > timezone.now():
        raise TenantError("the cut-off time must not be in the future")
    stale = ApiKey.all_tenants.filter(Q(revoked_at__lt=before) | Q(expires_at__lt=before))
    deleted, _ = stale.delete()
    return deleted

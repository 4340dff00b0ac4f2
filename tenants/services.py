"""Writes for the tenancy core. Keyword-only, atomic, named <entity>_<action>."""

import logging
import secrets
import string

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from radiant import cache_keys
from tenants.models import ApiKey, Tenant, Tier
from tenants.selectors import KEY_SCHEME, api_key_check, api_key_hash

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


class TenantError(ValueError):
    """An operator asked for something that cannot be done; the message says why."""


def tier_seed(*, tier_model=Tier):
    """Create the five seed tiers where missing; existing tiers keep their edited limits."""
    for name, rps, burst, daily in SEED_TIERS:
        tier_model.objects.get_or_create(name=name, defaults={"rps": rps, "burst": burst, "daily_quota": daily})


@transaction.atomic
def tenant_create(*, slug, name, tier, rps=None, burst=None, daily=None) -> Tenant:
    """A new active tenant. ``daily=0`` overrides the tier's quota with unlimited."""
    tier_obj = Tier.objects.filter(name=tier).first()
    if tier_obj is None:
        raise TenantError(f"unknown tier {tier!r}; tiers: {', '.join(Tier.objects.values_list('name', flat=True))}")
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantError(f"a tenant with slug {slug!r} already exists")
    for label, value in (("rps", rps), ("burst", burst), ("daily", daily)):
        if value is not None and value < 0:
            raise TenantError(f"--{label} must not be negative")
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
    key = ApiKey.all_tenants.filter(prefix=prefix).first()
    if key is None:
        raise TenantError(f"no API key with prefix {prefix!r}")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
    return key


def api_key_touch(*, tenant_id, key_id: int, key_hash: str) -> None:
    """Record that a key was used; called when the auth cache says it is due.

    The gate is set first, so other requests skip it for API_KEY_TOUCH_INTERVAL. The write
    goes to a Celery task, off the request path; if the broker cannot take it, it is done
    here, in the caller's tenant scope.
    """
    from tenants.tasks import api_key_mark_used

    try:
        cache.set(cache_keys.auth_touched(key_hash), 1, settings.API_KEY_TOUCH_INTERVAL)
    except Exception:  # the cache being down must not fail the request, nor write every time
        logger.warning("cache unavailable; skipping last_used_at update")
        return
    kwargs = {"tenant_id": str(tenant_id), "key_id": key_id, "at": timezone.now().isoformat()}
    try:
        api_key_mark_used.apply_async(kwargs=kwargs, retry=False)
    except Exception:
        logger.warning("broker unavailable; recording API key use directly")
        api_key_mark_used(**kwargs)


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

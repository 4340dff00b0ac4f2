"""Reads for the tenancy core."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from rest_framework import exceptions

from radiant import cache as response_cache
from radiant import cache_keys
from radiant.tenancy import OPERATOR_DB, tenant_db
from tenants.models import ApiKey

logger = logging.getLogger(__name__)

KEY_SCHEME = "rad"
AUTH_CACHE_TTL = 300  # a safety net: invalidation is by generation, on commit


@dataclass(frozen=True)
class Limits:
    rps: int
    burst: int
    daily_quota: int | None  # None: unlimited


@dataclass(frozen=True)
class TenantPrincipal:
    """Who is calling: the tenant behind a valid API key, with its effective limits."""

    tenant_id: UUID
    slug: str
    name: str
    status: str
    tier: str
    limits: Limits
    key_id: int
    key_prefix: str

    is_authenticated = True


def effective_limits(*, rps, burst, daily_quota, rps_override=None, burst_override=None, daily_quota_override=None):
    """A tenant's own overrides win over its tier's; a daily override of 0 means unlimited."""
    rps = rps_override or rps
    burst = max(burst_override or burst, rps)
    if daily_quota_override is not None:
        daily_quota = daily_quota_override or None
    return Limits(rps=rps, burst=burst, daily_quota=daily_quota)


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_parse(raw_key: str) -> str:
    """The visible prefix of a well-formed key ``rad_<prefix>_<secret>``; 401 otherwise."""
    scheme, _, rest = raw_key.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(prefix) != 8 or not prefix.isalnum() or len(secret) < 32:
        raise exceptions.AuthenticationFailed("Malformed API key.")
    return prefix


_LOOKUP_COLUMNS = (
    "key_id", "key_prefix", "expires_at", "revoked_at", "tenant_id", "tenant_slug", "tenant_name",
    "tenant_status", "tier_name", "rps", "burst", "daily_quota", "rps_override", "burst_override",
    "daily_quota_override",
)


def _lookup(prefix: str, key_hash: str):
    alias = tenant_db()
    if alias != OPERATOR_DB:
        # The web role cannot read api keys across tenants; a SECURITY DEFINER function
        # answers for exactly one (prefix, hash) pair, so no key can be enumerated.
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT * FROM radiant_api_key_lookup(%s, %s)", [prefix, key_hash])
            row = cursor.fetchone()
        return dict(zip(_LOOKUP_COLUMNS, row)) if row else None
    key = (
        ApiKey.all_tenants.select_related("tenant__tier")
        .filter(prefix=prefix, key_hash=key_hash)
        .first()
    )
    if key is None:
        return None
    tenant, tier = key.tenant, key.tenant.tier
    return {
        "key_id": key.id, "key_prefix": key.prefix, "expires_at": key.expires_at,
        "revoked_at": key.revoked_at, "tenant_id": tenant.id, "tenant_slug": tenant.slug,
        "tenant_name": tenant.name, "tenant_status": tenant.status, "tier_name": tier.name,
        "rps": tier.rps, "burst": tier.burst, "daily_quota": tier.daily_quota,
        "rps_override": tenant.rps_override, "burst_override": tenant.burst_override,
        "daily_quota_override": tenant.daily_quota_override,
    }


def _principal(row) -> TenantPrincipal:
    return TenantPrincipal(
        tenant_id=row["tenant_id"],
        slug=row["tenant_slug"],
        name=row["tenant_name"],
        status=row["tenant_status"],
        tier=row["tier_name"],
        limits=effective_limits(
            rps=row["rps"], burst=row["burst"], daily_quota=row["daily_quota"],
            rps_override=row["rps_override"], burst_override=row["burst_override"],
            daily_quota_override=row["daily_quota_override"],
        ),
        key_id=row["key_id"],
        key_prefix=row["key_prefix"],
    )


@dataclass(frozen=True)
class Authenticated:
    principal: TenantPrincipal
    key_hash: str
    touch_due: bool  # time to record the key's last use (at most once per interval)


def _cached_lookup(prefix: str, key_hash: str):
    """The key's row, from the auth cache when it is current, else from the database.

    One cache round trip (MGET) fetches the auth generation, the cached row and the
    last-use gate together. Any change to a tier, tenant or key replaces the generation
    (on commit), so a revoked key, a suspension or a tier edit applies on the next request.
    If the cache is down, the database answers.
    """
    entry_key, generation_key, touch_key = (
        cache_keys.auth_entry(key_hash), cache_keys.auth_generation(), cache_keys.auth_touched(key_hash)
    )
    try:
        found = response_cache.get_many([generation_key, entry_key, touch_key])  # raw MGET on Redis
    except Exception:
        logger.warning("auth cache unavailable; authenticating from the database")
        return _lookup(prefix, key_hash), False
    generation, entry = found.get(generation_key), found.get(entry_key)
    touch_due = touch_key not in found
    if entry is not None and generation is not None and entry["generation"] == generation:
        return entry["row"], touch_due
    row = _lookup(prefix, key_hash)
    try:
        if generation is None:
            generation = auth_generation_new()
        if row is not None:
            cache.set(entry_key, {"generation": generation, "row": row}, AUTH_CACHE_TTL)
    except Exception:
        logger.warning("auth cache unavailable; not caching the key")
    return row, touch_due


def auth_generation_new() -> str:
    """Start a new auth generation: every cached key entry is stale from now on."""
    generation = uuid4().hex
    cache.set(cache_keys.auth_generation(), generation, None)
    return generation


def api_key_authenticate(raw_key: str, *, now: datetime | None = None) -> Authenticated:
    """Authenticate a raw API key. Unknown, revoked and expired keys raise 401."""
    prefix, key_hash = api_key_parse(raw_key), api_key_hash(raw_key)
    row, touch_due = _cached_lookup(prefix, key_hash)
    if row is None:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if row["revoked_at"] is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if row["expires_at"] is not None and row["expires_at"] <= (now or timezone.now()):
        raise exceptions.AuthenticationFailed("This API key has expired.")
    return Authenticated(_principal(row), key_hash, touch_due)


def api_key_principal(raw_key: str, *, now: datetime | None = None) -> TenantPrincipal:
    return api_key_authenticate(raw_key, now=now).principal


def api_key_list():
    """The current tenant's API keys, newest first."""
    return ApiKey.objects.order_by("-created_at", "-id")


def api_key_get(*, prefix: str) -> ApiKey:
    from radiant.problems import NotFound

    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None:
        raise NotFound("No API key with that prefix.")
    return key

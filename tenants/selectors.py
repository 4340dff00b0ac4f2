"""Reads for the tenancy core."""

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
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


CHECK_LENGTH = 12  # hex digits of the keyed check a key ends with: 48 bits


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_check(unchecked: str) -> str:
    """The check a key ends with: a MAC of the rest under a secret only the server holds.

    A guessed key fails it with certainty short of 2⁻⁴⁸, so guesses are refused without a
    lookup (no database, no cache) and an address that guesses is limited by its failures
    alone, while a real key is never held back for the address it comes from."""
    return hmac.new(settings.API_KEY_CHECK_SECRET, unchecked.encode(), hashlib.sha256).hexdigest()[:CHECK_LENGTH]


def api_key_parse(raw_key: str) -> str:
    """The visible prefix of a well-formed key ``rad_<prefix>_<secret><check>``; 401 otherwise
    (a key whose check fails reads exactly as an unknown key)."""
    scheme, _, rest = raw_key.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(prefix) != 8 or not prefix.isalnum() or len(secret) < 32 + CHECK_LENGTH:
        raise exceptions.AuthenticationFailed("Malformed API key.")
    if not hmac.compare_digest(api_key_check(raw_key[:-CHECK_LENGTH]), raw_key[-CHECK_LENGTH:]):
        raise exceptions.AuthenticationFailed("Invalid API key.")
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
        # (The alias binds values server-side: the hash never stands in a statement's text.)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT * FROM public.radiant_api_key_lookup(%s, %s)", [prefix, key_hash])
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


# --- the auth cache -------------------------------------------------------------------------
#
# A key's row (tenant, status, tier limits, revocation, expiry) is cached in Redis under
# ``auth:<key hash>`` together with the *generation* of its tenant it was read under: a
# random token in ``auth:{<tenant id>}:generation`` that every committed change to the
# tenant, any of its keys, or its tier replaces (tenants/caching.py). An entry whose
# generation is no longer its tenant's is never used, so a revoked key, a suspension or a
# tier edit applies on the next request. TTLs are only the safety net.
#
# Each process also remembers the rows it has seen (``_known``), and a request
# confirms its row against the tenant's generation in the same round trip that runs its
# throttle check and reads its response (``confirm``, see radiant/auth.py and
# radiant/throttling.py: the throttle script counts nothing if the generation moved). So a
# warm request makes one round trip to Redis, and a changed key still fails on the next
# request, in every process: what a process remembers is only ever used once Redis has
# confirmed it is current.


@dataclass(frozen=True)
class Known:
    """A key's row as of one generation of its tenant, and until when it may be used."""

    generation: object
    row: dict
    principal: TenantPrincipal
    expires: float  # time.time(): the cache entry's own expiry (the safety net)


_known: dict[str, Known] = {}
KNOWN_MAX = 10_000


def _remember(key_hash: str, known: Known) -> None:
    if len(_known) >= KNOWN_MAX:
        _known.clear()  # a hint, not a source of truth: forgetting is always safe
    _known[key_hash] = known


def _generation_of(tenant_id):
    """The tenant's current auth generation, created if it has none (first use, eviction);
    None while a change to the tenant is being made (nothing may be cached under it)."""
    key = cache_keys.auth_generation(tenant_id)
    generation = cache.get(key)
    if generation == response_cache.CHANGING:
        return None
    if not isinstance(generation, int):  # none yet (or not a token: replace it)
        if generation is None:
            cache.add(key, response_cache.token(), response_cache.VERSION_TTL)
        else:
            cache.set(key, response_cache.token(), response_cache.VERSION_TTL)
        generation = cache.get(key)
    return generation if isinstance(generation, int) else None


def _rebuild(prefix: str, key_hash: str):
    """The row from the database, cached under its tenant's generation as read *before*
    the row (so a change committed in between leaves the entry stale, never wrong)."""
    row = _lookup(prefix, key_hash)
    if row is None:
        return None
    try:
        generation = _generation_of(row["tenant_id"])
    except Exception:
        logger.warning("auth cache unavailable; authenticating from the database")
        return row
    if generation is None:  # a change is under way: answer from the database, cache nothing
        return row
    row = _lookup(prefix, key_hash)
    if row is None:
        return None
    expires = time.time() + AUTH_CACHE_TTL
    try:
        cache.set(cache_keys.auth_entry(key_hash), {"generation": generation, "row": row, "expires": expires},
                  AUTH_CACHE_TTL)
    except Exception:
        logger.warning("auth cache unavailable; not caching the key")
        return row
    if response_cache.redis_backend() is not None:
        _remember(key_hash, Known(generation, row, _principal(row), expires))
    return row


def _known_from_entry(entry) -> Known | None:
    if not isinstance(entry, dict) or "expires" not in entry or entry["expires"] <= time.time():
        return None
    return Known(entry["generation"], entry["row"], _principal(entry["row"]), entry["expires"])


def _cached_lookup(prefix: str, key_hash: str, confirm=None):
    """``(row, principal or None, touch_due)``: the key's row from the auth cache when it
    is current, else from the database (and cached). If the cache is down, the database
    answers.

    With ``confirm`` (a request's round trip, see radiant/auth.py): ``confirm(principal,
    generation, touch_key)`` -> ``(current, touch_due)``, or None if Redis could not be
    asked. A remembered row is confirmed first (one round trip in all), then the cached
    entry (one more), then the database. Without it: one ``get_many`` for the entry and
    the last-use gate, one read of the tenant's generation.
    """
    entry_key, touch_key = cache_keys.auth_entry(key_hash), cache_keys.auth_touched(key_hash)
    if confirm is not None:
        known = _known.get(key_hash)
        if known is not None and known.expires > time.time():
            outcome = confirm(known.principal, known.generation, touch_key)
            if outcome is None:
                return _lookup(prefix, key_hash), None, False
            if outcome[0]:
                return known.row, known.principal, outcome[1]
        _known.pop(key_hash, None)
        try:
            found = response_cache.get_many((entry_key, touch_key))
            known = _known_from_entry(found.get(entry_key))
        except Exception:
            logger.warning("auth cache unavailable; authenticating from the database")
            return _lookup(prefix, key_hash), None, False
        if known is not None:
            outcome = confirm(known.principal, known.generation, touch_key)
            if outcome is None:
                return _lookup(prefix, key_hash), None, False
            if outcome[0]:
                _remember(key_hash, known)
                return known.row, known.principal, outcome[1]
        return _rebuild(prefix, key_hash), None, touch_key not in found  # the throttle checks it on its own
    try:
        found = response_cache.get_many((entry_key, touch_key))
        known = _known_from_entry(found.get(entry_key))
        touch_due = touch_key not in found
        if known is not None and cache.get(cache_keys.auth_generation(known.row["tenant_id"])) == known.generation:
            return known.row, known.principal, touch_due
    except Exception:
        logger.warning("auth cache unavailable; authenticating from the database")
        return _lookup(prefix, key_hash), None, False
    return _rebuild(prefix, key_hash), None, touch_due


def api_key_authenticate(raw_key: str, *, now: datetime | None = None, confirm=None) -> Authenticated:
    """Authenticate a raw API key. Unknown, revoked and expired keys raise 401.

    ``confirm``: see ``_cached_lookup`` (the API's authentication passes one).
    """
    prefix, key_hash = api_key_parse(raw_key), api_key_hash(raw_key)
    row, principal, touch_due = _cached_lookup(prefix, key_hash, confirm)
    if row is None:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if row["revoked_at"] is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if row["expires_at"] is not None and row["expires_at"] <= (now or timezone.now()):
        raise exceptions.AuthenticationFailed("This API key has expired.")
    return Authenticated(principal or _principal(row), key_hash, touch_due)


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

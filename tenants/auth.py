"""API-key authentication, all of it: the key's format and check, its hash, the row's
lookup, the Redis entry, what this process remembers, and the last-use record.

A key is ``rad_<prefix>_<secret><check>``: the check is a MAC of the rest under a secret
only the server holds, so a guessed key is refused before any lookup (no database, no
cache). Only the SHA-256 of a key is stored and looked up.

Where a key's row (tenant, status, limits, revocation, expiry) comes from, cheapest first
(``candidates``):

1. **this process's memory** (``_known``, bounded): the row as of one *generation* of its
   tenant. Used only once Redis has confirmed that generation is still the tenant's, in the
   same round trip that counts the request's rate limit (the base class passes the
   confirmation to the limiter as a plain key and value: radiant/api.py). A warm request
   therefore makes one round trip to Redis and no SQL;
2. **the Redis entry** ``auth:<key hash>``: the row and the generation it was read under,
   confirmed the same way;
3. **the database** (the web role cannot list keys: a SECURITY DEFINER function answers for
   exactly one prefix and hash), cached under the tenant's generation as read *before* the
   row, so a change committed in between leaves the entry stale, never wrong.

A tenant's generation (``auth:{<tenant>}:generation``) is a random token that every
committed change to the tenant, any of its keys or its tier replaces (tenants/caching.py,
radiant/invalidation.py): an entry or a remembered row whose generation is no longer the
tenant's is never used, so a revoked key, a suspension or a tier edit applies on the next
request, in every process. TTLs are only the safety net.

The base class (radiant/api.py) finds this class through DRF's
``DEFAULT_AUTHENTICATION_CLASSES`` and calls ``credentials``, ``candidates``, ``load`` and
``accept``; ``authenticate`` serves any other DRF view, and ``principal_for`` code that holds a
raw key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from radiant import cache_keys, redis_wire
from radiant.invalidation import CHANGING, VERSION_TTL, token
from radiant.tenancy import OPERATOR_DB, tenant_db
from tenants.models import ApiKey

logger = logging.getLogger("tenants.auth")

KEY_SCHEME = "rad"
CHECK_LENGTH = 12  # hex digits of the keyed check a key ends with: 48 bits
AUTH_CACHE_TTL = 300  # a safety net: invalidation is by generation, on commit
KNOWN_MAX = 10_000


# --- who is calling -----------------------------------------------------------------------


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

    @cached_property
    def tenant(self) -> str:
        """The tenant id as text (for log lines and keys; made once per remembered row)."""
        return str(self.tenant_id)


def effective_limits(*, rps, burst, daily_quota, rps_override=None, burst_override=None, daily_quota_override=None):
    """A tenant's own overrides win over its tier's; a daily override of 0 means unlimited."""
    rps = rps_override or rps
    burst = max(burst_override or burst, rps)
    if daily_quota_override is not None:
        daily_quota = daily_quota_override or None
    return Limits(rps=rps, burst=burst, daily_quota=daily_quota)


# --- the key itself -----------------------------------------------------------------------


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_check(unchecked: str) -> str:
    """The check a key ends with: a MAC of the rest under a secret only the server holds.

    A guessed key fails it with certainty short of 2⁻⁴⁸, so guesses are refused without a
    lookup and an address that guesses is limited by its failures alone, while a real key
    is never held back for the address it comes from."""
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


@dataclass(frozen=True)
class Key:
    """A well-formed key as the server knows it: its prefix and hash (never the key)."""

    prefix: str
    hash: str

    @classmethod
    def parse(cls, raw_key: str) -> Key:
        """401 for a malformed key or a failed check. A pure function of the key, so the keys
        seen lately are remembered (bounded, in memory only): the check and the hash are a
        few microseconds of every request otherwise."""
        key = _parsed.get(raw_key)
        if key is None:
            key = cls(api_key_parse(raw_key), api_key_hash(raw_key))
            if len(_parsed) >= KNOWN_MAX:
                _parsed.clear()
            _parsed[raw_key] = key
        return key


_parsed: dict[str, Key] = {}


# --- rows ---------------------------------------------------------------------------------

_LOOKUP_COLUMNS = (
    "key_id", "key_prefix", "expires_at", "revoked_at", "tenant_id", "tenant_slug", "tenant_name",
    "tenant_status", "tier_name", "rps", "burst", "daily_quota", "rps_override", "burst_override",
    "daily_quota_override",
)


def _lookup(key: Key) -> dict | None:
    alias = tenant_db()
    if alias != OPERATOR_DB:
        # The web role cannot read api keys across tenants; a SECURITY DEFINER function
        # answers for exactly one (prefix, hash) pair, so no key can be enumerated.
        # (The alias binds values server-side: the hash never stands in a statement's text.)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT * FROM public.radiant_api_key_lookup(%s, %s)", [key.prefix, key.hash])
            row = cursor.fetchone()
        return dict(zip(_LOOKUP_COLUMNS, row)) if row else None
    found = ApiKey.all_tenants.select_related("tenant__tier").filter(prefix=key.prefix, key_hash=key.hash).first()
    if found is None:
        return None
    tenant, tier = found.tenant, found.tenant.tier
    return {
        "key_id": found.id, "key_prefix": found.prefix, "expires_at": found.expires_at,
        "revoked_at": found.revoked_at, "tenant_id": tenant.id, "tenant_slug": tenant.slug,
        "tenant_name": tenant.name, "tenant_status": tenant.status, "tier_name": tier.name,
        "rps": tier.rps, "burst": tier.burst, "daily_quota": tier.daily_quota,
        "rps_override": tenant.rps_override, "burst_override": tenant.burst_override,
        "daily_quota_override": tenant.daily_quota_override,
    }


def _principal(row) -> TenantPrincipal:
    return TenantPrincipal(
        tenant_id=row["tenant_id"], slug=row["tenant_slug"], name=row["tenant_name"],
        status=row["tenant_status"], tier=row["tier_name"],
        limits=effective_limits(
            rps=row["rps"], burst=row["burst"], daily_quota=row["daily_quota"],
            rps_override=row["rps_override"], burst_override=row["burst_override"],
            daily_quota_override=row["daily_quota_override"],
        ),
        key_id=row["key_id"], key_prefix=row["key_prefix"],
    )


@dataclass(frozen=True)
class Known:
    """A key's row as of one generation of its tenant (None: just read from the database,
    needing no confirmation), and until when it may be used."""

    generation: object
    row: dict
    principal: TenantPrincipal
    expires: float  # time.time(): the cache entry's own expiry (the safety net)
    touch_key: str  # present while the key's last use was recorded recently

    @property
    def confirmation(self) -> tuple[str, object] | None:
        """``(cache key, value)`` the limiter must find for this row to be current."""
        if self.generation is None:
            return None
        return cache_keys.auth_generation(self.principal.tenant), self.generation


def _known(key: Key, generation, row, expires) -> Known:
    principal = _principal(row)
    return Known(generation, row, principal, expires, cache_keys.auth_touched(principal.tenant, key.hash))


_remembered: dict[str, Known] = {}


def _remember(key: Key, known: Known) -> None:
    if len(_remembered) >= KNOWN_MAX:
        _remembered.clear()  # a hint, not a source of truth: forgetting is always safe
    _remembered[key.hash] = known


def _generation_of(tenant_id):
    """The tenant's current auth generation, created if it has none (first use, eviction);
    None while a change to the tenant is being made (nothing may be cached under it)."""
    key = cache_keys.auth_generation(tenant_id)
    generation = cache.get(key)
    if generation == CHANGING:
        return None
    if not isinstance(generation, int):  # none yet (or not a token: replace it)
        if generation is None:
            cache.add(key, token(), VERSION_TTL)
        else:
            cache.set(key, token(), VERSION_TTL)
        generation = cache.get(key)
    return generation if isinstance(generation, int) else None


def remembered(key: Key) -> Known | None:
    """The row this process remembers for ``key``, if not past its entry's expiry."""
    known = _remembered.get(key.hash)
    if known is not None and known.expires > time.time():
        return known
    return None


def cached(key: Key) -> Known | None:
    """The row of ``key``'s Redis entry (not yet confirmed current), or None."""
    try:
        entry = cache.get(cache_keys.auth_entry(key.hash))
    except Exception:
        logger.warning("auth cache unavailable; authenticating from the database")
        return None
    if not isinstance(entry, dict) or "expires" not in entry or entry["expires"] <= time.time():
        return None
    return _known(key, entry["generation"], entry["row"], entry["expires"])


def load(key: Key, *, cache_it: bool = True) -> Known:
    """The row from the database (and cached, when ``cache_it`` and the cache answers);
    401 for an unknown key."""
    row = _lookup(key)
    if row is None:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if not cache_it:
        return _known(key, None, row, 0.0)
    try:
        generation = _generation_of(row["tenant_id"])
    except Exception:
        logger.warning("auth cache unavailable; authenticating from the database")
        return _known(key, None, row, 0.0)
    if generation is None:  # a change is under way: answer from the database, cache nothing
        return _known(key, None, row, 0.0)
    row = _lookup(key)  # read after the generation: a change committed meanwhile makes it stale
    if row is None:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    expires = time.time() + AUTH_CACHE_TTL
    try:
        cache.set(cache_keys.auth_entry(key.hash), {"generation": generation, "row": row, "expires": expires},
                  AUTH_CACHE_TTL)
    except Exception:
        logger.warning("auth cache unavailable; not caching the key")
        return _known(key, None, row, 0.0)
    known = _known(key, generation, row, expires)
    if redis_wire.backend() is not None:
        _remember(key, known)
    return _known(key, None, row, expires)  # just read: no confirmation needed


def candidates(key: Key) -> Iterator[Known]:
    """``key``'s row from each source in turn (see above); asking for the next one means the
    last one's confirmation failed. The last comes from the database and needs none."""
    known = remembered(key)
    if known is not None:
        yield known
        _remembered.pop(key.hash, None)
    known = cached(key)
    if known is not None:
        yield known
    yield load(key)


def accept(key: Key, known: Known, *, touch_due: bool = False, now: datetime | None = None) -> TenantPrincipal:
    """``known`` is current: refuse a revoked or expired key (401), remember the row, and
    record the key's use when it is due."""
    row = known.row
    if row["revoked_at"] is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if row["expires_at"] is not None and row["expires_at"] <= (now or timezone.now()):
        raise exceptions.AuthenticationFailed("This API key has expired.")
    if known.generation is not None and redis_wire.backend() is not None:
        _remember(key, known)
    if touch_due:
        _touch(known)
    return known.principal


def _touch(known: Known) -> None:
    """Record that a key was used, at most once per ``API_KEY_TOUCH_INTERVAL``: the gate is
    set first, so other requests skip it; the write goes to a task, off the request path
    (in-process if the broker cannot take it)."""
    try:
        cache.set(known.touch_key, 1, settings.API_KEY_TOUCH_INTERVAL)
    except Exception:  # the cache being down must not fail the request, nor write every time
        logger.warning("cache unavailable; skipping last_used_at update")
        return
    # Celery loads with the first key use, not with the app (a Lambda cold start).
    from radiant.tasks import send_or_run
    from tenants.tasks import api_key_mark_used

    principal = known.principal
    send_or_run(api_key_mark_used, {
        "tenant_id": str(principal.tenant_id), "key_id": principal.key_id, "at": timezone.now().isoformat(),
    })


def principal_for(raw_key: str, *, now: datetime | None = None) -> TenantPrincipal:
    """The principal of a raw key, confirmed against its tenant's generation with a cache
    read (no rate limit is counted): for code outside the tenant API that holds a key."""
    key = Key.parse(raw_key)
    known = cached(key)
    if known is not None:
        try:
            current = cache.get(cache_keys.auth_generation(known.principal.tenant_id)) == known.generation
        except Exception:
            current = False
        if current:
            return accept(key, known, now=now)
    return accept(key, load(key), now=now)


# --- the request's side -------------------------------------------------------------------


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``."""

    keyword = "Bearer"

    def credentials(self, request) -> Key:
        """The request's key; 401 without one, or with a malformed header or key."""
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            raise exceptions.NotAuthenticated("Authentication credentials were not provided.")
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise exceptions.AuthenticationFailed("Malformed Authorization header; expected 'Bearer <key>'.")
        return Key.parse(parts[1])

    candidates = staticmethod(candidates)
    load = staticmethod(load)
    accept = staticmethod(accept)

    def authenticate(self, request):
        """DRF's entry point, for views other than the tenant API's."""
        if not request.META.get("HTTP_AUTHORIZATION"):
            return None
        header = request.META["HTTP_AUTHORIZATION"].split()
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; expected 'Bearer <key>'.")
        return principal_for(header[1]), None

    def authenticate_header(self, request):
        return self.keyword

"""Rate limits (DESIGN.md §5): a token bucket and a daily quota per tenant, and a per-IP
budget for unauthenticated and failed requests.

How a request is counted
------------------------
A tenant has a token bucket per scope (capacity = burst, refilled at ``rps`` tokens a
second; ``default`` is the whole tenant API) and a quota of requests per UTC day shared by
its scopes. Every authenticated request costs one token and one unit of the quota. Both are
checked and committed together: a request is admitted only if both allow it, and a refused
request consumes nothing from either. Over the whole life of a bucket no more than
``burst + rps·t`` requests are admitted in any window of ``t`` seconds.

Backends
--------
- **Redis** (the default cache is django-redis): one Lua script (``_SCRIPT``), one round
  trip (``EVALSHA``, reloaded on ``NOSCRIPT``). It reads the clock with ``TIME`` so app
  processes with skewed clocks agree, refills, checks both limits and writes both keys, each
  with its expiry, in one atomic step. Keys expire as soon as they carry no information: the
  bucket once it would be full again (an absent bucket *is* a full one; for the seed tiers
  that is ≤ 2 s), the daily counter a minute after its UTC day ends. No key is ever written
  without an expiry. The two keys share the tenant id as a hash tag (see
  ``radiant.cache_keys``), so the script is legal on Redis Cluster. Needs Redis ≥ 5.
- **In-process** (any other cache, e.g. the embedded default's LocMemCache): the same
  arithmetic under a lock. Exact within one process; processes do not share it.

State is integers: tokens in millionths and time in microseconds, so refill is exact up to
a floor of under a millionth of a token per admitted request (never in the client's favour).

Where the limiter cannot be reached, ``RATELIMIT_FAIL_OPEN`` decides: admit the request (the
default; counted in ``stats()`` and logged at most every 10 s per process) or answer 503
``service_unavailable``.

Headers
-------
Every tenant API response once the limiter has run (success or error, 429 included):

- ``X-RateLimit-Limit``: the bucket's capacity (burst);
- ``X-RateLimit-Remaining``: whole tokens left after this request (requests that may be sent
  at once right now);
- ``X-RateLimit-Reset``: seconds until the bucket is full again;
- ``X-RateLimit-Daily-Limit``, ``-Daily-Remaining``, ``-Daily-Reset`` (seconds to the next
  UTC midnight) when the tenant has a daily quota;
- on 429 also ``Retry-After`` (seconds): until the next token for ``rate_limited``, until
  the next UTC midnight for ``daily_quota_exceeded``.

Responses to requests that did not authenticate carry the first three for the client
address's bucket (below). When the limiter is unreachable and fails open there is nothing
to report, and no headers are sent.

Per-IP limit
------------
Requests without credentials, with a malformed header or key, or with a key that does not
authenticate (unknown, revoked, expired) each cost one token from the client address's
bucket (``RATELIMIT_IP_BURST``, refilled at ``RATELIMIT_IP_RPS``; same script, no daily
key). Requests with a valid key cost the address nothing. Over budget: 429 ``rate_limited``.

No address is ever refused on the strength of one process's memory, and a valid key never
for its address: behind a proxy or a company's NAT many clients share one. Guesses cost no
database work anyway: a key ends with a keyed check (``tenants.selectors.api_key_check``),
so a guessed key is refused before any lookup, and its address is charged in the shared
limiter like any other failure.

The client address is ``REMOTE_ADDR`` unless ``TRUSTED_PROXY_COUNT`` says how many proxies in
front of the app append to ``X-Forwarded-For`` (see ``client_ip``). IPv6 clients are counted
per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import NoScriptError, RedisError
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from radiant import cache as response_cache
from radiant import cache_keys, metrics, redis_wire
from radiant.problems import DailyQuotaExceeded, Problem, RateLimited, ServiceUnavailable

logger = logging.getLogger(__name__)

DEFAULT_SCOPE = "default"
CACHE_ALIAS = "default"

MICRO = 1_000_000  # tokens are kept in millionths, time in microseconds
DAY = 86_400
DAILY_KEY_GRACE = 60  # seconds a daily counter outlives its UTC day
BUCKET_KEY_GRACE_MS = 1_000  # milliseconds a bucket outlives the moment it is full again

# reasons, as the script returns them
ADMITTED, BUCKET_EMPTY, QUOTA_SPENT = 0, 1, 2
AUTH_STALE = 3  # the caller's auth row is out of date; nothing was counted

# KEYS[1] bucket hash {t = tokens (millionths), u = last update (µs, Redis TIME)}
# KEYS[2] daily hash {d = UTC day number, n = requests admitted that day}; only with a quota
# KEYS[#KEYS] the tenant's auth generation, only with ARGV[4]
# ARGV    rate (tokens/s), burst (tokens), daily quota (0: none)
#         [, the auth generation the caller's key was read under]
# returns {reason, whole tokens left, µs until full, µs until next token, used today,
#          s until next UTC midnight}, or {AUTH_STALE, 0, 0, 0, 0, 0} if ARGV[4] is not the
#          tenant's generation any more (nothing is counted: the caller re-authenticates).
# Mirrors _evaluate() below (the generation check aside); change both together.
_SCRIPT = """
if ARGV[4] and redis.call('GET', KEYS[#KEYS]) ~= ARGV[4] then
  return {AUTH_STALE, 0, 0, 0, 0, 0}
end
local MICRO, DAY = 1000000, 86400
local clock = redis.call('TIME')
local now_s = tonumber(clock[1])
local now = now_s * MICRO + tonumber(clock[2])
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2]) * MICRO
local quota = tonumber(ARGV[3])

local tokens = capacity
local bucket = redis.call('HMGET', KEYS[1], 't', 'u')
if bucket[1] and bucket[2] then
  local elapsed = math.max(0, now - tonumber(bucket[2]))
  tokens = math.min(capacity, tonumber(bucket[1]) + math.floor(elapsed * rate))
end

local day = math.floor(now_s / DAY)
local used = 0
if quota > 0 then
  local daily = redis.call('HMGET', KEYS[2], 'd', 'n')
  if daily[1] and daily[2] and tonumber(daily[1]) == day then used = tonumber(daily[2]) end
end

local reason = 0
if quota > 0 and used >= quota then
  reason = 2
elseif tokens < MICRO then
  reason = 1
end

if reason == 0 then
  tokens = tokens - MICRO
  redis.call('HSET', KEYS[1], 't', string.format('%.0f', tokens), 'u', string.format('%.0f', now))
  local ttl_ms = math.ceil((capacity - tokens) / rate / 1000) + BUCKET_GRACE_MS
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
  if quota > 0 then
    used = used + 1
    redis.call('HSET', KEYS[2], 'd', string.format('%.0f', day), 'n', string.format('%.0f', used))
    redis.call('EXPIREAT', KEYS[2], string.format('%.0f', (day + 1) * DAY + DAILY_GRACE))
  end
end

local full_in, retry_in = 0, 0
if tokens < capacity then full_in = math.ceil((capacity - tokens) / rate) end
if tokens < MICRO then retry_in = math.ceil((MICRO - tokens) / rate) end
return {reason, math.floor(tokens / MICRO), full_in, retry_in, used, (day + 1) * DAY - now_s}
""".replace("BUCKET_GRACE_MS", str(BUCKET_KEY_GRACE_MS)).replace("DAILY_GRACE", str(DAILY_KEY_GRACE)).replace(
    "AUTH_STALE", "3"
)
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()


def _evaluate(now_us, bucket, daily, *, rate, burst, quota):
    """The script's arithmetic in Python, for the in-process backend.

    ``bucket`` is ``(tokens, updated_us)`` or None (full); ``daily`` is ``(day, used)`` or
    None. Returns ``(result, new_bucket, bucket_expires_us, new_daily, daily_expires_us)``;
    the ``new_*`` values are None when nothing is to be written.
    """
    capacity = burst * MICRO
    now_s = now_us // MICRO
    tokens = capacity
    if bucket is not None:
        elapsed = max(0, now_us - bucket[1])
        tokens = min(capacity, bucket[0] + math.floor(elapsed * rate))
    day = now_s // DAY
    used = daily[1] if quota and daily is not None and daily[0] == day else 0
    if quota and used >= quota:
        reason = QUOTA_SPENT
    elif tokens < MICRO:
        reason = BUCKET_EMPTY
    else:
        reason = ADMITTED
    new_bucket = bucket_expires = new_daily = daily_expires = None
    if reason == ADMITTED:
        tokens -= MICRO
        new_bucket = (tokens, now_us)
        bucket_expires = now_us + (math.ceil((capacity - tokens) / rate / 1000) + BUCKET_KEY_GRACE_MS) * 1000
        if quota:
            used += 1
            new_daily = (day, used)
            daily_expires = ((day + 1) * DAY + DAILY_KEY_GRACE) * MICRO
    full_in = math.ceil((capacity - tokens) / rate) if tokens < capacity else 0
    retry_in = math.ceil((MICRO - tokens) / rate) if tokens < MICRO else 0
    result = (reason, tokens // MICRO, full_in, retry_in, used, (day + 1) * DAY - now_s)
    return result, new_bucket, bucket_expires, new_daily, daily_expires


@dataclass(frozen=True)
class Decision:
    """What the limiter said about one request, and what the client is told."""

    allowed: bool
    reason: int  # ADMITTED, BUCKET_EMPTY or QUOTA_SPENT
    limit: int  # bucket capacity (burst)
    remaining: int  # whole tokens left
    reset: int  # seconds until the bucket is full
    retry_after: int  # seconds; 0 when admitted
    rate: float
    daily_limit: int | None = None
    daily_remaining: int | None = None
    daily_reset: int | None = None  # seconds until the next UTC midnight
    next_token_us: int = 0  # µs until the bucket holds a whole token again (0: it does)
    full_us: int = 0  # µs until the bucket is full

    @classmethod
    def from_result(cls, result, *, rate, burst, quota):
        reason, tokens, full_in_us, retry_in_us, used, midnight_in = (int(v) for v in result)
        if reason == QUOTA_SPENT:
            retry_after = midnight_in
        elif reason == BUCKET_EMPTY:
            retry_after = max(1, math.ceil(retry_in_us / MICRO))
        else:
            retry_after = 0
        return cls(
            allowed=reason == ADMITTED,
            reason=reason,
            limit=burst,
            remaining=tokens,
            reset=math.ceil(full_in_us / MICRO),
            retry_after=retry_after,
            rate=rate,
            daily_limit=quota or None,
            daily_remaining=max(0, quota - used) if quota else None,
            daily_reset=midnight_in if quota else None,
            next_token_us=retry_in_us,
            full_us=full_in_us,
        )

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if self.daily_limit is not None:
            headers["X-RateLimit-Daily-Limit"] = str(self.daily_limit)
            headers["X-RateLimit-Daily-Remaining"] = str(self.daily_remaining)
            headers["X-RateLimit-Daily-Reset"] = str(self.daily_reset)
        return headers


# --- backends -----------------------------------------------------------------------------


class RedisLimiter:
    """The Lua script on the default cache's Redis: exact across every process."""

    def __init__(self, cache=None):
        self.cache = caches[CACHE_ALIAS] if cache is None else cache

    def check(self, bucket_key, daily_key, *, rate, burst, quota=None) -> Decision:
        make_key = self.cache.make_key
        if quota:
            keys = (2, make_key(bucket_key), make_key(daily_key))
        else:
            keys = (1, make_key(bucket_key))
        client = self.cache.client.get_client(write=True)
        (result,) = redis_wire.round_trip(client, [("EVALSHA", _SCRIPT_SHA, *keys, rate, burst, quota or 0)])
        result = self._script_result(client, result, keys, rate, burst, quota or 0)
        return Decision.from_result(result, rate=rate, burst=burst, quota=quota)

    @staticmethod
    def _script_result(client, result, keys, *args):
        if isinstance(result, NoScriptError):  # first use on this server, or after SCRIPT FLUSH / a failover
            client.script_load(_SCRIPT)
            return client.evalsha(_SCRIPT_SHA, *keys, *args)
        if isinstance(result, Exception):
            raise result
        return result

    def check_and_read(self, bucket_key, daily_key, *, rate, burst, quota=None, read=(), generation=None):
        """``check()`` and reads of cache keys in ONE round trip.

        ``read`` is a list of key groups, each read with one MGET. All commands go in one
        write (``radiant.redis_wire``; like a pipeline, not a transaction: the script is
        atomic by itself and the reads need no isolation from it). With ``generation`` =
        ``(key, value)`` the script first checks that the key (a tenant's auth generation,
        in the bucket's hash slot) still holds ``value``, and counts nothing if not.
        Returns ``(decision, values)``: ``decision`` is None when the generation had moved;
        ``values`` as the cache's ``get_many`` of all the keys would return them, or None if
        a read failed.
        """
        make_key = self.cache.make_key
        keys = [make_key(bucket_key)]
        if quota:
            keys.append(make_key(daily_key))
        args = [rate, burst, quota or 0]
        if generation is not None:
            keys.append(make_key(generation[0]))
            args.append(generation[1])
        keys = (len(keys), *keys)
        client = self.cache.client.get_client(write=True)
        result, *replies = redis_wire.round_trip(
            client, [("EVALSHA", _SCRIPT_SHA, *keys, *args), *response_cache.mget_commands(self.cache, read)]
        )
        result = self._script_result(client, result, keys, *args)
        try:
            values = response_cache.read_replies(self.cache, read, replies)
        except RedisError:
            values = None
        if int(result[0]) == AUTH_STALE:
            return None, values
        return Decision.from_result(result, rate=rate, burst=burst, quota=quota), values

    def ttls(self, *keys) -> dict[str, int]:
        """Remaining lifetime (ms) of each key as stored: -2 absent, -1 no expiry."""
        client = self.cache.client.get_client(write=True)
        return {key: client.pttl(self.cache.make_key(key)) for key in keys}


class MemoryLimiter:
    """The same limits in this process's memory, under one lock. Exact within a process."""

    SWEEP_EVERY = 1024

    def __init__(self, clock=time.time_ns):
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, tuple[tuple, int]] = {}  # key -> (value, expires_at_us)
        self._checks = 0

    def _get(self, key, now_us):
        entry = self._data.get(key)
        if entry is None or entry[1] <= now_us:
            return None
        return entry[0]

    def check(self, bucket_key, daily_key, *, rate, burst, quota=None) -> Decision:
        with self._lock:
            now_us = self._clock() // 1000
            result, new_bucket, bucket_expires, new_daily, daily_expires = _evaluate(
                now_us,
                self._get(bucket_key, now_us),
                self._get(daily_key, now_us) if quota else None,
                rate=rate, burst=burst, quota=quota or 0,
            )
            if new_bucket is not None:
                self._data[bucket_key] = (new_bucket, bucket_expires)
            if new_daily is not None:
                self._data[daily_key] = (new_daily, daily_expires)
            self._checks += 1
            if self._checks % self.SWEEP_EVERY == 0:
                self._data = {k: v for k, v in self._data.items() if v[1] > now_us}
        return Decision.from_result(result, rate=rate, burst=burst, quota=quota)

    def ttls(self, *keys) -> dict[str, int]:
        now_us = self._clock() // 1000
        with self._lock:
            return {
                key: (entry[1] - now_us) // 1000 if (entry := self._data.get(key)) and entry[1] > now_us else -2
                for key in keys
            }

    def clear(self):
        with self._lock:
            self._data.clear()


_memory_limiter = MemoryLimiter()


def local_reset() -> None:
    """Forget this process's limiter state (tests; Redis state goes with the cache)."""
    _memory_limiter.clear()


def limiter() -> RedisLimiter | MemoryLimiter:
    """The backend for the current cache configuration (decided per call: cheap, and
    settings overrides in tests take effect)."""
    cache = response_cache.redis_backend()  # the default cache (CACHE_ALIAS), looked up once per thread
    if cache is not None:
        return RedisLimiter(cache)
    return _memory_limiter


# --- when Redis is unreachable ------------------------------------------------------------

_stats_lock = threading.Lock()
_stats = {"unavailable": 0}
_last_warning = [0.0]
WARN_EVERY = 10.0  # seconds


def stats() -> dict[str, int]:
    """Counters of this process: ``unavailable`` = checks that could not reach the limiter."""
    with _stats_lock:
        return dict(_stats)


def _guarded(check):
    """Run a limiter check; if its store is unreachable, fail open or closed as configured.

    Returns the Decision, or None when the request is admitted unchecked.
    """
    try:
        return check()
    except RedisError as exc:
        fail_open = settings.RATELIMIT_FAIL_OPEN
        now = time.monotonic()
        with _stats_lock:
            _stats["unavailable"] += 1
            count = _stats["unavailable"]
            warn = now - _last_warning[0] >= WARN_EVERY
            if warn:
                _last_warning[0] = now
        metrics.redis_error("ratelimit")
        if warn:
            logger.warning(
                "rate limiter unavailable (%s); %s (%d unchecked so far in this process)",
                exc.__class__.__name__,
                "admitting requests unchecked" if fail_open else "refusing requests with 503",
                count,
            )
        if fail_open:
            metrics.fail_open_admission()
            return None
        raise ServiceUnavailable(
            "Rate limiting is temporarily unavailable; retry shortly.", headers={"Retry-After": "1"}
        ) from exc


# --- where decisions live on a request ----------------------------------------------------

_REQUEST_ATTR = "radiant_ratelimit"


def _remember(request, decision: Decision) -> None:
    setattr(getattr(request, "_request", request), _REQUEST_ATTR, decision)


def request_decision(request) -> Decision | None:
    """The decision the limiter made for this request (tenant, or client address)."""
    return getattr(getattr(request, "_request", request), _REQUEST_ATTR, None)


def apply_headers(request, response) -> None:
    """Put the rate-limit headers of this request's decision on its response."""
    decision = request_decision(request)
    if decision is not None:
        for name, value in decision.headers().items():
            response[name] = value


# --- tenants ------------------------------------------------------------------------------


def tenant_limits(principal):
    """A tenant's effective limits (its overrides, else its tier), as authentication read
    them for this request. The one place the limiter learns them: a cache of principals
    must drop its entries when a Tier or Tenant row changes so edits apply next request."""
    return principal.limits


def tenant_check(principal, *, scope: str = DEFAULT_SCOPE) -> Decision | None:
    """Check and count one request of ``principal``'s tenant (None: limiter unreachable,
    failing open)."""
    limits = tenant_limits(principal)
    return _guarded(
        lambda: limiter().check(
            cache_keys.ratelimit_tenant(principal.tenant_id, scope),
            cache_keys.ratelimit_tenant_daily(principal.tenant_id),
            rate=limits.rps,
            burst=limits.burst,
            quota=limits.daily_quota,
        )
    )


def tenant_check_and_read(principal, read, *, scope: str = DEFAULT_SCOPE) -> tuple[Decision | None, dict | None]:
    """``tenant_check`` and, where the limiter is Redis, reads of the cache key groups
    ``read`` in the same round trip. Returns ``(decision, values)``; ``values`` (as
    ``cache.get_many`` returns them) is None when they were not read: the in-process
    limiter, or the read failed, or the limiter is unreachable."""
    backend = limiter()
    if not isinstance(backend, RedisLimiter):
        return tenant_check(principal, scope=scope), None
    limits = tenant_limits(principal)
    outcome = _guarded(
        lambda: backend.check_and_read(
            cache_keys.ratelimit_tenant(principal.tenant_id, scope),
            cache_keys.ratelimit_tenant_daily(principal.tenant_id),
            rate=limits.rps,
            burst=limits.burst,
            quota=limits.daily_quota,
            read=read,
        )
    )
    return (None, None) if outcome is None else outcome


def refusal(decision: Decision):
    """The 429 problem for a refused tenant request."""
    headers = {"Retry-After": str(decision.retry_after)}
    if decision.reason == QUOTA_SPENT:
        return DailyQuotaExceeded(
            f"The daily quota of {decision.daily_limit} requests is used up; "
            f"it resets at 00:00 UTC, in {decision.retry_after} seconds.",
            headers=headers,
        )
    return RateLimited(
        f"Rate limit exceeded ({decision.rate:g} requests per second, bursts of "
        f"{decision.limit}); retry in {decision.retry_after} seconds.",
        headers=headers,
    )


class TenantRateThrottle(BaseThrottle):
    """DRF throttle for the tenant API: the tenant's bucket (scope from the view's
    ``throttle_scope``, else ``default``) and its daily quota, in one atomic check.

    When authentication already made the check for this request (``confirmer``: in the
    same round trip that confirmed the key), its decision is applied, not made again."""

    def allow_request(self, request, view):
        principal = request.user
        if not settings.RATELIMIT_ENABLED or not getattr(principal, "is_authenticated", False):
            return True  # unauthenticated requests are limited per address (ip_failure)
        raw = getattr(request, "_request", request)
        if hasattr(raw, _CHECKED):
            decision = getattr(raw, _CHECKED)
        else:
            scope = getattr(view, "throttle_scope", None) or DEFAULT_SCOPE
            plan = _cache_plan(view, request, principal.tenant_id)
            if plan is None:
                decision = tenant_check(principal, scope=scope)
            else:  # the response's cache keys ride along with the check
                decision, values = tenant_check_and_read(principal, [plan.keys], scope=scope)
                if values is not None:
                    response_cache.prefetched(request, plan.keys, values)
        if decision is None:
            return True  # fail open
        _remember(request, decision)
        if not decision.allowed:
            raise refusal(decision)
        return True


def _cache_plan(view, request, tenant_id):
    """The response-cache plan the view's handler will serve for this request, if it says
    (``TenantAPIView.cache_plan``). Input the handler will refuse means no plan: the
    handler reports the error itself, after the check."""
    hook = getattr(view, "cache_plan", None)
    if hook is None or request.method not in ("GET", "HEAD"):
        return None
    try:
        plan = hook(request, tenant_id)
    except (exceptions.APIException, Problem):
        return None
    request.__dict__[_PLAN] = (str(tenant_id), plan)  # for TenantAPIView.planned()
    return plan


_PLAN = "_radiant_cache_plan"


# --- one round trip for a warm request ---------------------------------------------
#
# Authentication remembers keys it has seen (tenants/selectors.py); such a key is only
# trusted once Redis confirms its tenant's auth generation has not moved. ``confirmer``
# makes that confirmation the same round trip as the tenant's throttle check (the script
# checks the generation first and counts nothing if it moved) and the reads of the key's
# last-use gate and the response's cache entry. The decision is kept on the request for
# TenantRateThrottle; a stale or unconfirmable key goes the long way round.

_CHECKED = "radiant_tenant_checked"


_throttling_views: dict[type, bool] = {}


def _throttles(view) -> bool:
    """Whether the view checks the tenant's rate limit (known per view class)."""
    if view is None:
        return False
    cls = type(view)
    if cls not in _throttling_views:
        _throttling_views[cls] = any(
            isinstance(throttle, type) and issubclass(throttle, TenantRateThrottle)
            for throttle in getattr(view, "throttle_classes", ())
        )
    return _throttling_views[cls]


def confirmer(request):
    """For ``api_key_authenticate(confirm=...)``: a function ``(principal, generation,
    touch_key) -> (current, touch_due)`` (None: Redis could not be asked), or None where
    the limiter is not Redis."""
    backend = limiter()
    if not isinstance(backend, RedisLimiter):
        return None
    view = (getattr(request, "parser_context", None) or {}).get("view")
    throttled = settings.RATELIMIT_ENABLED and _throttles(view)

    def confirm(principal, generation, touch_key):
        tenant = str(principal.tenant_id)  # formatted once for every key below
        plan = _cache_plan(view, request, tenant)
        read = [plan.keys, (touch_key,)] if plan is not None else [(touch_key,)]
        generation_key = cache_keys.auth_generation(tenant)
        try:
            if throttled:
                limits = tenant_limits(principal)
                scope = getattr(view, "throttle_scope", None) or DEFAULT_SCOPE
                decision, values = backend.check_and_read(
                    cache_keys.ratelimit_tenant(tenant, scope),
                    cache_keys.ratelimit_tenant_daily(tenant),
                    rate=limits.rps, burst=limits.burst, quota=limits.daily_quota,
                    read=read, generation=(generation_key, generation),
                )
                current = decision is not None
            else:
                values = response_cache.get_many((generation_key,), *read)
                current = values.get(generation_key) == generation
        except RedisError:
            return None  # the long way round: there, an unreachable limiter fails open or closed
        if values is not None and plan is not None:
            response_cache.prefetched(request, plan.keys, values)
        if current and throttled:
            setattr(getattr(request, "_request", request), _CHECKED, decision)
        return current, values is not None and touch_key not in values

    return confirm


# --- client addresses ---------------------------------------------------------------------


def _address(value: str | None) -> str | None:
    """A canonical client address, IPv6 reduced to its /64; None if ``value`` is not one."""
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_ip(request) -> str:
    """The address a request came from.

    ``TRUSTED_PROXY_COUNT`` = N > 0 means N proxies in front of the app each append the
    address they saw to ``X-Forwarded-For``: the client is the Nth entry from the right
    (entries left of it are whatever the client sent, and are ignored). With 0 (default)
    ``X-Forwarded-For`` is ignored. A header with fewer than N entries, or whose Nth entry is
    not an IP address, falls back to ``REMOTE_ADDR``.
    """
    meta = request.META
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted > 0:
        hops = meta.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(hops) >= trusted:
            address = _address(hops[-trusted])
            if address:
                return address
    return _address(meta.get("REMOTE_ADDR")) or "unknown"


def client_ip_address(request) -> str | None:
    """``client_ip`` as one address (an IPv6 client's /64 by its first address), None if
    unknown: for records that store an address, such as the admin's sign-in lockouts."""
    address = client_ip(request)
    if address == "unknown":
        return None
    return address.split("/", 1)[0]


def _ip_refusal(decision: Decision):
    # A DRF exception (not a Problem): raised during authentication, DRF then marks the
    # request unauthenticated instead of retrying authentication on the next request.user.
    return exceptions.Throttled(
        wait=decision.retry_after,
        detail="Too many unauthenticated or failed requests from this address.",
    )


def ip_failure(request) -> None:
    """A request that did not authenticate: charge its address one token, in the shared
    limiter. Over the budget, answer 429 instead of the authentication error."""
    if not settings.RATELIMIT_ENABLED:
        return
    address = client_ip(request)
    decision = _guarded(
        lambda: limiter().check(
            cache_keys.ratelimit_ip(address), None,
            rate=settings.RATELIMIT_IP_RPS, burst=settings.RATELIMIT_IP_BURST,
        )
    )
    if decision is None:
        return
    _remember(request, decision)
    if not decision.allowed:
        raise _ip_refusal(decision)

"""Where requests are counted: ``check`` on the default cache's Redis (the script, exact
across every process) or, in the embedded default, in this process's memory.

One call, one round trip: ``check(limit, confirm=..., read=...)`` counts a request against
``limit``, first confirms that a key still holds a value (the caller's auth generation: if
it moved, nothing is counted), and reads cache keys in the same write to Redis. What to
confirm and what to read are plain keys and values; this module knows nothing of API keys
or cached responses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import NoScriptError

from radiant import metrics, redis_wire
from radiant.problems import ServiceUnavailable
from radiant.ratelimit.script import AUTH_STALE, SCRIPT, SHA, Decision, evaluate

logger = logging.getLogger("radiant.ratelimit")


@dataclass(frozen=True)
class Limit:
    """A budget to count one request against: a token bucket, and a daily quota if any."""

    bucket_key: str
    rate: float  # tokens a second
    burst: int  # bucket capacity
    daily_key: str | None = None
    quota: int | None = None  # requests per UTC day; None: no quota


@dataclass(frozen=True)
class Outcome:
    """What one ``check`` found."""

    decision: Decision | None  # None: nothing was counted (no limit, a failed confirmation, or unreachable)
    confirmed: bool | None  # the confirmation held; None when none was asked or Redis was unreachable
    values: dict | None  # the keys read, as ``cache.get_many`` returns them; None if the reads failed
    unreachable: bool = False  # the store could not be reached and the request is admitted unchecked


class RedisBackend:
    """The script on the default cache's Redis (a single node or a cluster)."""

    def __init__(self, cache):
        self.cache = cache

    def check(self, limit: Limit | None, confirm, read) -> Outcome:
        cache = self.cache
        commands, script = [], None
        if limit is not None:
            keys = [limit.bucket_key]
            if limit.quota:
                keys.append(limit.daily_key)
            args = [limit.rate, limit.burst, limit.quota or 0]
            if confirm is not None:
                keys.append(confirm[0])
                args.append(confirm[1])
            script = (len(keys), *map(cache.make_key, keys), *args)
            commands.append(("EVALSHA", SHA, *script))
        elif confirm is not None:
            read = ((confirm[0],), *read)
        planned = redis_wire.reads(cache, read)
        replies = redis_wire.round_trip(cache, commands + [command for _keys, command in planned])
        try:
            values = redis_wire.decode_reads(cache, planned, replies[len(commands):])
        except redis_wire.ERRORS:
            values = None
        if limit is None:
            if confirm is None:
                return Outcome(None, None, values)
            return Outcome(None, None if values is None else values.get(confirm[0]) == confirm[1], values)
        result = replies[0]
        if isinstance(result, NoScriptError):  # first use on this server, or after SCRIPT FLUSH / a failover
            client = cache.client.get_client(write=True)
            client.script_load(SCRIPT)
            result = client.evalsha(SHA, *script)
        elif isinstance(result, Exception):
            raise result
        if int(result[0]) == AUTH_STALE:
            return Outcome(None, False, values)
        decision = Decision.from_result(result, rate=limit.rate, burst=limit.burst, quota=limit.quota)
        return Outcome(decision, True if confirm is not None else None, values)

    def ttls(self, *keys) -> dict[str, int]:
        """Remaining lifetime (ms) of each key as stored: -2 absent, -1 no expiry."""
        client = self.cache.client.get_client(write=True)
        return {key: client.pttl(self.cache.make_key(key)) for key in keys}


class MemoryBackend:
    """The same arithmetic in this process's memory, under one lock: for the embedded default,
    whose local-memory cache is this process's alone anyway. Confirmations and reads go to
    that cache."""

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

    def check(self, limit: Limit | None, confirm, read) -> Outcome:
        wanted = [key for keys in read for key in keys]
        if confirm is not None:
            wanted.append(confirm[0])
        values = caches["default"].get_many(wanted) if wanted else {}
        confirmed = None if confirm is None else values.get(confirm[0]) == confirm[1]
        if limit is None or confirmed is False:
            return Outcome(None, confirmed, values)
        return Outcome(self.count(limit), confirmed, values)

    def count(self, limit: Limit) -> Decision:
        with self._lock:
            now_us = self._clock() // 1000
            result, new_bucket, bucket_expires, new_daily, daily_expires = evaluate(
                now_us,
                self._get(limit.bucket_key, now_us),
                self._get(limit.daily_key, now_us) if limit.quota else None,
                rate=limit.rate, burst=limit.burst, quota=limit.quota or 0,
            )
            if new_bucket is not None:
                self._data[limit.bucket_key] = (new_bucket, bucket_expires)
            if new_daily is not None:
                self._data[limit.daily_key] = (new_daily, daily_expires)
            self._checks += 1
            if self._checks % self.SWEEP_EVERY == 0:
                self._data = {k: v for k, v in self._data.items() if v[1] > now_us}
        return Decision.from_result(result, rate=limit.rate, burst=limit.burst, quota=limit.quota)

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


_memory = MemoryBackend()


def backend() -> RedisBackend | MemoryBackend:
    """The backend for the current cache configuration (decided per call: cheap, and
    settings overrides in tests take effect)."""
    cache = redis_wire.backend()
    return RedisBackend(cache) if cache is not None else _memory


def local_reset() -> None:
    """Forget this process's in-memory counts (tests; Redis state goes with the cache)."""
    _memory.clear()


# --- when Redis is unreachable ------------------------------------------------------------

_stats_lock = threading.Lock()
_stats = {"unavailable": 0}
_last_warning = [0.0]
WARN_EVERY = 10.0  # seconds


def stats() -> dict[str, int]:
    """Counters of this process: ``unavailable`` = checks that could not reach the limiter."""
    with _stats_lock:
        return dict(_stats)


def check(limit: Limit | None, *, confirm: tuple[str, object] | None = None,
          read: Iterable[Iterable[str]] = ()) -> Outcome:
    """Count one request against ``limit`` (None: count nothing), if the cache key
    ``confirm[0]`` still holds ``confirm[1]`` (else nothing is counted and ``confirmed`` is
    False), and read the key groups ``read``, in one round trip.

    Where the store is unreachable, ``RATELIMIT_FAIL_OPEN`` decides: admit the request
    unchecked (``Outcome.unreachable``; counted, logged at most every ``WARN_EVERY`` seconds
    per process) or raise 503 ``service_unavailable``.
    """
    try:
        return backend().check(limit, confirm, read)
    except redis_wire.ERRORS as exc:
        if limit is None:  # nothing to admit or refuse: only the reads failed
            metrics.redis_error("cache")
            return Outcome(None, None, None, unreachable=True)
        return _unreachable(exc)


def _unreachable(exc) -> Outcome:
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
        return Outcome(None, None, None, unreachable=True)
    raise ServiceUnavailable(
        "Rate limiting is temporarily unavailable; retry shortly.", headers={"Retry-After": "1"}
    ) from exc

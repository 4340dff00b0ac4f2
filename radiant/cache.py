"""The response cache of the tenant read endpoints: versioned, stampede-safe, Redis optional.

DESIGN.md §6. What is cached is the *rendered* response: an entry holds the JSON bytes of
one resource as one tenant sees it, their ETag, the version tokens it was built under and
the time it stops being fresh::

    (versions, fresh_until, etag, body)

An endpoint says what its response depends on with a ``Plan`` (its app's ``caching.py``
builds them: the entry's key, its version keys, its TTL and HTTP policy). **Reading** is
one MGET of the entry and its versions, which the tenant base class sends in the same round
trip as the request's rate-limit check (radiant/api.py) and hands to ``resolve``. A fresh
entry whose versions are current is served as it is: no SQL, no serializer, no JSON encoding.
Invalidation replaces version tokens on commit (radiant/invalidation.py): an entry built
under a replaced token is never served.

**No stampede.** An entry is fresh for the DESIGN TTL and kept ``STALE_GRACE`` seconds
longer. When it goes stale by age, one request (the holder of a short ``cache.add`` lock)
rebuilds it while the others keep serving the stale copy, which still matches the current
versions. When there is no usable entry at all (first use, invalidation, eviction) the lock
holder rebuilds and the others wait for its result, briefly, instead of all querying the
database at once. A request that wins the lock reads the entry once more before it builds:
the lock may have been freed by a holder that has just stored a fresh entry.

**Redis down.** Every cache call is guarded: an error is logged as a warning and the
request is answered from the database; nothing is cached for it and nothing fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from radiant import cache_keys, metrics, redis_wire
from radiant.conditional import HttpPolicy, Payload, build
from radiant.invalidation import VERSION_TTL, token

logger = logging.getLogger("radiant.cache")

STALE_GRACE = 60  # seconds a stale-by-age entry may be served while one request refreshes it
LOCK_TTL = 10  # upper bound on one rebuild; the lock frees itself after a crash
WAIT_STEP = 0.02  # how often a waiting request looks for the lock holder's entry
WAIT_BUDGET = 2.0  # after this long, a waiting request builds the answer itself

_ENTRY_FIELDS = 4


@dataclass(frozen=True)
class Plan:
    """One cacheable response: its entry key, the version keys it depends on, its TTL."""

    key: str
    versions: tuple[str, ...]
    ttl: int
    http: HttpPolicy

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the response needs, for one read."""
        return (self.key, *self.versions)


class _Unavailable(Exception):
    """The cache could not answer; the caller falls back to the database."""


def _now() -> float:
    return time.time()


def _call(operation: str, *args, **kwargs):
    try:
        return getattr(cache, operation)(*args, **kwargs)
    except Exception as exc:  # django-redis/redis errors, timeouts, a refused connection
        _warn(exc, operation)
        raise _Unavailable from exc


def _read(*groups) -> dict:
    """``get_many`` of every key of ``groups``, split by slot on a cluster."""
    try:
        return redis_wire.get_many(*groups)
    except Exception as exc:
        _warn(exc, "get_many")
        raise _Unavailable from exc


def _warn(exc, operation):
    metrics.redis_error("cache")
    logger.warning("cache unavailable (%s on %s); answering from the database", type(exc).__name__, operation)


def _try(operation: str, *args, **kwargs):
    """A cache write whose failure costs nothing but a later rebuild."""
    try:
        return _call(operation, *args, **kwargs)
    except _Unavailable:
        return None


# --- reading ------------------------------------------------------------------------------


def fetch(plan: Plan, make: Callable[[], Any], values: dict | None = None) -> Payload:
    """The response for ``plan``: from the cache when usable, else ``make()`` rendered.

    ``values``: the plan's keys as already read (``get_many``; may hold other keys), or
    None to read them here. ``make`` returns the data to render (it runs the selector); it
    runs at most once per call, and only when the cache has no usable entry.
    """
    try:
        if values is None:
            values = _read(plan.keys)
        return _resolve(plan, values, make)
    except _Unavailable:
        return build(make())


def _entry(value):
    if isinstance(value, tuple) and len(value) == _ENTRY_FIELDS:
        return value
    return None


def _resolve(plan: Plan, values: dict, make) -> Payload:
    versions = tuple(values.get(key) for key in plan.versions)
    if None in versions:
        versions = _init_versions(plan, versions)
    entry = _entry(values.get(plan.key))
    if entry is not None and entry[0] == versions:
        payload = Payload(body=entry[3], etag=entry[2])
        if _now() < entry[1]:
            metrics.cache_hit()
            return payload  # the hot path: the values read with the rate-limit check, nothing else
        if _lock(plan.key):
            return _rebuild(plan, versions, make)
        metrics.cache_hit()
        return payload  # stale by age only: served while the lock holder refreshes it
    # No entry, or one built under a replaced version: it is never served.
    if _lock(plan.key):
        return _rebuild(plan, versions, make)
    waited = _wait(plan)
    return waited if waited is not None else build(make())


def _init_versions(plan: Plan, versions: tuple) -> tuple:
    """Create missing version keys (first use, eviction, a flushed Redis) with new tokens."""
    missing = [key for key, value in zip(plan.versions, versions) if value is None]
    for key in missing:
        _call("add", key, token(), VERSION_TTL)
    current = _read(missing)
    return tuple(
        value if value is not None else (current.get(key) or token())
        for key, value in zip(plan.versions, versions)
    )


def _lock(key: str) -> bool:
    return bool(_call("add", cache_keys.rebuild_lock(key), 1, LOCK_TTL))


def _rebuild(plan: Plan, versions: tuple, make) -> Payload:
    """Build under ``versions`` (read before the database was), store, release the lock.

    The lock may have been won just after another holder stored a fresh entry and let go:
    the entry is read once more first, and served if it is current (one rebuild, not two)."""
    try:
        values = _read(plan.keys)
        current = tuple(values.get(key) for key in plan.versions)
        entry = _entry(values.get(plan.key))
        if entry is not None and entry[0] == current and _now() < entry[1]:
            metrics.cache_hit()
            return Payload(body=entry[3], etag=entry[2])
        if None not in current:
            versions = current
        payload = build(make())
        _try("set", plan.key, (versions, _now() + plan.ttl, payload.etag, payload.body), plan.ttl + STALE_GRACE)
    finally:
        _try("delete", cache_keys.rebuild_lock(plan.key))
    return payload


def _wait(plan: Plan) -> Payload | None:
    """Wait for the lock holder's entry; None if it gave up (or failed) without one."""
    lock = cache_keys.rebuild_lock(plan.key)
    deadline = _now() + WAIT_BUDGET
    while _now() < deadline:
        time.sleep(WAIT_STEP)
        values = _read(plan.keys, (lock,))
        entry = _entry(values.get(plan.key))
        if entry is not None and entry[0] == tuple(values.get(key) for key in plan.versions):
            metrics.cache_hit()
            return Payload(body=entry[3], etag=entry[2])
        if lock not in values:
            return None
    return None

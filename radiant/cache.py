"""The response cache of the tenant read endpoints: versioned, stampede-safe, Redis optional.

DESIGN.md §6. What is cached is the *rendered* response: an entry holds the JSON bytes of
one resource as one tenant sees it, their ETag, the version tokens it was built under and
the time it stops being fresh::

    (versions, fresh_until, etag, body)

**Reading** is one round trip: ``get_many`` (MGET) of the entry and its version keys (a
``Plan`` lists them, so a caller may fetch them together with keys of its own and hand the
values to ``resolve``). A fresh entry whose versions are current is served as it is: no
SQL, no serializer, no JSON encoding.

**Invalidation** is O(1): every change replaces a version token (``bump``) on commit of the
transaction that made it. A global change (a catalog model, a config entry, a translation)
replaces the one global token, which makes every tenant's entry built under it stale at
once; nothing is enumerated or deleted, and there is no KEYS/SCAN anywhere. Tokens are
random rather than counters, so a version key that is evicted or lost and then recreated
can never match an old entry again. An entry built under a replaced token is never served.

**No stampede.** An entry is fresh for the DESIGN TTL and kept ``STALE_GRACE`` seconds
longer. When it goes stale by age, one request (the holder of a short ``cache.add`` lock)
rebuilds it while the others keep serving the stale copy, which still matches the current
versions. When there is no usable entry at all (first use, invalidation, eviction) the lock
holder rebuilds and the others wait for its result, briefly, instead of all querying the
database at once.

**Redis down.** Every cache call is guarded: an error is logged as a warning and the
request is answered from the database; nothing is cached for it and nothing fails. A failed
invalidation is logged as an error: entries can then be stale for at most their TTL.

**Changes that must not be lost** (a revoked key, a suspended tenant, a tier's limits: what
authentication caches) are registered ``strict``. Before such a write reaches the database,
its version keys are set to ``CHANGING``, under which nothing is ever cached or trusted; on
commit they get fresh tokens as usual. If Redis cannot take the first step, the write is
refused (``InvalidationUnavailable``) and the operator is told: nothing claims a success
that a recovering Redis could undo. If only the second step fails, the keys stay
``CHANGING`` and requests are answered from the database until the next change: slower,
never stale.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from django.core.cache import cache, caches
from django.core.signals import setting_changed
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from django_redis.cache import RedisCache
from django_redis.compressors.identity import IdentityCompressor
from django_redis.serializers.pickle import PickleSerializer

from radiant import cache_keys, metrics, redis_wire, signals

logger = logging.getLogger("radiant.cache")

VERSION_TTL = 7 * 24 * 60 * 60  # a lost version key only costs one rebuild per entry
STALE_GRACE = 60  # seconds a stale-by-age entry may be served while one request refreshes it
LOCK_TTL = 10  # upper bound on one rebuild; the lock frees itself after a crash
WAIT_STEP = 0.02  # how often a waiting request looks for the lock holder's entry
WAIT_BUDGET = 2.0  # after this long, a waiting request builds the answer itself

_ENTRY_FIELDS = 4


@dataclass(frozen=True)
class HttpPolicy:
    """What the HTTP response tells clients (and their caches) about freshness."""

    max_age: int
    stale_while_revalidate: int

    @property
    def cache_control(self) -> str:
        return f"private, max-age={self.max_age}, stale-while-revalidate={self.stale_while_revalidate}"


@dataclass(frozen=True)
class Plan:
    """One cacheable response: its entry key, the version keys it depends on, its TTL."""

    key: str
    versions: tuple[str, ...]
    ttl: int
    http: HttpPolicy

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the response needs, for one ``get_many``."""
        return (self.key, *self.versions)


@dataclass(frozen=True)
class Payload:
    body: bytes
    etag: str


class _Unavailable(Exception):
    """The cache could not answer; the caller falls back to the database."""


def _now() -> float:
    return time.time()


def token() -> int:
    """A new version token: random (never a counter, see above), and an integer, which
    django-redis stores as its digits, so a Lua script can compare it (the
    throttle script checks a tenant's auth generation)."""
    return secrets.randbits(62)


def render(data: Any) -> Payload:
    """JSON bytes as the API renders them, and a strong ETag over exactly those bytes."""
    from rest_framework.renderers import JSONRenderer

    metrics.cache_miss()  # every response built from the database is rendered here
    body = JSONRenderer().render(data)
    return Payload(body=body, etag='"%s"' % hashlib.blake2b(body, digest_size=16).hexdigest())


def _call(operation: str, *args, **kwargs):
    try:
        return getattr(cache, operation)(*args, **kwargs)
    except Exception as exc:  # django-redis/redis errors, timeouts, a refused connection
        metrics.redis_error("cache")
        logger.warning(
            "cache unavailable (%s on %s); answering from the database",
            type(exc).__name__, operation,
        )
        raise _Unavailable from exc


def _try(operation: str, *args, **kwargs):
    """A cache write whose failure costs nothing but a later rebuild."""
    try:
        return _call(operation, *args, **kwargs)
    except _Unavailable:
        return None


# --- reading ------------------------------------------------------------------------------


def fetch(plan: Plan, build: Callable[[], Any]) -> Payload:
    """The response for ``plan``: from the cache when usable, else ``build()`` rendered.

    ``build`` returns the data to render (it runs the selector); it runs at most once per
    call, and only when the cache has no usable entry.
    """
    try:
        values = _call("get_many", plan.keys)
    except _Unavailable:
        return render(build())
    return resolve(plan, values, build)


def resolve(plan: Plan, values: dict, build: Callable[[], Any]) -> Payload:
    """Like ``fetch``, given ``values`` already read with ``get_many`` (may hold other keys)."""
    try:
        return _resolve(plan, values, build)
    except _Unavailable:
        return render(build())


def _entry(value):
    if isinstance(value, tuple) and len(value) == _ENTRY_FIELDS:
        return value
    return None


def _resolve(plan: Plan, values: dict, build) -> Payload:
    versions = tuple(values.get(key) for key in plan.versions)
    if None in versions:
        versions = _init_versions(plan, versions)
    entry = _entry(values.get(plan.key))
    if entry is not None and entry[0] == versions:
        payload = Payload(body=entry[3], etag=entry[2])
        if _now() < entry[1]:
            metrics.cache_hit()
            return payload  # the hot path: one MGET, nothing else
        if _lock(plan.key):
            return _rebuild(plan, versions, build)
        metrics.cache_hit()
        return payload  # stale by age only: served while the lock holder refreshes it
    # No entry, or one built under a replaced version: it is never served.
    if _lock(plan.key):
        return _rebuild(plan, versions, build)
    waited = _wait(plan)
    return waited if waited is not None else render(build())


def _init_versions(plan: Plan, versions: tuple) -> tuple:
    """Create missing version keys (first use, eviction, a flushed Redis) with new tokens."""
    missing = [key for key, value in zip(plan.versions, versions) if value is None]
    for key in missing:
        _call("add", key, token(), VERSION_TTL)
    current = _call("get_many", missing)
    return tuple(
        value if value is not None else (current.get(key) or token())
        for key, value in zip(plan.versions, versions)
    )


def _lock(key: str) -> bool:
    return bool(_call("add", cache_keys.rebuild_lock(key), 1, LOCK_TTL))


def _rebuild(plan: Plan, versions: tuple, build) -> Payload:
    """Build under ``versions`` (read before the database was), store, release the lock.

    The lock may have been won just after another holder stored a fresh entry and let go:
    the entry is read once more first, and served if it is current (one rebuild, not two)."""
    try:
        values = _call("get_many", plan.keys)
        current = tuple(values.get(key) for key in plan.versions)
        entry = _entry(values.get(plan.key))
        if entry is not None and entry[0] == current and _now() < entry[1]:
            return Payload(body=entry[3], etag=entry[2])
        if None not in current:
            versions = current
        payload = render(build())
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
        values = _call("get_many", (*plan.keys, lock))
        entry = _entry(values.get(plan.key))
        if entry is not None and entry[0] == tuple(values.get(key) for key in plan.versions):
            metrics.cache_hit()
            return Payload(body=entry[3], etag=entry[2])
        if lock not in values:
            return None
    return None


# --- HTTP -----------------------------------------------------------------------------------


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, ``*`` matches any current representation."""
    tags = parse_etags(if_none_match)
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def respond(request, payload: Payload, plan: Plan) -> HttpResponse:
    """The cached bytes as a JSON response, or 304 when the client already has them."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match and _matches(if_none_match, payload.etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(payload.body, content_type="application/json")
    response["ETag"] = payload.etag
    response["Cache-Control"] = plan.http.cache_control
    response["Vary"] = "Authorization"
    return response


def serve(request, plan: Plan, build: Callable[[], Any]) -> HttpResponse:
    """``fetch`` then ``respond``: what a cached GET handler returns.

    When the plan's keys were already read for this request (``prefetched``: with the
    throttle's round trip), those values are used and the cache is not asked again.
    """
    values = prefetched_values(request, plan)
    payload = fetch(plan, build) if values is None else resolve(plan, values, build)
    return respond(request, payload, plan)


# --- the hot read path (docs/PERFORMANCE.md) ------------------------------------------
#
# A warm GET makes one round trip to Redis: one write carries the throttle script (which
# also confirms the key's auth row, see tenants/selectors.py), the MGET of the response's
# entry and versions (the plan is known as soon as the tenant is: TenantAPIView.cache_plan)
# and the MGET of the key's last-use gate (radiant.throttling.confirmer). The values are
# recorded on the request (``prefetched``) and ``serve`` resolves them without asking again.
# The helpers below read with django-redis's key format and serializer, on a connection the
# thread keeps (radiant/redis_wire.py).

_PREFETCHED = "radiant_cache_prefetched"


def prefetched(request, keys: Iterable[str], values: dict) -> None:
    """Record ``values`` (as ``get_many`` returns them) read for ``keys`` on this request."""
    setattr(getattr(request, "_request", request), _PREFETCHED, (frozenset(keys), values))


def prefetched_values(request, plan: Plan) -> dict | None:
    """The values read earlier in this request for every key of ``plan``, else None."""
    found = getattr(getattr(request, "_request", request), _PREFETCHED, None)
    if found is not None and found[0].issuperset(plan.keys):
        return found[1]
    return None


class _Backend(threading.local):
    """This thread's default cache, if django-redis, and its value decoder (looked up once:
    ``caches["default"]`` costs microseconds a request; settings changes reset it)."""

    config = -1
    backend = None
    decode = None


_backend = _Backend()
_config = [0]  # bumped when the CACHES setting changes (tests)


@receiver(setting_changed)
def _cache_settings_changed(*, setting, **kwargs):
    if setting == "CACHES":
        _config[0] += 1


def _fast_decoder(backend):
    """django-redis's ``decode``, minus its try-int-first for pickles: with its default
    serializer and no compression, a stored pickle (protocol 2+, first byte 0x80) is
    ``pickle.loads``; anything else (integers are stored as digits) goes to ``decode``."""
    client = backend.client
    if type(getattr(client, "_serializer", None)) is not PickleSerializer or type(
        getattr(client, "_compressor", None)
    ) is not IdentityCompressor:
        return client.decode
    loads, decode = pickle.loads, client.decode

    def fast(value):
        return loads(value) if value[:1] == b"\x80" else decode(value)

    return fast


def redis_backend():
    """The default cache when it is django-redis (whose raw client and serializer the hot
    path may use directly), else None."""
    if _backend.config != _config[0]:
        backend = caches["default"]
        _backend.backend = backend if isinstance(backend, RedisCache) else None
        _backend.decode = _fast_decoder(backend) if _backend.backend is not None else None
        _backend.config = _config[0]
    return _backend.backend


def decode_many(backend, keys: Iterable[str], raw: list) -> dict:
    """MGET replies -> what ``backend.get_many(keys)`` returns: present keys, decoded."""
    decode = _backend.decode if backend is _backend.backend else backend.client.decode
    return {key: decode(value) for key, value in zip(keys, raw) if value is not None}


def get_many(*groups: Iterable[str]) -> dict:
    """``cache.get_many`` of the keys of every group, as one dict; on django-redis, one
    MGET per group, all sent in one round trip with ``radiant.redis_wire`` in the backend's
    key format and decoded by its serializer: the same values, for less CPU. Raises what
    the Redis client raises."""
    backend = redis_backend()
    if backend is None:
        values = {}
        for keys in groups:
            values.update(cache.get_many(keys))
        return values
    return read_replies(backend, groups, redis_wire.round_trip(
        backend.client.get_client(write=True), mget_commands(backend, groups)
    ))


def mget_commands(backend, groups) -> list[tuple]:
    make_key = backend.make_key
    return [("MGET", *map(make_key, keys)) for keys in groups]


def read_replies(backend, groups, replies) -> dict:
    """The replies to ``mget_commands(backend, groups)`` as one ``get_many`` dict; raises
    an error reply."""
    values = {}
    for keys, reply in zip(groups, replies):
        if isinstance(reply, Exception):
            raise reply
        values.update(decode_many(backend, keys, reply))
    return values


# --- invalidation ---------------------------------------------------------------------------

# The value of a version key while a strict change is on its way to the database.
CHANGING = "changing"


class InvalidationUnavailable(RuntimeError):
    """A strict change was refused: the cache could not be told, so it would not apply."""

    def __init__(self, exc: Exception):
        super().__init__(
            f"the change was not made: the cache could not be reached to make it effective"
            f" ({type(exc).__name__}); try again when it is back"
        )


def mark_changing(*version_keys: str) -> None:
    """Before a strict write: nothing may be cached or trusted under these versions. Raises
    ``InvalidationUnavailable`` if the cache cannot be told."""
    if not version_keys:
        return
    try:
        cache.set_many({key: CHANGING for key in version_keys}, VERSION_TTL)
    except Exception as exc:
        logger.error("cache unreachable; refusing a change it could not make effective (%s)", type(exc).__name__)
        raise InvalidationUnavailable(exc) from exc


def bump(*version_keys: str) -> None:
    """Replace version tokens now: every entry built under the old ones is stale. O(keys)."""
    if not version_keys:
        return
    try:
        cache.set_many({key: token() for key in version_keys}, VERSION_TTL)
    except Exception as exc:
        metrics.redis_error("cache")
        logger.error(
            "cache invalidation failed (%s) for %s; entries may be stale for up to their TTL",
            type(exc).__name__, ", ".join(version_keys),
        )


class _Bump:
    """An on-commit callback; one per transaction, collecting every key its writes touched."""

    def __init__(self, keys: Iterable[str]):
        self.keys = set(keys)

    def __call__(self):
        bump(*sorted(self.keys))


def bump_on_commit(*version_keys: str, using: str) -> None:
    """Replace the tokens when the transaction on ``using`` commits (now, in autocommit).

    Nothing happens if it rolls back. Many writes in one transaction bump once.
    """
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        for _sids, func, _robust in connection.run_on_commit:
            if isinstance(func, _Bump):
                func.keys.update(version_keys)
                return
    transaction.on_commit(_Bump(version_keys), using=using)


# Which version keys a change to a model's row makes stale. ``versions_for(None)`` answers
# for a bulk change whose rows are unknown (``QuerySet.update``): it must be the coarse set.
_registry: dict[type, Callable[[Any], Iterable[str]]] = {}
_strict: set[type] = set()


def invalidate_on_change(model: type, versions_for: Callable[[Any], Iterable[str]], *, strict: bool = False) -> None:
    """Bump ``versions_for(row)`` on commit of every save and delete of ``model``.

    Signals catch every instance write (admin, API, commands, shell, cascades); bulk writes
    that send no signals go through ``InvalidatingQuerySet``. This is cache bookkeeping, not
    a business rule, so it lives here rather than in every service. ``strict``: changes to
    existing rows are refused unless the cache can be told first (``mark_changing``).
    """
    _registry[model] = versions_for

    def changed(sender, instance, using, **kwargs):
        bump_on_commit(*versions_for(instance), using=using)

    uid = f"radiant.cache:{model._meta.label}"
    post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid)
    if strict:
        _strict.add(model)

        def changing(sender, instance, raw=False, **kwargs):
            if not raw and not instance._state.adding:  # a new row is cached nowhere yet
                mark_changing(*versions_for(instance))

        pre_save.connect(changing, sender=model, weak=False, dispatch_uid=uid)
        pre_delete.connect(changing, sender=model, weak=False, dispatch_uid=uid)


class InvalidatingQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes (which send no signals) invalidate like single writes."""

    def _invalidate(self, rows):
        versions_for = _registry[self.model]
        keys = set()
        for row in rows:
            keys.update(versions_for(row))
        if keys:
            bump_on_commit(*keys, using=self.db)

    def update(self, **kwargs):
        if self.model in _strict:
            mark_changing(*_registry[self.model](None))
        # Bulk writes send no model signals: the audit log hears of them this way.
        count = signals.bulk_update(self, kwargs, lambda: super(InvalidatingQuerySet, self).update(**kwargs))
        if count:
            self._invalidate([None])
        return count

    update.alters_data = True

    def update_untracked(self, **kwargs):
        """A bulk write to fields no cached entry depends on (e.g. a last-used timestamp)."""
        return super().update(**kwargs)

    update_untracked.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        self._invalidate(created)
        return created

    bulk_create.alters_data = True
    # bulk_update() runs through update() above.

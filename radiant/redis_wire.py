"""Round trips to the cache's Redis: several commands in one write, one node or a cluster.

A warm tenant GET sends its rate-limit script and the reads of its response in one round
trip (radiant/api.py). Through redis-py's client API each round trip would also pay for
taking a connection out of the pool and giving it back, with a readiness poll of the
socket, locks, metrics hooks, a retry wrapper and a pipeline object: on this machine about
as much CPU as the round trip itself (docs/PERFORMANCE.md). On a single node the commands
are packed and sent in one write and their replies read back on a redis-py ``Connection``
the thread took from the cache's pool once and keeps, so the protocol, connecting,
AUTH/SELECT, timeouts and reconnecting are still redis-py's.

On a Redis Cluster (``REDIS_CLUSTER=1``, radiant/redis_cluster.py) the same commands go
through redis-py's cluster pipeline, which sends each to the node owning its slot (all
nodes written to first, then all read: still one round trip of wall time) and follows
MOVED/ASK redirections. Every command must then touch keys of one slot: the keys that
travel together share a hash tag (radiant/cache_keys.py), and ``reads`` splits a group of
keys by slot.

Errors: an error reply (e.g. ``NOSCRIPT``) is returned in its place, the other replies
still read; anything else (refused, reset, timeout, a cluster that cannot be reached)
raises one of ``ERRORS``. On a single node, a kept connection that turns out to be closed
(Redis restarted since the last request) is replaced and the round trip retried once, as
redis-py's own client retries.

The values are django-redis's: keys in its format (``backend.make_key``), values decoded by
its serializer, so what is read here is what ``cache.get_many`` would return.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterable

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis.cache import RedisCache
from django_redis.compressors.identity import IdentityCompressor
from django_redis.serializers.pickle import PickleSerializer
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError, RedisClusterException, RedisError, ResponseError

# What a call to Redis raises when Redis cannot answer (a cluster adds its own exception,
# which is not a RedisError).
ERRORS = (RedisError, RedisClusterException, OSError)

_local = threading.local()


# --- the default cache, looked up once a thread -------------------------------------------


class _Backend(threading.local):
    """This thread's default cache, if django-redis, and its value decoder (looked up once:
    ``caches["default"]`` costs microseconds a request; a settings change resets it)."""

    config = -1
    backend = None
    decode = None
    cluster = False


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


def backend():
    """The default cache when it is django-redis, else None (the embedded default's
    local-memory cache: no Redis to talk to)."""
    if _backend.config != _config[0]:
        found = caches["default"]
        _backend.backend = found if isinstance(found, RedisCache) else None
        _backend.decode = _fast_decoder(found) if _backend.backend is not None else None
        _backend.cluster = _backend.backend is not None and getattr(found.client, "cluster", False)
        _backend.config = _config[0]
    return _backend.backend


# --- reads in django-redis's format -----------------------------------------------------


def reads(cache, groups: Iterable[Iterable[str]]) -> list[tuple[tuple[str, ...], tuple]]:
    """``(keys, MGET command)`` pairs reading every key of ``groups``: one MGET a group, or
    on a cluster one a slot within each group."""
    make_key = cache.make_key
    out = []
    for keys in groups:
        keys = tuple(keys)
        if not keys:
            continue
        made = [make_key(key) for key in keys]
        if _backend.cluster and len(keys) > 1:
            slots: dict[int, list[int]] = {}
            for index, key in enumerate(made):
                slots.setdefault(key_slot(key.encode()), []).append(index)
            for indexes in slots.values():
                out.append((tuple(keys[i] for i in indexes), ("MGET", *(made[i] for i in indexes))))
        else:
            out.append((keys, ("MGET", *made)))
    return out


def decode_reads(cache, planned, replies) -> dict:
    """The replies to ``reads(...)`` as one ``get_many`` dict; raises an error reply."""
    decode = _backend.decode if cache is _backend.backend else cache.client.decode
    values = {}
    for (keys, _command), reply in zip(planned, replies):
        if isinstance(reply, Exception):
            raise reply
        for key, value in zip(keys, reply):
            if value is not None:
                values[key] = decode(value)
    return values


def get_many(*groups: Iterable[str]) -> dict:
    """``cache.get_many`` of the keys of every group, as one dict, in one round trip.
    Raises one of ``ERRORS`` when Redis cannot answer."""
    cache = backend()
    if cache is None:
        values = {}
        for keys in groups:
            values.update(caches["default"].get_many(list(keys)))
        return values
    planned = reads(cache, groups)
    return decode_reads(cache, planned, round_trip(cache, [command for _keys, command in planned]))


# --- one round trip -------------------------------------------------------------------------


def round_trip(cache, commands: list[tuple]) -> list:
    """Send ``commands`` (each a tuple of command name and arguments) to ``cache``'s Redis
    in one round trip; return their replies in order (raw: bytes, ints, lists, None; an
    error reply as its exception)."""
    client = cache.client.get_client(write=True)
    if isinstance(client, RedisCluster):
        return _cluster_round_trip(client, commands)
    pool = client.connection_pool
    while True:
        connection, reused = _connection(pool)
        try:
            return _exchange(connection, commands)
        except ConnectionError:
            _drop(connection)
            if not reused:
                raise
        except BaseException:
            _drop(connection)
            raise


def _cluster_round_trip(client, commands) -> list:
    pipeline = client.pipeline(transaction=False)
    for command in commands:
        pipeline.execute_command(*command)
    return pipeline.execute(raise_on_error=False)


class _Held:
    """The connection one thread keeps, given back to its pool when the thread ends and its
    thread-local data goes (otherwise the pool's limit is reached after enough short-lived
    threads have come and gone)."""

    __slots__ = ("connection", "kept", "pool")

    def __init__(self, pool, connection):
        self.pool, self.connection, self.kept = pool, connection, True

    def give_back(self):
        if self.kept:
            self.kept = False
            self.pool.release(self.connection)

    def __del__(self):
        try:
            self.give_back()
        except Exception:  # the pool is being torn down
            pass


def _connection(pool):
    """(connection, reused): the one this thread keeps for ``pool``, or a new one."""
    held = getattr(_local, "held", None)
    if held is not None:
        if held.pool is pool:
            return held.connection, True
        release()  # the cache was reconfigured (tests): give it back
    connection = pool.get_connection()
    _local.held = _Held(pool, connection)
    return connection, False


def release() -> None:
    """Give this thread's kept connection back to its pool now (a thread about to end)."""
    held = getattr(_local, "held", None)
    if held is not None:
        _local.held = None
        held.give_back()


def _forget_after_fork():
    # A forked child (gunicorn worker) must not share its parent's socket, nor give it back.
    held = getattr(_local, "held", None)
    if held is not None:
        held.kept = False
    _local.held = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _drop(connection) -> None:
    connection.disconnect()
    held = getattr(_local, "held", None)
    if held is not None and held.connection is connection:
        release()


def _exchange(connection, commands) -> list:
    connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except ResponseError as error:  # read in full: the next reply follows it
            replies.append(error)
    return replies

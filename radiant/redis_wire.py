"""One round trip to the cache's Redis, on a connection this thread keeps.

A warm tenant GET makes two round trips to Redis (authentication's MGET; the throttle
script with the response's MGET). Through redis-py's client API each one also pays for
taking a connection out of the pool and giving it back, with a readiness poll of the
socket, locks, metrics hooks, a retry wrapper and, for pipelines, a pipeline object: on
this machine about as much CPU as the round trip itself (see docs/PERFORMANCE.md). Here
the commands are packed and sent in one write and their replies read back on a redis-py
``Connection`` the thread took from the cache's pool once and keeps, so the protocol,
connecting, AUTH/SELECT, timeouts and reconnecting are still redis-py's.

Errors: an error reply (e.g. ``NOSCRIPT``) is returned in its place, the other replies
still read; anything else (refused, reset, timeout) drops the connection and raises a
``redis.exceptions.RedisError``. When a kept connection turns out to be closed (Redis
restarted since the last request) the round trip is retried once on a new one, as
redis-py's own client retries.
"""

from __future__ import annotations

import os
import threading

from redis.exceptions import ConnectionError, ResponseError

_local = threading.local()


def _connection(pool):
    """(connection, reused): the one this thread keeps for ``pool``, or a new one."""
    held = getattr(_local, "held", None)
    if held is not None:
        if held[0] is pool:
            return held[1], True
        held[0].release(held[1])  # the cache was reconfigured (tests): give it back
    connection = pool.get_connection()
    _local.held = (pool, connection)
    return connection, False


def release() -> None:
    """Give this thread's kept connection back to its pool. For threads that end (a thread
    pool in a test, a short-lived worker thread): a thread-local connection is otherwise
    never returned, and the pool's limit is reached after enough threads have come and gone."""
    held = getattr(_local, "held", None)
    if held is not None:
        held[0].release(held[1])
        _local.held = None


def _forget_after_fork():
    # A forked child (gunicorn worker) must not share its parent's socket.
    _local.held = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _drop(connection) -> None:
    connection.disconnect()
    held = getattr(_local, "held", None)
    if held is not None and held[1] is connection:
        held[0].release(connection)
        _local.held = None


def _exchange(connection, commands) -> list:
    connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except ResponseError as error:  # read in full: the next reply follows it
            replies.append(error)
    return replies


def round_trip(client, commands: list[tuple]) -> list:
    """Send ``commands`` (each a tuple of command name and arguments) to ``client``'s
    Redis in one write; return their replies in order (raw: bytes, ints, lists, None;
    an error reply as its ``ResponseError``)."""
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

"""Helpers shared by tests of several apps: reference data, and probes of what a request sends
to the database and to Redis."""

import contextlib
import time
from decimal import Decimal

from models_catalog.models import AIModel
from tests.querycount import captured_queries


def make_model(slug, *, tenant=None, **fields):
    defaults = {
        "display_name": slug.title(), "provider": "openai", "category": "chat", "status": "active",
        "is_enabled": True, "input_cost_per_1k": Decimal("0.0025"), "output_cost_per_1k": Decimal("0.01"),
        "context_window": 128_000,
    }
    defaults.update(fields)
    return AIModel.all_tenants.create(tenant=tenant, slug=slug, **defaults)


# --- measuring what a request costs --------------------------------------------------------


def _is_auth_lookup(sql: str) -> bool:
    """Authentication's API key lookup (on a cold auth cache): not this feature's SQL."""
    return "radiant_api_key_lookup" in sql or "tenants_apikey" in sql


@contextlib.contextmanager
def capture_sql():
    """Every SQL statement sent on any database alias inside the block (filled after it)."""
    statements = []
    with captured_queries() as queries:
        yield statements
    statements.extend(query["sql"] for query in queries)


def feature_sql(queries):
    """The statements of a request other than authentication's API key lookup."""
    return [sql for sql in queries if not _is_auth_lookup(sql)]


@contextlib.contextmanager
def record_cache_calls():
    """Calls on the Django cache backend, as (operation, keys), in this thread.

    The hot path reads some keys from Redis without the backend's methods: with the
    throttle's script, in the same round trip (radiant/api.py and
    radiant.redis_wire). An MGET sent to Redis outside a backend call is the same read as
    a ``get_many`` of those keys, and is recorded as one.
    """
    import hiredis
    from django.core.cache import caches
    from redis.connection import AbstractConnection

    backend = caches["default"]
    calls = []
    originals = {}
    depth = [0]  # LocMemCache.get_many calls get(): count the outer call only

    original_send = AbstractConnection.send_packed_command

    def send(connection, command, check_health=True):
        if depth[0] == 0:
            reader = hiredis.Reader()
            reader.feed(command if isinstance(command, (bytes, bytearray)) else b"".join(bytes(c) for c in command))
            while (sent := reader.gets()) is not False:
                if sent[0].upper() == b"MGET":
                    calls.append(("get_many", [backend.client.reverse_key(key.decode()) for key in sent[1:]]))
        return original_send(connection, command, check_health=check_health)

    AbstractConnection.send_packed_command = send

    def wrap(name):
        original = getattr(backend, name)
        originals[name] = original

        def wrapper(*args, **kwargs):
            if depth[0] == 0:
                first = args[0] if args else None
                keys = list(first) if isinstance(first, (list, tuple, dict)) else [first]
                calls.append((name, [str(key) for key in keys]))
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        setattr(backend, name, wrapper)

    for name in ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr", "has_key", "touch"):
        wrap(name)
    try:
        yield calls
    finally:
        AbstractConnection.send_packed_command = original_send
        for name in originals:
            delattr(backend, name)


@contextlib.contextmanager
def record_redis_round_trips():
    """Every round trip to Redis (a command or a pipeline), as the bytes sent, any thread.

    Not counted: Celery publishing to its queue on the same Redis (an audit record of the
    change being delivered), which is the broker's traffic, not the cache's."""
    from redis.connection import AbstractConnection

    from radiant.celery import app

    trips = []
    original = AbstractConnection.send_packed_command
    queue = app.conf.task_default_queue.encode()
    publish = b"*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n" % (len(queue), queue)

    def send(self, command, check_health=True):
        data = command if isinstance(command, (bytes, bytearray)) else b"".join(bytes(c) for c in command)
        if bytes(data).startswith(publish):
            return original(self, command, check_health=check_health)
        trips.append(bytes(data))
        return original(self, command, check_health=check_health)

    AbstractConnection.send_packed_command = send
    try:
        yield trips
    finally:
        AbstractConnection.send_packed_command = original


def wait_for(predicate, timeout=20.0):
    """Poll ``predicate`` (work done by a worker elsewhere) until it holds or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def warm(client, url):
    """GET ``url`` twice; the second must come from the cache (no feature SQL)."""
    client.get(url)
    with capture_sql() as queries:
        response = client.get(url)
    assert feature_sql(queries) == [], "expected the second GET to come from the cache"
    return response

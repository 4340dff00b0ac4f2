"""Fixtures for the catalog, configuration and translation tests."""

import contextlib
from decimal import Decimal

import pytest

from configuration.models import ConfigEntry
from localization.models import Language, Translation
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


@pytest.fixture
def catalog(tiers):
    """A small global catalog: two listed chat models, an embedding one, one of each hidden kind."""
    return {
        "gpt-4o": make_model("gpt-4o"),
        "claude-3.5-sonnet": make_model(
            "claude-3.5-sonnet", provider="anthropic", input_cost_per_1k=Decimal("0.003"),
            output_cost_per_1k=Decimal("0.015"), context_window=200_000,
        ),
        "embed-v3": make_model("embed-v3", provider="cohere", category="embedding", output_cost_per_1k=Decimal("0")),
        "old-model": make_model("old-model", status="deprecated"),
        "retired": make_model("retired", status="disabled"),
        "switched-off": make_model("switched-off", is_enabled=False),
    }


@pytest.fixture
def config_entries(tiers):
    def entry(key, value_type, value, overridable=True, **constraints):
        return ConfigEntry.objects.create(
            key=key, value_type=value_type, value=value, is_overridable=overridable,
            description=f"{key} setting", **constraints,
        )

    return {
        "ui.theme": entry("ui.theme", "string", "system", choices=["light", "dark", "system"]),
        "chat.default_model": entry("chat.default_model", "string", "gpt-4o", max_length=100),
        "chat.max_tokens": entry("chat.max_tokens", "integer", 4096, min_value=1, max_value=32768),
        "chat.temperature": entry("chat.temperature", "number", 0.7, min_value=0, max_value=2),
        "features.streaming": entry("features.streaming", "boolean", True),
        "webhooks.retry": entry(
            "webhooks.retry", "json", {"attempts": 3},
            json_schema={
                "type": "object", "properties": {"attempts": {"type": "integer", "minimum": 0}},
                "required": ["attempts"], "additionalProperties": False,
            },
        ),
        "moderation.enabled": entry("moderation.enabled", "boolean", True, overridable=False),
    }


@pytest.fixture
def languages(tiers):
    en = Language.objects.create(code="en", name="English", is_default=True)
    de = Language.objects.create(code="de", name="Deutsch")
    for key, text in {"common.save": "Save", "common.cancel": "Cancel", "models.title": "Models"}.items():
        Translation.objects.create(language=en, key=key, text=text)
    for key, text in {"common.save": "Speichern", "models.title": "Modelle"}.items():
        Translation.objects.create(language=de, key=key, text=text)
    return {"en": en, "de": de}


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    client.force_login(user)
    return client


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
    throttle's script, in the same round trip (radiant.throttling and
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

"""Shared fixtures. Tests talk to the real PostgreSQL and Redis when they are configured.

Tests marked ``postgres`` or ``redis`` are skipped in the embedded default, and so are those
marked ``browser`` when Debian's Chromium is not installed; all of them fail instead when
RADIANT_REQUIRE_SERVICES=1 (CI), so CI can never pass by skipping them.
"""

import contextlib
import logging
import os
import re
import shutil
import threading
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

REQUIRE_SERVICES = os.environ.get("RADIANT_REQUIRE_SERVICES") == "1"


def _needs(item, marker, available, what):
    if item.get_closest_marker(marker) and not available:
        message = f"needs {what}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}, and RADIANT_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium through Playwright, headless (tests marked ``browser``)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop on this thread; the ORM calls a test makes
    # between browser steps are ordinary synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_runtest_setup(item):
    _needs(item, "postgres", settings.POSTGRES, "PostgreSQL (DATABASE_URL=postgres://...)")
    _needs(item, "redis", bool(settings.REDIS_URL), "Redis (REDIS_URL=redis://...)")
    _needs(
        item, "browser", os.access(CHROMIUM, os.X_OK),
        "Debian's Chromium (to run it: apt-get install -y chromium; .ci/run installs it)",
    )


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield


# --- rate limits -------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The in-process limiter (embedded default) starts empty, as Redis does after clear()."""
    from radiant.ratelimit import backends

    backends.local_reset()
    yield


@pytest.fixture(autouse=True)
def _no_open_tenant_transaction():
    yield
    # A failed test must not leave the web role's connection inside a transaction:
    # the next test's flush (TRUNCATE) would wait on its locks.
    if settings.TENANT_DB_ALIAS in connections:
        connection = connections[settings.TENANT_DB_ALIAS]
        if connection.connection is not None and connection.in_atomic_block:
            connection.close()


@pytest.fixture
def tiers(transactional_db):
    from tenants.services import tier_seed

    tier_seed()


@pytest.fixture
def make_tenant(tiers):
    from tenants.services import tenant_create

    def make(slug=None, tier="professional", **overrides):
        slug = slug or f"t-{uuid.uuid4().hex[:10]}"
        return tenant_create(slug=slug, name=slug.title(), tier=tier, **overrides)

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("tenant-a")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("tenant-b")


@pytest.fixture
def api_client_for():
    """api_client_for(tenant) -> an APIClient carrying a fresh API key of that tenant."""
    from tenants.services import api_key_create

    def make(tenant, **key_options):
        key, raw = api_key_create(tenant=tenant, **key_options)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.api_key, client.raw_key = key, raw
        return client

    return make


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pools(django_db_setup, django_db_blocker):
    """Give pooled connections back before pytest-django drops the test database."""
    yield
    for connection in connections.all():
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
    if settings.POSTGRES:
        # Threads that served requests (live_server, Celery worker) may still hold a session.
        with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connections["default"].close()
        connections["default"].close_pool()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (in a thread) on the configured broker; eager mode needs none."""
    from radiant.celery import app

    if app.conf.task_always_eager:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    app.control.purge()  # tasks queued by earlier tests that had no worker
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        yield app


@pytest.fixture
def not_near_midnight():
    """Day-window tests must not straddle 00:00 UTC; wait it out if it is seconds away."""
    import time

    from tests.utc import seconds_to_utc_midnight

    left = seconds_to_utc_midnight(time.time())
    if left < 15:
        time.sleep(left + 1)


@pytest.fixture
def private_redis(settings):
    """The default cache on a redis-server of this test's own, which it may stall, restart,
    stop or drop the clients of (tests/redis_servers.py)."""
    from tests.redis_servers import PrivateRedis

    server = PrivateRedis()
    server.start()
    settings.CACHES = server.caches
    try:
        yield server
    finally:
        server.stop()


# --- no secret in any log ----------------------------------------------------------------
#
# Every log record the run creates (any logger, any thread) is formatted as the project
# writes it and scanned, with every request log line (written without ``logging``), for
# every API key the run created, the secret key, and anything shaped like an API key. The
# verdict is test_log_secrets.py, which runs last.

KEY_SHAPE = re.compile(r"rad_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{32,}")


class _LogScan:
    def __init__(self):
        self.keys = set()
        self.records = []
        self.lines = []  # the request log's, as written
        self.lock = threading.Lock()
        self.scanned = 0
        self.request_lines = 0
        self.offending = []
        self.formatter = None

    def scan(self):
        from django.utils.module_loading import import_string

        if self.formatter is None:
            config = dict(settings.LOGGING["formatters"]["json"])
            self.formatter = import_string(config.pop("()"))(**config)
        with self.lock:
            records, self.records = self.records, []
            lines, self.lines = self.lines, []
            keys = set(self.keys)
        secrets_ = keys | {settings.SECRET_KEY}
        for text in self._texts(records, lines):
            self.scanned += 1
            if '"event":"request"' in text.replace(" ", ""):
                self.request_lines += 1
            if KEY_SHAPE.search(text) or any(secret in text for secret in secrets_):
                self.offending.append(text)

    def _texts(self, records, lines):
        for record in records:
            try:
                yield self.formatter.format(record)
            except Exception:  # a record whose arguments do not format is not ours to judge
                continue
        for line in lines:
            yield line.decode(errors="replace")


log_scan = _LogScan()


def pytest_configure(config):
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        log_scan.records.append(record)
        return record

    logging.setLogRecordFactory(factory)


@pytest.fixture(scope="session", autouse=True)
def _collect_request_lines():
    """Every request log line of the run is scanned too, then written where it would go."""
    from radiant import request_log

    def scan_then_write(line: bytes):
        with log_scan.lock:
            log_scan.lines.append(line)
        previous(line)

    previous = request_log.write_lines_to(scan_then_write)
    yield
    request_log.write_lines_to(previous)


@pytest.fixture(scope="session", autouse=True)
def _collect_created_api_keys():
    """Remember every raw API key the run creates (the service returns it once)."""
    from tenants import services

    original = services._new_raw_key

    def new_raw_key():
        prefix, raw = original()
        with log_scan.lock:
            log_scan.keys.add(raw)
        return prefix, raw

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "_new_raw_key", new_raw_key)
        yield


@pytest.fixture(autouse=True)
def _scan_logs_after_each_test():
    yield
    log_scan.scan()


def pytest_collection_modifyitems(session, config, items):
    """The verdict on the whole run's logs comes last."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_log_secrets.py"))


@contextlib.contextmanager
def own_tenant_alias(settings, kind, *, pool_size=1):
    """The tenant API on a connection of the test's own: ``persistent`` (reused across
    requests) or ``pool`` (a psycopg pool of ``pool_size``, which no earlier test's threads
    can have drained). Created directly, as Django's test case allows for connections made
    during a test."""
    import copy

    base = copy.deepcopy(connections[settings.TENANT_DB_ALIAS].settings_dict)
    alias = f"tenant_{kind}"
    if kind == "persistent":
        base["CONN_MAX_AGE"] = None
        base["OPTIONS"].pop("pool", None)
    else:
        base["CONN_MAX_AGE"] = 0
        base["OPTIONS"]["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": 5}
    connections.settings[alias] = base
    connection = connections.create_connection(alias)
    del connections.settings[alias]
    connections[alias] = connection
    settings.TENANT_DB_ALIAS = alias
    try:
        yield alias
    finally:
        connection.close()
        if kind == "pool":
            connection.close_pool()
        del connections[alias]


# --- reference data: catalog, configuration, translations ------------------------------


@pytest.fixture
def catalog(tiers):
    """A small global catalog: two listed chat models, an embedding one, one of each hidden kind."""
    from decimal import Decimal

    from tests.helpers import make_model

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
    from configuration.models import ConfigEntry

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
    from localization.models import Language, Translation

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

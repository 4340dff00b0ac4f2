"""Dropped database connections are never a 500 (PostgreSQL only).

The faults are real: ``pg_terminate_backend`` on this test database's web-role sessions,
between requests (dead connections idle in the pool) and in the middle of them.
"""

import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from configuration.models import ConfigEntry, ConfigOverride
from tests.conftest import own_tenant_alias

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def terminate_web_sessions(*, only_pid=None) -> int:
    """Terminate the web role's sessions of this database (not other databases'), from a
    session of the operator's own (Django's connections may be inside a tenant scope)."""
    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        return conn.execute(
            # (Waits until each backend is gone: the connection is dead, not dying.)
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND usename = %s AND pid <> pg_backend_pid()"
            " AND (%s::int IS NULL OR pid = %s::int)",
            [settings.TENANT_DB_ROLE, only_pid, only_pid],
        ).fetchone()[0]


@pytest.fixture(autouse=True)
def _fresh_connections_afterwards():
    """What a server does at the end of each request, done once after the test: no later
    test inherits a connection whose backend was terminated here."""
    yield
    connections.close_all()


@pytest.fixture
def theme(tiers):
    return ConfigEntry.objects.create(key="ui.theme", value_type="string", value="light", is_overridable=True)


@pytest.fixture
def busy_client(make_tenant, api_client_for):
    return api_client_for(make_tenant("busy", tier="enterprise"))


def problem_503(response):
    return (
        response.status_code == 503
        and response["Content-Type"] == "application/problem+json"
        and response.json()["code"] == "service_unavailable"
        and int(response["Retry-After"]) >= 1
    )


@pytest.fixture
def own_pool(settings):
    """A pool of the test's own for the tenant API: its connections are the ones killed, and
    no earlier test's threads can have left it short of connections."""
    with own_tenant_alias(settings, "pool", pool_size=6) as alias:
        yield alias


def test_dead_idle_connections_in_the_pool_are_never_handed_out(theme, busy_client, own_pool):
    assert busy_client.get("/api/v1/api-keys").status_code == 200
    assert busy_client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json").status_code == 200
    connections[own_pool].close()  # the end of a request in a server: back to the pool
    assert terminate_web_sessions() >= 1  # the pool's idle connections are dead now

    # A write cannot be retried; it succeeds because the pool hands out a live connection.
    assert busy_client.put("/api/v1/config/ui.theme", {"value": "blue"}, format="json").status_code == 200
    assert busy_client.get("/api/v1/config/ui.theme").json()["value"] == "blue"
    assert busy_client.get("/api/v1/api-keys").status_code == 200


class TerminateOnce:
    """An execute wrapper on the web role's connection: before the request's first statement,
    its backend is terminated (a failover or a proxy restart at the worst moment)."""

    def __init__(self):
        self.fired = 0

    def __call__(self, execute, sql, params, many, context):
        if not self.fired:
            self.fired += 1
            assert terminate_web_sessions(only_pid=context["connection"].connection.info.backend_pid) == 1
        return execute(sql, params, many, context)


def test_a_read_that_meets_a_dropped_connection_is_retried_on_a_fresh_one(busy_client, own_pool):
    drop = TerminateOnce()
    with connections[own_pool].execute_wrapper(drop):
        response = busy_client.get("/api/v1/api-keys")
    assert drop.fired == 1
    assert response.status_code == 200
    assert [key["prefix"] for key in response.json()["results"]] == [busy_client.api_key.prefix]


def test_a_write_that_meets_a_dropped_connection_is_a_503_and_changes_nothing(theme, busy_client, own_pool):
    # The key is known first: its lookup (a read, run again on a fresh connection when it
    # meets a dropped one) is not where the connection is to drop.
    assert busy_client.get("/api/v1/tenant").status_code == 200
    drop = TerminateOnce()
    with connections[own_pool].execute_wrapper(drop):
        response = busy_client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")
    assert drop.fired == 1
    assert problem_503(response), response.content
    assert not ConfigOverride.all_tenants.exists()
    assert busy_client.get("/api/v1/config/ui.theme").json()["value"] == "light"


def test_a_cold_keys_lookup_that_meets_a_dropped_connection_is_run_again(theme, busy_client, own_pool):
    drop = TerminateOnce()
    with connections[own_pool].execute_wrapper(drop):
        response = busy_client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")
    assert drop.fired == 1
    assert response.status_code == 200  # the lookup ran again; the write, on a live connection, once
    assert busy_client.get("/api/v1/config/ui.theme").json()["value"] == "dark"


def test_terminating_connections_under_load_gives_no_500(theme, busy_client):
    """Clients in threads read and write while another session keeps terminating the web
    role's backends: every answer is a success or a 503 with Retry-After, never a 500."""
    statuses, problems = [], []
    done = threading.Event()
    lock = threading.Lock()

    def client_loop(index):
        try:
            for n in range(60):
                if n % 3 == 0:
                    response = busy_client.put("/api/v1/config/ui.theme", {"value": f"v{index}-{n}"}, format="json")
                else:
                    response = busy_client.get("/api/v1/api-keys" if n % 3 == 1 else "/api/v1/config/ui.theme")
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code >= 500 and not problem_503(response):
                        problems.append(response.content)
        finally:
            connections.close_all()

    terminated = []

    def terminator():
        # Bounded, and spaced so the pool can reconnect in between: a failover or two a
        # second, not a database that refuses every new session.
        while not done.is_set() and len(terminated) < 20:
            terminated.append(terminate_web_sessions())
            done.wait(0.2)
        connections.close_all()

    killer = threading.Thread(target=terminator)
    clients = [threading.Thread(target=client_loop, args=(index,)) for index in range(3)]
    killer.start()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    done.set()
    killer.join()

    assert sum(terminated) > 0, "no connection was terminated: the test proved nothing"
    assert len(statuses) == 180
    assert problems == []
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) > 0

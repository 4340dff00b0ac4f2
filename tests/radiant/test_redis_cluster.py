"""The cache, the rate limits, authentication and the Redis-down fallback on a Redis Cluster
of three masters (ElastiCache in cluster mode) as on a single node: each test runs on both,
started on loopback by the tests (tests/redis_servers.py).

A cluster refuses a command or script whose keys lie in different slots; a hot-path round
trip that broke that rule would fail, and the request would be admitted unchecked (the
limiter fails open) or answered from the database: the exactness and no-SQL assertions
below would catch it.
"""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.cache import cache

from bench.harness import gunicorn
from models_catalog.models import AIModel
from radiant import redis_wire
from tenants.services import api_key_create, api_key_revoke
from tests.helpers import make_model
from tests.querycount import captured_queries
from tests.radiant.test_ratelimit_concurrency import hammer
from tests.redis_servers import PrivateCluster, PrivateRedis

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.redis]

TOPOLOGIES = ["single", "cluster"]


def _start(kind):
    server = PrivateCluster() if kind == "cluster" else PrivateRedis()
    server.start()
    return server


def _close(server):
    (server.close if isinstance(server, PrivateCluster) else server.stop)()


@pytest.fixture(scope="module", params=TOPOLOGIES)
def topology(request):
    """A single node or a three-master cluster, shared by this module's tests of that kind."""
    server = _start(request.param)
    yield server
    _close(server)


@pytest.fixture
def on(topology, settings):
    """The default cache on ``topology``, empty."""
    settings.CACHES = topology.caches
    cache.clear()
    yield topology
    redis_wire.release()


@pytest.fixture
def catalog(tiers):
    make_model("gpt-4o")
    make_model("claude-3.5-sonnet", provider="anthropic")


def test_a_warm_get_runs_no_sql_and_is_counted(on, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    first, second = client.get("/api/v1/models"), client.get("/api/v1/models")

    with captured_queries() as queries:
        third = client.get("/api/v1/models")

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert queries == []  # key confirmed, limit counted and response read from the cluster
    assert third.content == first.content
    remaining = [int(r["X-RateLimit-Daily-Remaining"]) for r in (first, second, third)]
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2]


def test_a_committed_change_is_served_on_the_next_request(on, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    client.get("/api/v1/models"), client.get("/api/v1/models")

    AIModel.all_tenants.filter(slug="gpt-4o").update(display_name="Renamed")

    names = {m["slug"]: m["display_name"] for m in client.get("/api/v1/models").json()["results"]}
    assert names["gpt-4o"] == "Renamed"
    with captured_queries() as queries:
        assert client.get("/api/v1/models").status_code == 200
    assert queries == []  # and cached again


def test_a_revoked_key_fails_on_the_next_request(on, catalog, tenant, api_client_for):
    client, colleague = api_client_for(tenant), api_client_for(tenant)
    for _ in range(2):
        client.get("/api/v1/models"), colleague.get("/api/v1/models")

    api_key_revoke(prefix=client.api_key.prefix)

    response = client.get("/api/v1/models")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert colleague.get("/api/v1/models").status_code == 200


@pytest.mark.parametrize("kind", TOPOLOGIES)
def test_redis_down_answers_from_the_database(kind, settings, catalog, tenant, api_client_for):
    server = _start(kind)  # its own: this test stops it
    try:
        settings.CACHES = server.caches
        cache.clear()
        client = api_client_for(tenant)
        client.get("/api/v1/models"), client.get("/api/v1/models")

        server.stop()

        response = client.get("/api/v1/models")
        assert response.status_code == 200
        assert {m["slug"] for m in response.json()["results"]} == {"gpt-4o", "claude-3.5-sonnet"}
        assert "X-RateLimit-Limit" not in response  # admitted unchecked: nothing to report
        assert client.get("/api/v1/tenant").json()["slug"] == tenant.slug
    finally:
        redis_wire.release()
        _close(server)


@pytest.mark.postgres
def test_32_clients_on_two_workers_get_exactly_burst_plus_rate(topology, settings, make_tenant):
    """As tests/radiant/test_ratelimit_concurrency.py, with the limiter on ``topology``."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    location = topology.caches["default"]["LOCATION"]
    env = {
        "DATABASE_URL": urlunsplit(parts._replace(path="/" + settings.DATABASES["default"]["NAME"])),
        "REDIS_URL": location,
        "REDIS_CLUSTER": "1" if isinstance(topology, PrivateCluster) else "0",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "TRUSTED_PROXY_COUNT": "1",
    }
    tenant = make_tenant(tier="free", rps=10, burst=20, daily=0)
    _, raw_key = api_key_create(tenant=tenant)

    with gunicorn(env, workers=2) as url:
        results, elapsed = hammer(url, raw_key, seconds=3.0)

    admitted = results[(200, None)]
    assert set(results) <= {(200, None), (429, "rate_limited")}, results
    assert admitted <= 20 + 10 * elapsed + 1
    assert admitted >= 0.95 * (20 + 10 * 3 + 1)

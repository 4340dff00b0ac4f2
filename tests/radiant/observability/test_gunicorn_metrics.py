"""Metrics and request logs under a real gunicorn with two workers, on PostgreSQL and Redis:
every worker's requests are in the totals, whichever worker answers the scrape, also after
a worker was replaced."""

import http.client
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.harness import gunicorn
from tests.radiant.observability.test_metrics import samples, value

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True, databases="__all__")]

TOKEN = "gunicorn-metrics-token-" + "y" * 16
N = 40


@pytest.fixture
def server(tmp_path):
    from django.conf import settings

    if not (settings.POSTGRES and settings.REDIS_URL):
        pytest.skip("needs PostgreSQL and Redis")  # the markers turn this into a failure in CI
    parts = urlsplit(os.environ["DATABASE_URL"])
    multiproc = tmp_path / "prometheus"
    env = {
        "DATABASE_URL": urlunsplit(parts._replace(path="/" + settings.DATABASES["default"]["NAME"])),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    access_log, app_log = tmp_path / "access.log", tmp_path / "app.log"
    with gunicorn(env, workers=2, access_log=str(access_log), log_path=str(app_log),
                  args=("-c", "python:radiant.gunicorn_conf")) as url:
        yield url, access_log, app_log, multiproc


def get(url, path, headers):
    """One request on its own connection (sync workers take turns on new connections)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def scrape(url):
    status, body = get(url, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    return samples(body.decode())


def scrape_until(url, name, labels, expected, within=5.0):
    """A scrape once ``name`` reached ``expected``: a worker writes its requests within a
    second (radiant/metrics/prometheus.py), so the other worker's may show a scrape later.
    Never more than expected: each request is counted once."""
    deadline = time.monotonic() + within
    while True:
        found = scrape(url)
        seen = value(found, name, **labels)
        assert seen <= expected
        if seen == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def served_by(access_log, status="200"):
    lines = [line.split() for line in access_log.read_text().splitlines() if line.strip()]
    return [pid for pid, code in lines if code == status]


def test_two_workers_count_every_request_once(server, tenant, api_client_for):
    url, access_log, app_log, multiproc = server
    raw = api_client_for(tenant).raw_key
    auth = {"Authorization": f"Bearer {raw}"}

    # Batches of concurrent clients until both workers have served: while one worker is busy
    # the other accepts, but whichever is waiting first may take a whole batch.
    sent = 0
    for batch in range(20):
        with ThreadPoolExecutor(max_workers=8) as clients:
            statuses = list(clients.map(
                lambda n, batch=batch: get(url, "/api/v1/tenant", {**auth, "X-Request-ID": f"gunicorn-{batch}-{n}"})[0],
                range(N),
            ))
        assert statuses == [200] * N
        sent += N
        pids = set(served_by(access_log))
        if len(pids) == 2:
            break
    assert len(pids) == 2, "both workers served requests"
    labels = {"route": "/api/v1/tenant", "method": "GET", "status_class": "2xx"}
    found = scrape_until(url, "radiant_http_request_duration_seconds_count", labels, sent)
    assert value(found, "radiant_http_request_duration_seconds_count", **labels) == sent
    assert value(found, "radiant_http_requests_by_tier_total", tier="professional", status_class="2xx") == sent
    assert value(found, "radiant_ratelimit_decisions_total", scope="tenant", outcome="allowed") == sent
    assert sorted(os.listdir(multiproc))  # the workers' files

    # One worker is replaced: what it counted stays in the totals.
    os.kill(int(sorted(pids)[0].strip("<>")), signal.SIGTERM)
    more = [get(url, "/api/v1/tenant", auth)[0] for _ in range(N)]
    assert more == [200] * N
    found = scrape_until(url, "radiant_http_request_duration_seconds_count", labels, sent + N)
    assert value(found, "radiant_http_request_duration_seconds_count", **labels) == sent + N

    # Requests that run SQL (the key list is not cached) show the workers' pools.
    assert [get(url, "/api/v1/api-keys", auth)[0] for _ in range(6)] == [200] * 6
    keys = {"route": "/api/v1/api-keys", "method": "GET", "status_class": "2xx"}
    found = scrape_until(url, "radiant_http_request_duration_seconds_count", keys, 6)
    assert value(found, "radiant_db_queries_total") > 0
    pool_max = value(found, "radiant_db_pool_connections", alias="tenant", state="max")
    assert pool_max > 0 and pool_max % 10 == 0  # DB_POOL_MAX (10) for each live worker with a pool

    # One log line per request, from both workers, never with the key in it.
    text = app_log.read_text()
    assert raw not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    tenant_lines = [line for line in lines if line.get("event") == "request" and line["route"] == "/api/v1/tenant"]
    assert len(tenant_lines) == sent + N  # the key-list requests are on their own route
    assert all(line["tenant"] == str(tenant.id) and line["status"] == 200 for line in tenant_lines)
    assert {line["request_id"] for line in tenant_lines} >= {f"gunicorn-0-{n}" for n in range(N)}


def test_the_scrape_refuses_a_tenant_key(server, tenant, api_client_for):
    url, *_ = server
    raw = api_client_for(tenant).raw_key

    status, body = get(url, "/metrics", {"Authorization": f"Bearer {raw}"})

    assert status == 401
    assert b"radiant_" not in body

"""Exactness under real concurrency: a real gunicorn with two
worker processes on PostgreSQL + Redis, and 32 concurrent HTTP clients on 127.0.0.1."""

import http.client
import os
import threading
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.harness import gunicorn

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.postgres,
    pytest.mark.redis,
]

CLIENTS = 32


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """gunicorn, 2 sync workers, DEBUG off, on the test database and this run's Redis."""
    from django.conf import settings

    if not (settings.POSTGRES and settings.REDIS_URL):
        pytest.skip("needs PostgreSQL and Redis")  # the markers turn this into a failure in CI
    parts = urlsplit(os.environ["DATABASE_URL"])
    test_db = settings.DATABASES["default"]["NAME"]
    access_log = tmp_path_factory.mktemp("gunicorn") / "access.log"
    env = {
        "DATABASE_URL": urlunsplit(parts._replace(path="/" + test_db)),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "RATELIMIT_ENABLED": "1",
        "TRUSTED_PROXY_COUNT": "1",  # each test sends as its own client address
        "RATELIMIT_IP_BURST": "20",
        "RATELIMIT_IP_RPS": "1",
    }
    with gunicorn(env, workers=2, access_log=str(access_log)) as url:
        yield url, access_log


def hammer(url, raw_key, *, seconds, address="192.0.2.1"):
    """CLIENTS threads send GET /api/v1/tenant back to back for ``seconds``, from
    ``address`` (as the trusted proxy reports it). Returns (Counter of (status, problem
    code), elapsed seconds).

    The ``seconds`` run from the first response: the bucket starts when the server sees the
    first request, and on a loaded machine the clients' first connections can take a while,
    which would otherwise shorten the window the limiter had to admit in. ``elapsed`` runs
    from before the first request was sent to the last response, so it covers every
    admission the server made."""
    host = urlsplit(url)
    barrier = threading.Barrier(CLIENTS + 1)
    results = Counter()
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {raw_key}", "X-Forwarded-For": address}
    clock = {}

    def client():
        seen = Counter()
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        barrier.wait()
        while time.monotonic() < clock["deadline"]:
            connection.request("GET", "/api/v1/tenant", headers=headers)
            response = connection.getresponse()
            with lock:
                if clock["deadline"] == float("inf"):
                    clock["deadline"] = time.monotonic() + seconds
            body = response.read()
            code = None
            if response.status == 429:
                code = "daily_quota_exceeded" if b"daily_quota_exceeded" in body else "rate_limited"
            seen[(response.status, code)] += 1
        connection.close()
        with lock:
            results.update(seen)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    clock["start"] = time.monotonic()
    clock["deadline"] = float("inf")  # set by the first response
    barrier.wait()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - clock["start"]


def worker_pids(access_log, status):
    lines = access_log.read_text().split("\n")
    return {line.split()[0] for line in lines if line.strip() and line.split()[1] == str(status)}


def test_32_clients_on_two_workers_get_exactly_burst_plus_rate(server, make_tenant):
    """rps 10, burst 20, hammered for 3 s: admitted ≤ 20 + 10·t + 1 and ≥ 95% of 20 + 10·3 + 1.

    t is measured from the first request sent to the last response received, so it contains
    every admission the server made: 3 s plus the tail of the requests still in flight at
    the deadline (typically < 0.2 s, which the + 1 of 20 + 10·3 + 1 covers up to 0.2 s).
    """
    from tenants.services import api_key_create

    url, access_log = server
    access_log.write_text("")
    tenant = make_tenant(tier="free", rps=10, burst=20, daily=0)
    _, raw_key = api_key_create(tenant=tenant)

    results, elapsed = hammer(url, raw_key, seconds=3.0)

    admitted = results[(200, None)]
    print(f"\nadmitted {admitted} of {sum(results.values())} requests in {elapsed:.2f} s: {dict(results)}")
    assert set(results) <= {(200, None), (429, "rate_limited")}, results
    assert admitted <= 20 + 10 * elapsed + 1
    assert admitted >= 0.95 * (20 + 10 * 3 + 1)
    assert results[(429, "rate_limited")] > 10 * admitted  # it really was hammered
    assert len(worker_pids(access_log, 200)) == 2  # both processes admitted from one bucket


def test_32_clients_on_two_workers_get_exactly_the_daily_quota(server, make_tenant):
    from tenants.services import api_key_create

    url, access_log = server
    access_log.write_text("")
    tenant = make_tenant(tier="free", rps=10_000, burst=10_000, daily=30)
    _, raw_key = api_key_create(tenant=tenant)

    results, _ = hammer(url, raw_key, seconds=1.0)

    print(f"\n{dict(results)}")
    assert results[(200, None)] == 30
    assert set(results) == {(200, None), (429, "daily_quota_exceeded")}
    assert len(worker_pids(access_log, 429)) == 2


def test_32_clients_on_two_workers_get_exactly_the_failure_budget_of_their_address(server, tenant):
    """Bad keys from one address (burst 20, 1/s), across both workers: at most
    20 + 1·t + 1 get their 401, the rest 429; and valid keys from elsewhere still work."""
    url, access_log = server
    access_log.write_text("")

    results, elapsed = hammer(url, "rad_abcdefgh_" + "x" * 55, seconds=1.0, address="198.51.100.66")

    print(f"\n{dict(results)} in {elapsed:.2f} s")
    assert set(results) == {(401, None), (429, "rate_limited")}
    assert 20 <= results[(401, None)] <= 20 + 1 * elapsed + 1
    assert len(worker_pids(access_log, 429)) == 2


def test_a_valid_key_is_never_refused_for_the_address_it_shares_with_a_guesser(server, make_tenant):
    """A guesser exhausts its address's failure budget on both workers; a real client behind
    the same address (a company NAT, API Gateway) keeps getting through on both, and the
    guesser stays refused: every process decides from the shared limiter."""
    from tenants.services import api_key_create

    url, access_log = server
    access_log.write_text("")
    _, raw_key = api_key_create(tenant=make_tenant(tier="enterprise"))
    address = "198.51.100.77"

    guesses, _ = hammer(url, "rad_abcdefgh_" + "x" * 55, seconds=1.0, address=address)
    assert guesses[(429, "rate_limited")] > 0
    spent = time.monotonic()  # the budget is empty from here, refilled at 1 token a second
    access_log.write_text("")
    valid, _ = hammer(url, raw_key, seconds=1.0, address=address)
    assert set(valid) == {(200, None)}, valid
    assert len(worker_pids(access_log, 200)) == 2
    again, _ = hammer(url, "rad_abcdefgh_" + "x" * 55, seconds=0.3, address=address)
    assert again[(429, "rate_limited")] > 0
    assert again[(401, None)] <= 1 * (time.monotonic() - spent) + 1  # what refilled meanwhile, no more

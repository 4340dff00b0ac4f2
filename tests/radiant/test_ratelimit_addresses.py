"""The budget of a client address: requests without a valid key cost their address a token;
valid keys never do (DESIGN.md §5), and what the client address is.

These run against whichever limiter the settings select, as test_ratelimit_api.py does.
"""

import contextlib
import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from radiant.client_ip import client_ip
from tests.radiant.test_ratelimit_api import remaining

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def strict_ip_limits(settings):
    """A client address may fail 3 times; the budget comes back at one per 1000 s."""
    settings.RATELIMIT_IP_BURST = 3
    settings.RATELIMIT_IP_RPS = 0.001


def test_requests_without_a_key_are_limited_per_address(strict_ip_limits, anon_client):
    responses = [anon_client.get("/api/v1/tenant") for _ in range(5)]

    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
    assert [r.json()["code"] for r in responses[3:]] == ["rate_limited"] * 2
    assert [remaining(r) for r in responses] == [2, 1, 0, 0, 0]
    assert int(responses[3]["Retry-After"]) == 1000


def test_guessed_keys_cost_no_database_work_and_are_limited_per_address(strict_ip_limits, tenant, api_client_for):
    guesser = APIClient(REMOTE_ADDR="203.0.113.9")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer rad_abcdefgh_" + "x" * 55)
    aliases = [alias for alias in ("default", "tenant") if alias in connections]

    with contextlib.ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in aliases]
        responses = [guesser.get("/api/v1/tenant") for _ in range(5)]
    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
    assert responses[3].json()["code"] == "rate_limited"
    assert [len(queries) for queries in captured] == [0] * len(aliases)  # no lookup of a guess, ever

    # A valid key is never refused for its address (many clients share one behind a NAT).
    valid = api_client_for(tenant)
    valid.defaults["REMOTE_ADDR"] = "203.0.113.9"
    assert [valid.get("/api/v1/tenant").status_code for _ in range(10)] == [200] * 10
    assert guesser.get("/api/v1/tenant").status_code == 429  # and the guesser is still refused


def test_a_refused_address_is_let_in_again_when_its_next_token_is_due(settings):
    settings.RATELIMIT_IP_BURST = 1
    settings.RATELIMIT_IP_RPS = 20  # a token every 50 ms
    client = APIClient(REMOTE_ADDR="198.51.100.20")
    client.credentials(HTTP_AUTHORIZATION="Bearer rad_abcdefgh_" + "x" * 55)

    assert client.get("/api/v1/tenant").status_code == 401  # took the only token
    refused = client.get("/api/v1/tenant")
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    time.sleep(0.06)
    assert client.get("/api/v1/tenant").status_code == 401  # not held back any longer


def test_malformed_credentials_count_as_failures(strict_ip_limits):
    client = APIClient(REMOTE_ADDR="198.51.100.1")
    headers = ["Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-key", "Bearer rad_short_x"]
    statuses = [client.get("/api/v1/tenant", HTTP_AUTHORIZATION=h).status_code for h in headers]
    assert statuses == [401, 401, 401, 429]


def test_valid_keys_cost_the_address_nothing(strict_ip_limits, make_tenant, api_client_for):
    client = api_client_for(make_tenant(tier="business"))
    assert [client.get("/api/v1/tenant").status_code for _ in range(10)] == [200] * 10

    failing = APIClient()  # same address, 127.0.0.1
    assert [failing.get("/api/v1/tenant").status_code for _ in range(4)] == [401, 401, 401, 429]


def test_forwarded_for_is_trusted_only_as_far_as_configured(settings, strict_ip_limits):
    def statuses(forwarded_values, remote="10.0.0.254"):
        client = APIClient(REMOTE_ADDR=remote)
        return [client.get("/api/v1/tenant", HTTP_X_FORWARDED_FOR=v).status_code for v in forwarded_values]

    # No trusted proxy: X-Forwarded-For is ignored, rotating it does not buy new budgets.
    settings.TRUSTED_PROXY_COUNT = 0
    assert statuses([f"192.0.2.{i}" for i in range(4)]) == [401, 401, 401, 429]

    # One trusted proxy (API Gateway): the right-most entry is the client; what the client
    # put to the left of it is ignored.
    settings.TRUSTED_PROXY_COUNT = 1
    assert statuses([f"6.6.6.{i}, 192.0.2.77" for i in range(4)]) == [401, 401, 401, 429]
    assert statuses(["192.0.2.78"]) == [401]  # another client, its own budget

    # Garbage in the header is never an error: it falls back to REMOTE_ADDR.
    settings.TRUSTED_PROXY_COUNT = 2
    garbage = ["", ",,,", "x" * 4000, "[::1]:80, 1.2.3.4", "\u00e9\u00e9, 300.1.1.1", "1.1.1.1,,"]
    assert statuses(garbage, remote="10.0.0.253") == [401, 401, 401, 429, 429, 429]


@pytest.mark.parametrize(
    "trusted, forwarded, remote, expected",
    [
        (0, "1.1.1.1", "10.0.0.1", "10.0.0.1"),
        (1, "1.1.1.1", "10.0.0.1", "1.1.1.1"),
        (1, "9.9.9.9, 1.1.1.1", "10.0.0.1", "1.1.1.1"),
        (2, "9.9.9.9, 1.1.1.1, 10.1.1.1", "10.0.0.1", "1.1.1.1"),
        (2, "1.1.1.1", "10.0.0.1", "10.0.0.1"),  # fewer hops than proxies
        (1, "not-an-ip", "10.0.0.1", "10.0.0.1"),
        (1, "1.1.1.1:443", "10.0.0.1", "10.0.0.1"),
        (1, "", "10.0.0.1", "10.0.0.1"),
        (1, " 2001:db8:1:2:3:4:5:6 ", "10.0.0.1", "2001:db8:1:2::/64"),
        (1, "::ffff:192.0.2.1", "10.0.0.1", "192.0.2.1"),
        (0, None, "garbage", "unknown"),
    ],
)
def test_client_ip(rf, settings, trusted, forwarded, remote, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(rf.get("/", **extra)) == expected



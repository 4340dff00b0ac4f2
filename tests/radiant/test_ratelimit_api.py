"""Rate limits as a tenant sees them through the API (DESIGN.md §5).

These run against whichever limiter the settings select: Redis with REDIS_URL (CI), the
in-process one in the embedded default. Tests that need Redis itself are marked.
"""

import math
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from radiant import cache_keys
from radiant.ratelimit import backends, script
from tests.utc import seconds_to_utc_midnight

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def limit_headers(response):
    return {name: response.headers.get(name) for name in LIMIT_HEADERS}


def remaining(response):
    return int(response.headers["X-RateLimit-Remaining"])


# --- headers ----------------------------------------------------------------------------


@pytest.mark.urls("tests.throttle_urls")
def test_every_tenant_response_carries_the_rate_limit_headers(make_tenant, api_client_for):
    tenant = make_tenant(tier="free", rps=1, burst=6)
    client = api_client_for(tenant)

    responses = {
        200: client.get("/api/v1/tenant"),
        404: client.get("/api/v1/api-keys/nosuchkey"),
        405: client.post("/api/v1/tenant", {}, format="json"),
        500: client.get("/api/v1/explode"),
    }
    for _ in range(20):  # the 6 tokens run out (refill is 1/s)
        responses[429] = client.get("/api/v1/tenant")
        if responses[429].status_code == 429:
            break

    for status, response in responses.items():
        assert response.status_code == status, (status, response.content)
        assert response.headers["X-RateLimit-Limit"] == "6", status
        assert response.headers["X-RateLimit-Remaining"].isdigit(), status
        assert response.headers["X-RateLimit-Reset"].isdigit(), status
        # The free tier's daily quota is reported alongside.
        assert response.headers["X-RateLimit-Daily-Limit"] == "1000", status
    assert remaining(responses[200]) == 5
    assert int(responses[200]["X-RateLimit-Daily-Remaining"]) == 999
    assert remaining(responses[429]) == 0
    assert responses[429].json()["code"] == "rate_limited"
    assert responses[429]["Content-Type"] == "application/problem+json"
    assert responses[429]["Retry-After"] == "1"  # the next token is under a second away


def test_suspended_tenants_403_carries_the_headers_too(make_tenant, api_client_for):
    from tenants.services import tenant_set_status

    tenant = make_tenant(tier="free")
    client = api_client_for(tenant)
    tenant_set_status(tenant=tenant, status="suspended")

    response = client.get("/api/v1/tenant")

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    assert limit_headers(response) == {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "19", "X-RateLimit-Reset": "1"}


def test_unlimited_daily_quota_sends_no_daily_headers(make_tenant, api_client_for):
    tenant = make_tenant(tier="enterprise")

    response = api_client_for(tenant).get("/api/v1/tenant")

    assert response.status_code == 200
    assert limit_headers(response) == {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "1"}
    assert "X-RateLimit-Daily-Limit" not in response.headers


def test_headers_off_when_rate_limiting_is_disabled(settings, make_tenant, api_client_for):
    settings.RATELIMIT_ENABLED = False
    tenant = make_tenant(tier="free", rps=1, burst=1)
    client = api_client_for(tenant)

    statuses = [client.get("/api/v1/tenant").status_code for _ in range(5)]

    assert statuses == [200] * 5
    assert "X-RateLimit-Limit" not in client.get("/api/v1/tenant").headers


# --- bucket -------------------------------------------------------------------------------


def test_burst_then_429_rate_limited_with_retry_after(make_tenant, api_client_for):
    tenant = make_tenant(tier="free", rps=1, burst=5, daily=0)
    client = api_client_for(tenant)

    responses = [client.get("/api/v1/tenant") for _ in range(7)]

    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    assert [remaining(r) for r in responses] == [4, 3, 2, 1, 0, 0, 0]
    refused = responses[-1]
    assert refused.json() == {
        "type": "https://docs.radiant.example/problems/rate_limited",
        "title": "Too many requests",
        "status": 429,
        "detail": refused.json()["detail"],
        "code": "rate_limited",
        "request_id": refused["X-Request-ID"],
    }
    assert refused["Retry-After"] == "1"
    assert refused["X-RateLimit-Reset"] == "5"  # 5 tokens at 1/s


# --- daily quota ------------------------------------------------------------------


def test_daily_quota_admits_exactly_30_then_daily_quota_exceeded(make_tenant, api_client_for, not_near_midnight):
    tenant = make_tenant(tier="free", rps=100, burst=100, daily=30)
    client = api_client_for(tenant)

    statuses = [client.get("/api/v1/tenant").status_code for _ in range(30)]
    before = time.time()
    refused = client.get("/api/v1/tenant")
    after = time.time()

    assert statuses == [200] * 30
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "daily_quota_exceeded"
    assert body["title"] == "Daily quota exceeded"
    retry_after = int(refused["Retry-After"])
    assert seconds_to_utc_midnight(after) <= retry_after <= seconds_to_utc_midnight(before)
    assert refused["X-RateLimit-Daily-Reset"] == refused["Retry-After"]
    assert refused["X-RateLimit-Daily-Limit"] == "30"
    assert refused["X-RateLimit-Daily-Remaining"] == "0"
    # Still refused on a later request, and the refusals take nothing from the bucket.
    again = client.get("/api/v1/tenant")
    assert again.json()["code"] == "daily_quota_exceeded"
    assert remaining(again) >= remaining(refused)


def test_bucket_refusals_consume_no_daily_quota(make_tenant, api_client_for, not_near_midnight):
    tenant = make_tenant(tier="free", rps=1, burst=2, daily=3)
    client = api_client_for(tenant)

    admitted = [client.get("/api/v1/tenant") for _ in range(2)]
    refused = [client.get("/api/v1/tenant") for _ in range(5)]

    assert [r.status_code for r in admitted] == [200, 200]
    assert {(r.status_code, r.json()["code"]) for r in refused} == {(429, "rate_limited")}
    assert {r["X-RateLimit-Daily-Remaining"] for r in refused} == {"1"}

    # Refill the bucket at once (a much higher rate): exactly one request of the quota is left.
    tenant.rps_override, tenant.burst_override = 10_000, 10_000
    tenant.save()
    last = client.get("/api/v1/tenant")
    over = client.get("/api/v1/tenant")
    assert last.status_code == 200
    assert over.status_code == 429 and over.json()["code"] == "daily_quota_exceeded"


def test_daily_quota_refusals_consume_no_tokens(make_tenant, api_client_for, not_near_midnight):
    tenant = make_tenant(tier="free", rps=1, burst=10, daily=3)
    client = api_client_for(tenant)

    admitted = [client.get("/api/v1/tenant") for _ in range(3)]
    refused = [client.get("/api/v1/tenant") for _ in range(5)]

    assert [r.status_code for r in admitted] == [200] * 3
    assert {r.json()["code"] for r in refused} == {"daily_quota_exceeded"}
    assert min(remaining(r) for r in refused) >= 7  # 10 - 3, whatever the refusals

    tenant.daily_quota_override = 100
    tenant.save()
    response = client.get("/api/v1/tenant")
    assert response.status_code == 200
    assert remaining(response) >= 6  # had the 5 refusals cost tokens, at most 1 would be left


# --- limits follow tier edits -------------------------------------------------------


def test_tier_edit_in_the_admin_applies_on_the_next_request(make_tenant, api_client_for):
    from tenants.models import Tier

    tenant = make_tenant(tier="free")
    client = api_client_for(tenant)
    first = client.get("/api/v1/tenant")
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Daily-Limit"]) == ("20", "1000")

    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "pw")
    admin = Client()
    admin.force_login(operator)
    tier = Tier.objects.get(name="free")
    saved = admin.post(
        f"/admin/tenants/tier/{tier.pk}/change/",
        {"name": "free", "rps": "1", "burst": "2", "daily_quota": "3", "_save": "Save"},
    )
    assert saved.status_code == 302, saved.content

    responses = [client.get("/api/v1/tenant") for _ in range(3)]
    assert responses[0].status_code == 200
    assert (responses[0]["X-RateLimit-Limit"], responses[0]["X-RateLimit-Daily-Limit"]) == ("2", "3")
    assert remaining(responses[0]) == 1  # 19 tokens clamp to the new capacity of 2
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json()["code"] == "daily_quota_exceeded"  # 3 used today: 1 + 2


def test_tier_edit_by_orm_applies_on_the_next_request(make_tenant, api_client_for):
    from tenants.models import Tier

    tenant = make_tenant(tier="free")
    client = api_client_for(tenant)
    assert client.get("/api/v1/tenant")["X-RateLimit-Limit"] == "20"

    Tier.objects.filter(name="free").update(rps=1, burst=1)

    responses = [client.get("/api/v1/tenant") for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert responses[1].json()["code"] == "rate_limited"

    Tier.objects.filter(name="free").update(rps=500, burst=1000)
    assert client.get("/api/v1/tenant")["X-RateLimit-Limit"] == "1000"


# --- who shares a bucket ------------------------------------------------------------


def test_tenants_never_share_a_bucket_and_a_tenants_keys_do(make_tenant, api_client_for):
    tenant_a = make_tenant(tier="free", rps=1, burst=3)
    tenant_b = make_tenant(tier="free", rps=1, burst=3)
    key_1, key_2 = api_client_for(tenant_a), api_client_for(tenant_a)
    other = api_client_for(tenant_b)

    sequence = [key_1.get("/api/v1/tenant"), key_2.get("/api/v1/tenant"), key_1.get("/api/v1/tenant")]
    assert [remaining(r) for r in sequence] == [2, 1, 0]  # one bucket for both keys
    assert key_2.get("/api/v1/tenant").status_code == 429
    assert key_1.get("/api/v1/tenant").status_code == 429

    untouched = other.get("/api/v1/tenant")
    assert untouched.status_code == 200
    assert remaining(untouched) == 2  # tenant B's bucket was full

    assert cache_keys.ratelimit_tenant(tenant_a.id) != cache_keys.ratelimit_tenant(tenant_b.id)


# --- every key has an expiry ------------------------------------------------------


@pytest.mark.redis
def test_every_key_the_limiter_writes_has_an_expiry(make_tenant, api_client_for, anon_client, not_near_midnight):
    from django.core.cache import cache
    from django_redis import get_redis_connection

    limited = make_tenant(tier="free")  # bucket + daily counter
    unlimited = make_tenant(tier="enterprise")  # bucket only
    started = time.time()
    for client in (api_client_for(limited), api_client_for(unlimited)):
        for _ in range(3):
            assert client.get("/api/v1/tenant").status_code == 200
    anon_client.get("/api/v1/tenant")  # no key: charged to 127.0.0.1
    bad = APIClient(REMOTE_ADDR="10.9.8.7")
    bad.credentials(HTTP_AUTHORIZATION="Bearer rad_abcdefgh_" + "x" * 55)
    assert bad.get("/api/v1/tenant").status_code == 401

    redis = get_redis_connection("default")
    written = {key.decode(): redis.pttl(key) for key in redis.scan_iter(match="*ratelimit:*")}

    expected = {
        cache.make_key(cache_keys.ratelimit_tenant(limited.id)),
        cache.make_key(cache_keys.ratelimit_tenant_daily(limited.id)),
        cache.make_key(cache_keys.ratelimit_tenant(unlimited.id)),
        cache.make_key(cache_keys.ratelimit_ip("127.0.0.1")),
        cache.make_key(cache_keys.ratelimit_ip("10.9.8.7")),
    }
    assert set(written) == expected
    assert all(ttl > 0 for ttl in written.values()), written
    daily = written[cache.make_key(cache_keys.ratelimit_tenant_daily(limited.id))]
    assert daily <= (seconds_to_utc_midnight(started) + script.DAILY_KEY_GRACE) * 1000
    bucket = written[cache.make_key(cache_keys.ratelimit_tenant(limited.id))]
    assert bucket <= math.ceil(3 / 10 * 1000) + script.BUCKET_KEY_GRACE_MS  # 3 tokens at 10/s


# --- Redis unreachable ----------------------------------------------------------------


@pytest.fixture
def warnings_seen():
    backends._last_warning[0] = 0.0  # let the test see the (rate-limited) warning


@pytest.mark.redis
def test_fail_open_admits_and_counts_when_redis_is_down(
    settings, private_redis, warnings_seen, make_tenant, api_client_for, caplog
):
    settings.RATELIMIT_FAIL_OPEN = True
    client = api_client_for(make_tenant(tier="free", rps=1, burst=2))
    assert [client.get("/api/v1/tenant").status_code for _ in range(3)] == [200, 200, 429]  # the private one limits
    before = backends.stats()["unavailable"]

    private_redis.stop()
    with caplog.at_level("WARNING", logger="radiant.ratelimit"):
        responses = [client.get("/api/v1/tenant") for _ in range(3)]
        anonymous = APIClient().get("/api/v1/tenant")

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[0].headers  # nothing known to report
    assert anonymous.status_code == 401
    assert backends.stats()["unavailable"] == before + 4  # one check per request
    assert any("rate limiter unavailable" in r.getMessage() and "admitting" in r.getMessage() for r in caplog.records)


@pytest.mark.redis
def test_fail_closed_answers_503_when_redis_is_down(settings, private_redis, make_tenant, api_client_for):
    settings.RATELIMIT_FAIL_OPEN = False
    client = api_client_for(make_tenant(tier="free"))
    assert client.get("/api/v1/tenant").status_code == 200

    private_redis.stop()
    response = client.get("/api/v1/tenant")
    anonymous = APIClient().get("/api/v1/tenant")

    for refused in (response, anonymous):
        assert refused.status_code == 503
        assert refused.json()["code"] == "service_unavailable"
        assert refused["Retry-After"] == "1"


@pytest.mark.redis
def test_script_is_reloaded_after_the_server_forgets_it(private_redis, make_tenant, api_client_for):
    client = api_client_for(make_tenant(tier="free"))
    assert remaining(client.get("/api/v1/tenant")) == 19

    assert private_redis.command(b"SCRIPT FLUSH\r\n").startswith(b"+OK")  # the private server only; as after a failover

    response = client.get("/api/v1/tenant")
    assert response.status_code == 200
    assert remaining(response) == 18

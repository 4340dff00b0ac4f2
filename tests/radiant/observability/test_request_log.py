"""The request log line: one JSON object per request, with the fields an operator reads."""

import json
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.test import APIClient

from radiant import metrics
from radiant.urls import urlpatterns as project_urlpatterns
from tests.helpers import make_model
from tests.querycount import captured_queries

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def charge_view(request):
    """Stands in for a charge: reports an amount as the billing service does."""
    from django.http import JsonResponse

    metrics.credits_charged(Decimal("0.001234567"))
    metrics.credits_charged(Decimal("0.000000001"))
    return JsonResponse({"ok": True})


urlpatterns = [path("test-charge", charge_view), *project_urlpatterns]


def test_a_tenant_read_logs_one_line_with_every_field(request_lines, tenant, api_client_for):
    make_model("gpt-4o")
    client = api_client_for(tenant)

    with captured_queries() as queries:
        cold = client.get("/api/v1/models")
    warm = client.get("/api/v1/models")

    assert cold.status_code == warm.status_code == 200
    first, second = request_lines.requests()
    assert first["logger"] == "radiant.request" and first["level"] == "INFO"
    assert first["method"] == "GET"
    assert first["route"] == "/api/v1/models"
    assert first["status"] == 200
    assert first["tenant"] == str(tenant.id)
    assert first["tenant_slug"] == "tenant-a"
    assert first["tier"] == "professional"
    assert first["key_prefix"] == client.api_key.prefix
    assert first["throttle"] == "allowed" and first["throttle_scope"] == "tenant"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
    assert first["timestamp"]
    # The statements the request sent, as Django's own capture counts them (it lists
    # transaction control too, which is not a statement sent through a cursor).
    statements = [q for q in queries if q["sql"] not in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert first["db_queries"] == len(statements) > 0
    assert first["db_ms"] > 0
    assert (first["cache_hits"], first["cache_misses"]) == (0, 1)
    assert (second["cache_hits"], second["cache_misses"]) == (1, 0)
    assert "charge" not in first and "redis_errors" not in first
    assert client.raw_key not in json.dumps(request_lines.text)


def test_route_is_the_pattern_not_the_path(request_lines, tenant, api_client_for):
    make_model("gpt-4o")
    client = api_client_for(tenant)

    client.get("/api/v1/models/gpt-4o")
    client.get("/api/v1/models/no-such-model")
    client.get("/api/v1/no-such-endpoint")
    client.get("/no-such-page")

    found, missing, api_unmatched, unmatched = request_lines.requests()
    assert found["route"] == missing["route"] == "/api/v1/models/<str:slug>"
    assert (found["status"], missing["status"]) == (200, 404)
    assert api_unmatched["route"] == unmatched["route"] == "<unmatched>"  # no pattern: never the raw path
    assert api_unmatched["status"] == unmatched["status"] == 404
    assert "gpt-4o" not in json.dumps([found, missing])
    assert "no-such" not in json.dumps([api_unmatched, unmatched])


def test_a_refused_request_logs_the_throttle_outcome(request_lines, not_near_midnight, make_tenant, api_client_for):
    client = api_client_for(make_tenant(tier="free", daily=1))

    assert [client.get("/api/v1/tenant").status_code for _ in range(2)] == [200, 429]

    admitted, refused = request_lines.requests()
    assert admitted["throttle"] == "allowed"
    assert refused["throttle"] == "daily_quota_exceeded" and refused["throttle_scope"] == "tenant"
    assert refused["status"] == 429 and refused["tier"] == "free"


def test_an_unauthenticated_request_is_limited_and_logged_per_address(request_lines, tiers):
    response = APIClient(REMOTE_ADDR="198.51.100.23").get("/api/v1/tenant")

    assert response.status_code == 401
    (line,) = request_lines.requests()
    assert "tenant" not in line and "tier" not in line
    assert line["throttle"] == "allowed" and line["throttle_scope"] == "ip"
    assert line["client_ip"] == "198.51.100.23"


@override_settings(ROOT_URLCONF=__name__)
def test_a_charge_logs_its_exact_amount(request_lines, tiers):
    APIClient().get("/test-charge")

    (line,) = request_lines.requests()
    assert line["charge"] == "0.001234568"
    assert line["route"] == "/test-charge"


def test_the_log_line_and_metrics_switch_off(request_lines, settings, tenant, api_client_for):
    settings.REQUEST_LOG = False
    settings.METRICS_ENABLED = False
    client = api_client_for(tenant)  # a new client builds its middleware chain from the settings

    assert client.get("/api/v1/tenant").status_code == 200
    assert request_lines.requests() == []


def test_a_5xx_is_logged_as_an_error(request_lines, settings, tenant, api_client_for):
    settings.ROOT_URLCONF = "tests.failing_urls"
    client = api_client_for(tenant)
    client.raise_request_exception = False

    response = client.get("/test/fail-after-query")

    assert response.status_code == 500
    line = next(line for line in request_lines.requests() if line["status"] == 500)
    assert line["level"] == "ERROR"


@pytest.mark.redis
def test_redis_down_shows_in_the_log_line(settings, private_redis, request_lines, make_tenant, api_client_for):
    settings.RATELIMIT_FAIL_OPEN = True
    client = api_client_for(make_tenant(tier="free"))
    assert client.get("/api/v1/tenant").status_code == 200

    private_redis.stop()
    response = client.get("/api/v1/tenant")

    assert response.status_code == 200
    line = request_lines.requests()[-1]
    assert line["throttle"] == "fail_open"
    assert line["redis_errors"] >= 1


def test_the_line_carries_the_request_id_the_client_got(request_lines, tenant, api_client_for):
    client = api_client_for(tenant)

    chosen = client.get("/api/v1/tenant", HTTP_X_REQUEST_ID="trace-abc.123")
    generated = client.get("/api/v1/tenant")

    first, second = request_lines.requests()
    assert first["request_id"] == chosen["X-Request-ID"] == "trace-abc.123"
    assert second["request_id"] == generated["X-Request-ID"] != "trace-abc.123"

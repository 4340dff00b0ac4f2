"""Prometheus metrics: the values requests leave, and who may read them."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.helpers import make_model

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TOKEN = "metrics-token-for-tests-" + "x" * 16


def samples(text):
    """{(sample name, frozenset of labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = TOKEN

    def read():
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return samples(response.content.decode())

    return read


def test_requests_are_counted_by_route_template_status_class_and_tier(scrape, make_tenant, api_client_for):
    make_model("gpt-4o")
    client = api_client_for(make_tenant(tier="starter"))
    before = scrape()

    for path in ("/api/v1/models", "/api/v1/models", "/api/v1/models/gpt-4o", "/api/v1/models/nope"):
        client.get(path)
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    duration = "radiant_http_request_duration_seconds_count"
    assert delta(duration, route="/api/v1/models", method="GET", status_class="2xx") == 2
    assert delta(duration, route="/api/v1/models/<str:slug>", method="GET", status_class="2xx") == 1
    assert delta(duration, route="/api/v1/models/<str:slug>", method="GET", status_class="4xx") == 1
    assert delta("radiant_http_requests_by_tier_total", tier="starter", status_class="2xx") == 3
    assert delta("radiant_ratelimit_decisions_total", scope="tenant", outcome="allowed") == 4
    # the list: built once, then served from the cache; each detail built once
    assert delta("radiant_cache_misses_total") == 2
    assert delta("radiant_cache_hits_total") == 1
    assert delta("radiant_db_queries_total") > 0
    # no label carries a raw path or an id
    assert not any("gpt-4o" in str(labels) or "nope" in str(labels) for _, labels in after)


def test_limits_and_unauthenticated_requests_are_counted(scrape, not_near_midnight, make_tenant, api_client_for):
    client = api_client_for(make_tenant(tier="free", daily=1))
    before = scrape()

    client.get("/api/v1/tenant")
    client.get("/api/v1/tenant")
    APIClient().get("/api/v1/tenant")
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("radiant_ratelimit_decisions_total", scope="tenant", outcome="daily_quota_exceeded") == 1
    assert delta("radiant_ratelimit_decisions_total", scope="ip", outcome="allowed") == 1
    assert delta("radiant_http_requests_by_tier_total", tier="none", status_class="4xx") == 1
    assert delta("radiant_http_requests_by_tier_total", tier="free", status_class="4xx") == 1


@pytest.mark.redis
def test_redis_errors_and_fail_open_admissions_are_counted(scrape, settings, private_redis, make_tenant, api_client_for):
    settings.RATELIMIT_FAIL_OPEN = True
    client = api_client_for(make_tenant(tier="free"))
    assert client.get("/api/v1/tenant").status_code == 200
    before = scrape()

    private_redis.stop()
    assert client.get("/api/v1/tenant").status_code == 200
    after = scrape()

    assert value(after, "radiant_ratelimit_fail_open_admissions_total") - value(
        before, "radiant_ratelimit_fail_open_admissions_total") == 1
    assert value(after, "radiant_redis_errors_total", component="ratelimit") > value(
        before, "radiant_redis_errors_total", component="ratelimit")
    assert value(after, "radiant_ratelimit_decisions_total", scope="tenant", outcome="fail_open") - value(
        before, "radiant_ratelimit_decisions_total", scope="tenant", outcome="fail_open") == 1


def test_billing_reports_reach_the_named_metrics(scrape):
    from decimal import Decimal

    from radiant import metrics

    before = scrape()
    metrics.credits_charged(Decimal("1.5"))
    metrics.insufficient_credits()
    metrics.audit_fallback()
    metrics.holds_open(7)
    metrics.audit_default_partition_rows(3)
    after = scrape()

    def delta(name):
        return value(after, name) - value(before, name)

    # A float total: earlier tests' charges (fractions of a credit) leave it inexact.
    assert delta("radiant_credits_charged_total") == pytest.approx(1.5)
    assert delta("radiant_insufficient_credits_total") == 1
    assert delta("radiant_audit_fallbacks_total") == 1
    assert value(after, "radiant_credit_holds_open") == 7
    assert value(after, "radiant_audit_default_partition_rows") == 3


# --- who may read them ------------------------------------------------------------------------


def test_metrics_refuse_a_tenant_key_and_no_credentials(settings, tenant, api_client_for):
    settings.METRICS_TOKEN = TOKEN
    tenant_client = api_client_for(tenant)

    with_key = tenant_client.get("/metrics")
    anonymous = APIClient().get("/metrics")
    wrong = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")

    for refused in (with_key, anonymous, wrong):
        assert refused.status_code == 401
        assert b"radiant_" not in refused.content
    assert APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_are_not_on_the_tenant_api(settings, tenant, api_client_for):
    settings.METRICS_TOKEN = TOKEN
    client = api_client_for(tenant)

    for path in ("/api/v1/metrics", "/api/metrics"):
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code in (401, 404)
        assert b"radiant_http_request_duration_seconds" not in response.content


def test_without_a_token_the_endpoint_does_not_exist(settings, tenant, api_client_for):
    settings.METRICS_TOKEN = None

    assert APIClient().get("/metrics").status_code == 404
    assert api_client_for(tenant).get("/metrics").status_code == 404


def test_charges_and_refusals_are_counted(scrape, make_tenant, api_client_for):
    from decimal import Decimal

    from billing.services import credits_grant

    make_model("gpt-4o", input_cost_per_1k=Decimal("0.0025"), output_cost_per_1k=Decimal("0.01"))
    tenant = make_tenant(tier="enterprise")
    credits_grant(tenant=tenant, amount=Decimal("0.01"), reason="test funds", operator="pytest")
    client = api_client_for(tenant)
    call = {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}  # costs 0.0075
    before = scrape()

    assert client.post("/api/v1/usage", call, format="json").status_code == 201
    assert client.post("/api/v1/usage", call, format="json").status_code == 402  # 0.0025 left
    after = scrape()

    # (Prometheus counters are floats; the exact Decimal is in the request's log line.)
    charged = value(after, "radiant_credits_charged_total") - value(before, "radiant_credits_charged_total")
    assert charged == pytest.approx(0.0075)
    assert value(after, "radiant_insufficient_credits_total") - value(before, "radiant_insufficient_credits_total") == 1


def test_summed_requests_read_as_if_each_was_observed_alone():
    """A worker writes its requests' sums once a second: what a scrape then reads is what
    prometheus_client's own ``observe`` and ``inc`` would have left, bucket by bucket."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from radiant.metrics import DURATION_BUCKETS, RequestStats
    from radiant.metrics.prometheus import Prometheus

    durations = [0.0004, 0.001, 0.003, 0.003, 0.049, 0.7, 7.0, 42.0]
    summed = Prometheus(CollectorRegistry())
    for seconds in durations:
        stats = RequestStats()
        stats.cache_hits = 1
        summed.request(route="/api/v1/models", method="GET", status=200, tier="starter", seconds=seconds,
                       throttle_scope="tenant", throttle="allowed", stats=stats)
    summed.flush()

    alone = CollectorRegistry()
    histogram = Histogram("radiant_http_request_duration_seconds", "", ["route", "method", "status_class"],
                          buckets=DURATION_BUCKETS, registry=alone)
    for seconds in durations:
        histogram.labels("/api/v1/models", "GET", "2xx").observe(seconds)
    found = samples(generate_latest(summed.registry).decode())
    expected = samples(generate_latest(alone).decode())
    duration = {key: v for key, v in found.items() if key[0].startswith("radiant_http_request_duration_seconds_")
                and not key[0].endswith("_created")}
    assert duration == {key: v for key, v in expected.items() if not key[0].endswith("_created")}
    assert value(found, "radiant_http_requests_by_tier_total", tier="starter", status_class="2xx") == len(durations)
    assert value(found, "radiant_ratelimit_decisions_total", scope="tenant", outcome="allowed") == len(durations)
    assert value(found, "radiant_cache_hits_total") == len(durations)

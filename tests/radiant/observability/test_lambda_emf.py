"""On Lambda the metrics are CloudWatch Embedded Metric Format lines: requests through Zappa's
real LambdaHandler with API Gateway events, the lines parsed as CloudWatch would."""

import json

import pytest

from radiant import metrics
from tests.helpers import make_model
from tests.lambda_events import rest_event
from tests.radiant.observability.test_metrics import TOKEN
from tests.radiant.test_lambda import BASE, lambda_handler, raw_key  # noqa: F401  Zappa's handler, a tenant key

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# CloudWatch's limits for one EMF line.
MAX_METRICS, MAX_DIMENSIONS = 100, 30


@pytest.fixture
def new_container():
    """A fresh Lambda container: the process has not emitted anything yet (cold)."""
    metrics._backends.pop("emf", None)
    yield
    metrics._backends.pop("emf", None)


def emf_lines(text):
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "RADIANT"
        assert len(directive["Metrics"]) <= MAX_METRICS
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= MAX_DIMENSIONS
            assert all(isinstance(line[name], str) for name in dimension_set)
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], (int, float)) or all(
                isinstance(v, (int, float)) for v in line[metric["Name"]])
    return lines


def total(line, name):
    """A metric's value in a line: EMF carries a number or a list of them."""
    found = line[name]
    return sum(found) if isinstance(found, list) else found


def names(line):
    return {metric["Name"]: metric["Unit"] for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_a_request_through_api_gateway_emits_emf_with_a_cold_start(
        lambda_handler, new_container, tenant, raw_key, capsys):  # noqa: F811
    make_model("gpt-4o")
    handler, _ = lambda_handler("dev")
    auth = {"Authorization": f"Bearer {raw_key}"}
    capsys.readouterr()

    first = handler.handler(rest_event("GET", f"{BASE}/api/v1/models", headers=auth), None)
    cold_lines = emf_lines(capsys.readouterr().out)
    second = handler.handler(rest_event("GET", f"{BASE}/api/v1/models/gpt-4o", headers=auth), None)
    warm_lines = emf_lines(capsys.readouterr().out)

    assert first["statusCode"] == second["statusCode"] == 200
    service, by_route = cold_lines
    assert service["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage", "service"]]
    assert (service["stage"], service["service"]) == ("dev", "radiant")
    assert names(service)["Latency"] == "Milliseconds"
    assert total(service, "Requests") == 1.0 and total(service, "ColdStart") == 1.0
    assert total(service, "CacheMisses") == 1.0 and total(service, "DbQueries") >= 1
    assert service["route"] == "/api/v1/models" and service["status"] == 200 and service["tier"] == "professional"
    assert raw_key not in json.dumps(cold_lines + warm_lines)
    assert by_route["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage", "route", "status_class", "service"]]
    assert (by_route["route"], by_route["status_class"]) == ("/api/v1/models", "2xx")
    assert set(names(by_route)) == {"Requests", "Latency"}

    service, by_route = warm_lines
    assert "ColdStart" not in service  # once per container
    assert by_route["route"] == "/api/v1/models/<str:slug>"


def test_a_refused_request_counts_as_4xx_and_rate_limited(
        lambda_handler, new_container, not_near_midnight, make_tenant, capsys):  # noqa: F811
    from tenants.services import api_key_create

    _, key = api_key_create(tenant=make_tenant(tier="free", daily=1))
    handler, _ = lambda_handler("dev")
    auth = {"Authorization": f"Bearer {key}"}
    handler.handler(rest_event("GET", f"{BASE}/api/v1/tenant", headers=auth), None)
    capsys.readouterr()

    response = handler.handler(rest_event("GET", f"{BASE}/api/v1/tenant", headers=auth), None)

    assert response["statusCode"] == 429
    service, _ = emf_lines(capsys.readouterr().out)
    assert total(service, "Status4xx") == 1.0 and total(service, "DailyQuotaExceeded") == 1.0


def test_alarm_metrics_outside_a_request_have_their_exact_names(new_container, monkeypatch, capsys):
    monkeypatch.setenv("SERVERTYPE", "AWS Lambda")
    monkeypatch.setenv("STAGE", "production")

    metrics.audit_fallback()
    metrics.audit_default_partition_rows(12)
    metrics.fail_open_admission()

    fallback, partition, fail_open = emf_lines(capsys.readouterr().out)
    assert total(fallback, "AuditFallbacks") == 1.0
    assert total(partition, "AuditDefaultPartitionRows") == 12.0
    assert total(fail_open, "FailOpenAdmissions") == 1.0
    for line in (fallback, partition, fail_open):
        assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage", "service"]]
        assert line["stage"] == "production"


def test_the_prometheus_endpoint_does_not_exist_through_api_gateway(lambda_handler, settings):  # noqa: F811
    settings.METRICS_TOKEN = TOKEN
    handler, _ = lambda_handler("dev")

    response = handler.handler(rest_event("GET", f"{BASE}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}), None)

    assert response["statusCode"] == 404
    assert "radiant_http" not in (response.get("body") or "")

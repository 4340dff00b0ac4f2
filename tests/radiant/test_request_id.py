"""Every response carries X-Request-ID (the client's when sane, else generated); problem
bodies repeat it; logs and Celery tasks see the same id through one context."""

import logging
import re
import uuid

import pytest
from celery import shared_task
from django.core.cache import cache

from radiant.request_context import RequestIdLogFilter, current_request_id, request_scope

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

GENERATED = re.compile(r"[0-9a-f]{32}")


@shared_task(name="tests.record_request_id")
def record_request_id(marker):
    cache.set(f"test:request-id:{marker}", current_request_id() or "none", 60)


def test_a_sane_client_id_is_echoed_on_success_and_on_problems(tenant, api_client_for, anon_client):
    client = api_client_for(tenant)

    ok = client.get("/api/v1/tenant", HTTP_X_REQUEST_ID="req-1.A_b")
    missing = client.get("/api/v1/api-keys/zzzzzzzz", HTTP_X_REQUEST_ID="req-2")
    unauthenticated = anon_client.get("/api/v1/tenant", HTTP_X_REQUEST_ID="req-3")
    no_route = client.get("/api/v1/no-such-thing", HTTP_X_REQUEST_ID="req-4")

    assert ok.status_code == 200 and ok["X-Request-ID"] == "req-1.A_b"
    for response, sent in ((missing, "req-2"), (unauthenticated, "req-3"), (no_route, "req-4")):
        assert response["Content-Type"] == "application/problem+json"
        assert response["X-Request-ID"] == sent
        assert response.json()["request_id"] == sent


@pytest.mark.parametrize("sent", ["", "x" * 129, "has space", "semi;colon", "ünïcode", "new\tline"])
def test_an_insane_client_id_is_replaced_by_a_generated_one(tenant, api_client_for, sent):
    response = api_client_for(tenant).get("/api/v1/api-keys/zzzzzzzz", HTTP_X_REQUEST_ID=sent)

    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_the_longest_sane_id_is_kept(tenant, api_client_for):
    sent = "a" * 128
    assert api_client_for(tenant).get("/api/v1/tenant", HTTP_X_REQUEST_ID=sent)["X-Request-ID"] == sent


def test_each_request_without_an_id_gets_its_own(client):
    first, second = client.get("/healthz"), client.get("/admin/login/")

    assert GENERATED.fullmatch(first["X-Request-ID"]) and GENERATED.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.urls("tests.failing_urls")
def test_log_lines_of_a_request_carry_its_id(tenant, api_client_for):
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect()
    handler.addFilter(RequestIdLogFilter())
    logger = logging.getLogger("radiant.problems")
    logger.addHandler(handler)
    try:
        response = api_client_for(tenant).get("/test/fail-after-query", HTTP_X_REQUEST_ID="trace-me")
    finally:
        logger.removeHandler(handler)

    assert response.status_code == 500 and response.json()["request_id"] == "trace-me"
    assert [r.request_id for r in records if "unhandled error" in r.getMessage()] == ["trace-me"]


def test_outside_a_request_there_is_no_id():
    assert current_request_id() is None
    with request_scope("job-7"):
        assert current_request_id() == "job-7"
    assert current_request_id() is None


def test_a_task_runs_under_the_id_of_the_request_that_queued_it(celery_worker):
    """With a broker, on a real worker thread (which has no context of its own); in the
    embedded default, eagerly inside the request."""
    marker = uuid.uuid4().hex
    with request_scope("queued-by-req-42"):
        record_request_id.delay(marker)

    if celery_worker is not None:
        from tests.helpers import wait_for

        assert wait_for(lambda: cache.get(f"test:request-id:{marker}") is not None)
    assert cache.get(f"test:request-id:{marker}") == "queued-by-req-42"


def test_a_task_queued_outside_a_request_gets_an_id_of_its_own(celery_worker):
    marker = uuid.uuid4().hex
    record_request_id.delay(marker)

    if celery_worker is not None:
        from tests.helpers import wait_for

        assert wait_for(lambda: cache.get(f"test:request-id:{marker}") is not None)
    assert GENERATED.fullmatch(cache.get(f"test:request-id:{marker}"))

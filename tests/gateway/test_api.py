"""The endpoints as a client meets them: bad input, other tenants' models, limits, sizes,
Idempotency-Key, the admin."""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.verify import ledger_verify
from tests.billing.conftest import in_parallel
from tests.gateway.conftest import MESSAGES, PROMPT_TOKENS, balance_of, chat, cost, ledger_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.mark.parametrize("body, field", [
    ({"model": "test-chat"}, "messages"),
    ({"model": "test-chat", "messages": []}, "messages"),
    ({"model": "test-chat", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ({"model": "test-chat", "messages": [{"role": {}, "content": "x"}]}, "messages.0.role"),
    ({"model": "test-chat", "messages": [{"role": ["user"], "content": "x"}]}, "messages.0.role"),
    ({"model": "test-chat", "messages": [{"role": "user", "content": 12}]}, "messages.0.content"),
    ({"model": "test-chat", "messages": MESSAGES, "max_tokens": "10"}, "max_tokens"),
    ({"model": "test-chat", "messages": MESSAGES, "max_tokens": 0}, "max_tokens"),
    ({"model": "test-chat", "messages": MESSAGES, "max_tokens": 1.5}, "max_tokens"),
    ({"model": "test-chat", "messages": MESSAGES, "temperature": 3}, "temperature"),
    ({"model": "test-chat", "messages": MESSAGES, "stream": "yes"}, "stream"),
    ({"model": "test-chat", "messages": MESSAGES, "stream_options": {"include_usage": True}}, "stream_options"),
    ({"model": "test-chat", "messages": MESSAGES, "functions_v9": []}, "functions_v9"),
    ({"model": 5, "messages": MESSAGES}, "model"),
    ({"model": "test-chat", "messages": MESSAGES, "max_tokens": 65}, "max_tokens"),  # over the route's 64
    ({"model": "test-embed", "messages": MESSAGES}, "model"),  # an embedding model
])
def test_bad_input_is_a_422_per_field_and_calls_nothing(body, field, route, funded, upstream):
    route("test-chat")
    route("test-embed", category="embedding")
    tenant, client = funded("10")

    response = client.post("/api/v1/chat/completions", body, format="json")

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error" and field in response.json()["errors"]
    assert upstream.hits == 0 and len(ledger_of(tenant)) == 1


@pytest.mark.parametrize("raw, status", [
    (b'{"model": "test-chat", "messages": [', 400),
    (b'{"model": "test-chat", "messages": [{"role": "user", "content": "a\\u0000b"}]}', 400),
    (b'[1, 2]', 422),
    (b'\xff\xfe', 400),
])
def test_malformed_bodies_are_4xx(raw, status, route, funded):
    route("test-chat")
    _tenant, client = funded("10")

    response = client.generic("POST", "/api/v1/chat/completions", raw, content_type="application/json")

    assert response.status_code == status and response["Content-Type"] == "application/problem+json"


def test_a_long_prompt_is_accepted_and_an_oversize_body_is_a_413(route, funded, upstream, settings):
    route("test-chat")
    _tenant, client = funded("100")
    long = [{"role": "user", "content": "word " * 40_000}]  # 200 KB, over the rest of the API's 64 KiB

    assert chat(client, messages=long, max_tokens=2).status_code == 200
    settings.GATEWAY_MAX_REQUEST_BYTES = 100_000
    too_big = chat(client, messages=long, max_tokens=2)
    assert (too_big.status_code, too_big.json()["code"]) == (413, "payload_too_large")
    assert upstream.hits == 1


def test_unknown_switched_off_or_another_tenants_model_is_a_404(route, funded, make_tenant, upstream):
    other = make_tenant("other-co")
    route("their-model", tenant=other)
    route("unrouted-target")
    from tests.helpers import make_model

    make_model("no-route")
    _tenant, client = funded("10")

    for model in ("their-model", "nope", "no-route"):
        response = chat(client, model=model)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), model
    assert upstream.hits == 0


def test_402_when_the_most_the_call_can_cost_is_not_covered(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("0.0001")

    response = chat(client, max_tokens=64)

    assert (response.status_code, response.json()["code"]) == (402, "insufficient_credits")
    assert upstream.hits == 0
    assert balance_of(tenant) == (Decimal("0.0001"), 0) and len(ledger_of(tenant)) == 1


def test_rate_limits_and_the_daily_quota_apply(route, funded, upstream):
    route("test-chat")
    _tenant, client = funded("10", rps=1, burst=2, daily=0)

    statuses = [chat(client, max_tokens=2).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert upstream.hits == 2
    _quota_tenant, quota_client = funded("10", daily=1)
    assert chat(quota_client, max_tokens=2).status_code == 200
    refused = chat(quota_client, max_tokens=2)
    assert (refused.status_code, refused.json()["code"]) == (429, "daily_quota_exceeded")


def test_a_retry_with_the_idempotency_key_replays_the_first_answer_and_charges_once(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("10")

    first = chat(client, max_tokens=3, HTTP_IDEMPOTENCY_KEY="call-1")
    again = chat(client, max_tokens=3, HTTP_IDEMPOTENCY_KEY="call-1")
    other = chat(client, max_tokens=4, HTTP_IDEMPOTENCY_KEY="call-1")

    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert upstream.hits == 1
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 3), 0)


def test_a_stream_with_the_idempotency_key_replays_as_delivered(route, funded, upstream):
    route("test-chat")
    _tenant, client = funded("10")

    first = b"".join(chat(client, max_tokens=3, stream=True, HTTP_IDEMPOTENCY_KEY="s-1").streaming_content)
    again = chat(client, max_tokens=3, stream=True, HTTP_IDEMPOTENCY_KEY="s-1")

    assert again.content == first and again["Content-Type"].startswith("text/event-stream")
    assert upstream.hits == 1


def test_a_402_replays_as_402_and_a_failed_call_frees_its_key(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("0.0001")
    refused = chat(client, max_tokens=64, HTTP_IDEMPOTENCY_KEY="k-402")
    from tests.billing.conftest import fund

    fund(tenant, "10")
    assert chat(client, max_tokens=64, HTTP_IDEMPOTENCY_KEY="k-402").content == refused.content

    upstream.statuses = [500]
    assert chat(client, max_tokens=2, HTTP_IDEMPOTENCY_KEY="k-fail").status_code == 502
    retried = chat(client, max_tokens=3, HTTP_IDEMPOTENCY_KEY="k-fail")  # nothing happened: usable again
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried


@pytest.mark.postgres
@pytest.mark.redis
def test_concurrent_duplicates_wait_for_the_first_and_get_its_answer(route, funded, upstream):
    route("test-chat", timeout_seconds=Decimal("60"))
    tenant, client = funded("10")
    gate = upstream.hold()
    raw = client.raw_key

    def call(i):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = chat(c, max_tokens=3, HTTP_IDEMPOTENCY_KEY="dup-1")
        return response.status_code, response.content

    releaser = threading.Thread(target=lambda: (upstream.wait_for_hits(1), gate.set()))
    releaser.start()
    results = in_parallel(20, call, threads=20)
    releaser.join()

    assert Counter(status for status, _ in results) == {200: 20}
    assert len({content for _, content in results}) == 1
    assert upstream.hits == 1
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 3), 0)
    assert ledger_verify() == {}


def test_the_admin_shows_providers_routes_breakers_and_traffic(route, funded, upstream, admin_client):
    model_route = route("test-chat", breaker_threshold=1)
    _tenant, client = funded("10")
    chat(client, max_tokens=2)
    upstream.statuses = [500]
    chat(client, max_tokens=2)

    listing = admin_client.get("/admin/gateway/modelroute/")
    page = admin_client.get(f"/admin/gateway/modelroute/{model_route.pk}/change/")
    providers = admin_client.get("/admin/gateway/provider/")

    assert listing.status_code == page.status_code == providers.status_code == 200
    assert b"open" in listing.content and b"2 / 1 / 0" in listing.content  # calls / errors / refused
    assert b"test-openai" in providers.content
    response = admin_client.post("/admin/gateway/modelroute/", {"action": "reset_breakers", "_selected_action": [model_route.pk]})
    assert response.status_code == 302
    assert chat(client, max_tokens=2).status_code == 200

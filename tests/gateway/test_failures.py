"""Upstream timeouts, errors, malformed answers and cut streams: a clear problem (or a clean
end of the stream) and no charge beyond what was delivered."""

import socket
from decimal import Decimal

import orjson
import pytest

from billing.models import CreditHold
from billing.verify import ledger_verify
from tests.gateway.conftest import MESSAGES, PROMPT_TOKENS, UPSTREAM_KEY, balance_of, chat, cost, events, ledger_of, prompt_bytes
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def assert_nothing_charged(tenant, credits="10"):
    assert balance_of(tenant) == (Decimal(credits), 0)
    rows = ledger_of(tenant)[1:]
    assert [r.type for r in rows] == ["hold", "hold_release"] * (len(rows) // 2)
    assert not CreditHold.all_tenants.filter(tenant=tenant, status="open").exists()
    assert ledger_verify() == {}


@pytest.mark.parametrize("setup, status, code", [
    (lambda u: setattr(u, "mode", "hang"), 504, "upstream_timeout"),
    (lambda u: u.statuses.append(500), 502, "upstream_error"),
    (lambda u: u.statuses.append(504), 504, "upstream_timeout"),
    (lambda u: setattr(u, "mode", "malformed"), 502, "upstream_error"),
    (lambda u: setattr(u, "mode", "no_usage"), 502, "upstream_error"),
    (lambda u: u.statuses.append(401), 502, "upstream_error"),
    (lambda u: u.statuses.append(429), 503, "upstream_unavailable"),
])
def test_an_upstream_failure_is_a_problem_and_costs_nothing(setup, status, code, route, funded, upstream):
    route("test-chat", timeout_seconds=Decimal("0.3"))
    tenant, client = funded("10")
    setup(upstream)

    response = chat(client, max_tokens=3)

    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["request_id"] == response["X-Request-ID"]
    assert "upstream says" not in body["detail"]  # the provider's own words only for a refused request
    assert_nothing_charged(tenant)
    upstream.release()


def test_a_request_the_provider_refuses_is_a_400_with_its_reason_not_retried(route, funded, upstream):
    route("test-chat", max_retries=3)
    tenant, client = funded("10")
    upstream.statuses = [400]

    response = chat(client, max_tokens=3)

    assert (response.status_code, response.json()["code"]) == (400, "upstream_error")
    assert "upstream says 400" in response.json()["detail"]
    assert upstream.hits == 1
    assert_nothing_charged(tenant)


def test_a_missing_credential_is_an_upstream_error_and_never_reaches_the_provider(route, funded, upstream, monkeypatch):
    route("test-chat")
    monkeypatch.delenv("TEST_UPSTREAM_KEY")
    tenant, client = funded("10")

    response = chat(client, max_tokens=3)

    assert (response.status_code, response.json()["code"]) == (502, "upstream_error")
    assert upstream.hits == 0
    assert_nothing_charged(tenant)


def test_a_key_in_aws_secrets_manager_is_read_once_and_kept(route, funded, upstream):
    import boto3
    from botocore.stub import Stubber

    from gateway import credentials

    route("test-chat", credential="aws-secretsmanager:prod/test-upstream#api_key")
    _tenant, client = funded("10")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    credentials._client = secrets
    with Stubber(secrets) as stub:
        stub.add_response("get_secret_value", {"SecretString": orjson.dumps({"api_key": "sk-from-aws"}).decode()},
                          {"SecretId": "prod/test-upstream"})
        assert chat(client, max_tokens=2).status_code == 200
        assert chat(client, max_tokens=2).status_code == 200  # no second Secrets Manager call
    assert [r["headers"]["Authorization"] for r in upstream.requests] == ["Bearer sk-from-aws"] * 2


def test_a_stream_the_provider_cuts_halfway_ends_cleanly_and_is_charged_what_was_delivered(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("10")
    upstream.usage_every_chunk = True  # the provider reports usage as it goes (vLLM's continuous usage)
    upstream.cut_after = 4  # the role chunk, then 4 words, then the connection drops

    response = chat(client, max_tokens=10, stream=True)

    received = events(response)
    assert response.status_code == 200
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in received if isinstance(e, dict) and e.get("choices"))
    assert text == "w1 w2 w3 w4"
    assert received[-2]["error"]["code"] == "upstream_error" and received[-1] == "[DONE]"
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 4), 0)  # 4 of 10 words delivered
    usage = [r for r in ledger_of(tenant) if r.type == "usage"]
    assert [(u.input_tokens, u.output_tokens) for u in usage] == [(PROMPT_TOKENS, 4)]
    assert ledger_verify() == {}


def test_without_usage_reports_a_cut_stream_is_charged_an_estimate_below_the_full_call(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("10")
    upstream.cut_after = 3

    response = chat(client, max_tokens=10, stream=True)

    assert events(response)[-1] == "[DONE]"
    estimate = -(-prompt_bytes() // 4)  # the prompt at 4 bytes a token, one token per delivered chunk
    charged = Decimal("10") - balance_of(tenant)[0]
    assert charged == cost(estimate, 3)
    assert charged < cost(prompt_bytes(), 10)  # never more than the hold
    assert ledger_verify() == {}


def test_a_stream_the_client_leaves_is_settled_for_what_was_delivered(route, funded, upstream, live_server):
    route("test-chat")
    tenant, client = funded("10")
    upstream.usage_every_chunk = True
    gate = upstream.hold(after_chunks=3)  # the role chunk and 3 words, then the provider waits

    body = orjson.dumps({"model": "test-chat", "messages": MESSAGES, "max_tokens": 30, "stream": True})
    host, port = live_server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {client.raw_key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )
    received = b""
    while received.count(b"data: ") < 4:
        received += sock.recv(65536)
    sock.close()  # the client goes away mid-stream
    gate.set()  # the provider goes on; the gateway's next writes fail and it stops

    hold = ledger_of(tenant)[1].hold_id
    assert wait_for(lambda: [r.type for r in ledger_of(tenant)][-1:] == ["hold_release"])
    assert CreditHold.all_tenants.get(id=hold).status == "settled"
    (usage,) = [r for r in ledger_of(tenant) if r.type == "usage"]
    # Delivered: 3 words, and at most the couple more written into the closed socket before
    # the server noticed. Never the 30 the call could have made.
    assert usage.input_tokens == PROMPT_TOKENS and 3 <= usage.output_tokens <= 6
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, usage.output_tokens), 0)
    assert ledger_verify() == {}


def test_nothing_secret_reaches_the_client_or_the_problem(route, funded, upstream):
    route("test-chat")
    _tenant, client = funded("10")
    upstream.statuses = [401]

    response = chat(client, max_tokens=2)

    assert UPSTREAM_KEY.encode() not in response.content


def test_a_stream_never_read_is_settled_when_closed_for_nothing_delivered(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("10")

    response = chat(client, max_tokens=10, stream=True)
    response.close()  # what the server does when the client is gone before the first byte

    assert [r.type for r in ledger_of(tenant)][1:] == ["hold", "usage", "hold_release"]
    assert balance_of(tenant) == (Decimal("10") - cost(-(-prompt_bytes() // 4), 0), 0)
    assert ledger_verify() == {}

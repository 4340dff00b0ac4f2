"""A completion, an embedding and a streamed completion: the upstream's content, charged
exactly the reported usage at catalog prices, with the hold and its settlement in the ledger."""

from decimal import Decimal

import pytest

from billing.models import CreditHold
from billing.verify import ledger_verify
from tests.gateway.conftest import (
    IN_PRICE,
    MESSAGES,
    OUT_PRICE,
    PROMPT_TOKENS,
    UPSTREAM_KEY,
    balance_of,
    chat,
    cost,
    events,
    ledger_of,
    prompt_bytes,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def ledger_types(tenant):
    return [(row.type, row.amount, row.held_change) for row in ledger_of(tenant)][1:]  # after the grant


def test_a_completion_returns_the_upstreams_answer_and_charges_its_usage(route, funded, upstream):
    route("test-chat", upstream_model="vendor/model-v1")
    tenant, client = funded("10")

    response = chat(client, max_tokens=7)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "w1 w2 w3 w4 w5 w6 w7"
    assert body["usage"] == {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 7, "total_tokens": PROMPT_TOKENS + 7}
    charged = cost(PROMPT_TOKENS, 7)
    assert response["X-Credits-Charged"] == str(charged.quantize(Decimal("1e-9")))
    assert response["X-Radiant-Model"] == "test-chat"
    assert balance_of(tenant) == (Decimal("10") - charged, 0)
    held = cost(prompt_bytes(), 7)
    assert ledger_types(tenant) == [("hold", 0, held), ("usage", -charged, -charged), ("hold_release", 0, -(held - charged))]
    usage_row = ledger_of(tenant)[2]
    assert (usage_row.model_slug, usage_row.input_tokens, usage_row.output_tokens) == ("test-chat", PROMPT_TOKENS, 7)
    assert (usage_row.input_price_per_1k, usage_row.output_price_per_1k) == (IN_PRICE, OUT_PRICE)
    assert usage_row.hold_id == ledger_of(tenant)[1].hold_id
    assert CreditHold.all_tenants.get(id=usage_row.hold_id).status == "settled"
    # What the provider was sent: its own model name, the limit held for, our key.
    (sent,) = upstream.requests
    assert sent["body"]["model"] == "vendor/model-v1" and sent["body"]["max_tokens"] == 7
    assert sent["body"]["messages"] == MESSAGES
    assert sent["headers"]["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert ledger_verify() == {}


def test_without_max_tokens_the_routes_limit_is_held_and_sent(route, funded, upstream):
    route("test-chat", max_output_tokens=12)
    tenant, client = funded("10")

    response = chat(client)

    assert response.status_code == 200
    assert upstream.requests[0]["body"]["max_tokens"] == 12
    assert ledger_of(tenant)[1].held_change == cost(prompt_bytes(), 12)
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 12), 0)


def test_an_embedding_is_charged_its_input_tokens(route, funded, upstream):
    route("test-embed", category="embedding", out_price=Decimal("0"))
    tenant, client = funded("10")

    response = client.post("/api/v1/embeddings", {"model": "test-embed", "input": ["one two three", "four"]}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [item["embedding"] for item in body["data"]] == [[0.1, 0.2, 0.3], [0.2, 0.2, 0.3]]
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    charged = cost(4, 0)
    assert balance_of(tenant) == (Decimal("10") - charged, 0)
    held = cost(len("one two three") + len("four"), 0)
    assert ledger_types(tenant) == [("hold", 0, held), ("usage", -charged, -charged), ("hold_release", 0, -(held - charged))]
    assert ledger_verify() == {}


def test_a_streamed_completion_passes_the_chunks_on_and_charges_the_final_usage(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("10")

    response = chat(client, max_tokens=5, stream=True, stream_options={"include_usage": True})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    received = events(response)
    assert received[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in received[:-1] if e["choices"])
    assert text == "w1 w2 w3 w4 w5"
    assert received[-2]["choices"] == [] and received[-2]["usage"]["completion_tokens"] == 5
    charged = cost(PROMPT_TOKENS, 5)
    assert balance_of(tenant) == (Decimal("10") - charged, 0)
    assert [t for t, _, _ in ledger_types(tenant)] == ["hold", "usage", "hold_release"]
    assert ledger_of(tenant)[2].amount == -charged
    # The provider is always asked for the usage; the client gets it only if it asked.
    assert upstream.requests[0]["body"]["stream_options"] == {"include_usage": True}
    assert ledger_verify() == {}


def test_a_stream_without_include_usage_hides_the_usage_chunk_and_still_charges_it(route, funded, upstream):
    route("test-chat")
    tenant, client = funded("10")

    received = events(chat(client, max_tokens=3, stream=True))

    assert all(e == "[DONE]" or e["choices"] for e in received)
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 3), 0)


def test_the_anthropic_adapter_translates_both_ways(route, funded, upstream):
    route("test-claude", provider="test-anthropic", kind="anthropic", upstream_model="claude-x")
    tenant, client = funded("10")

    response = chat(client, model="test-claude", max_tokens=4)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "w1 w2 w3 w4"}
    assert body["usage"]["prompt_tokens"] == PROMPT_TOKENS and body["usage"]["completion_tokens"] == 4
    sent = upstream.requests[0]
    assert sent["path"] == "/v1/messages" and sent["headers"]["x-api-key"] == UPSTREAM_KEY
    assert sent["body"]["system"] == "be brief"
    assert sent["body"]["messages"] == [{"role": "user", "content": "say something nice"}]
    streamed = events(chat(client, model="test-claude", max_tokens=3, stream=True, stream_options={"include_usage": True}))
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in streamed[:-1] if e["choices"]) == "w1 w2 w3"
    assert streamed[-2]["usage"] == {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 3, "total_tokens": PROMPT_TOKENS + 3}
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 4) - cost(PROMPT_TOKENS, 3), 0)
    assert ledger_verify() == {}


def test_the_echo_provider_needs_no_network(tiers, funded):
    from gateway.seed import gateway_seed
    from models_catalog.seed import catalog_seed

    catalog_seed()
    gateway_seed()
    tenant, client = funded("1")

    response = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "hello world"}])
    embedded = client.post("/api/v1/embeddings", {"model": "text-embedding-3-small", "input": "hello world"}, format="json")

    assert response.json()["choices"][0]["message"]["content"] == "echo: hello world"
    assert embedded.status_code == 200 and len(embedded.json()["data"][0]["embedding"]) == 16
    again = chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "hello world"}])
    assert {**again.json(), "created": 0} == {**response.json(), "created": 0}  # deterministic
    assert [t for t, _, _ in ledger_types(tenant)].count("usage") == 3
    assert ledger_verify() == {}

"""Fixtures for the gateway: a controllable upstream on loopback, routes to it, funded tenants."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from gateway import breaker, client, credentials
from gateway.models import ModelFallback, ModelRoute, Provider
from tests.billing.conftest import balance_of, fund, ledger_of  # noqa: F401  (re-exported)
from tests.gateway.upstream import Upstream
from tests.helpers import make_model

UPSTREAM_KEY = "sk-test-upstream-secret-0123456789"
IN_PRICE, OUT_PRICE = Decimal("0.002"), Decimal("0.008")  # per 1,000 tokens
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say something nice"}]
PROMPT_TOKENS = 5  # words in MESSAGES, as the upstream counts them


def cost(input_tokens, output_tokens, in_price=IN_PRICE, out_price=OUT_PRICE):
    return (Decimal(input_tokens) * in_price + Decimal(output_tokens) * out_price) / 1000


def prompt_bytes(messages=MESSAGES):
    """The hold's prompt bound, computed as the gateway documents it: the JSON's bytes."""
    return len(json.dumps(messages, separators=(",", ":"), ensure_ascii=False).encode())


@pytest.fixture(autouse=True)
def _fresh_gateway(settings, monkeypatch):
    settings.GATEWAY_RETRY_BASE = 0.001
    settings.GATEWAY_RETRY_MAX_WAIT = 0.5
    monkeypatch.setenv("TEST_UPSTREAM_KEY", UPSTREAM_KEY)
    breaker.local_reset()
    credentials.forget()
    yield
    client.reset()


@pytest.fixture
def upstream():
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture
def route(tiers, upstream):
    """route(slug, ...) -> a catalog model served by a provider pointing at ``upstream``."""
    providers = {}

    def make(slug="test-chat", *, provider="test-openai", kind="openai", category="chat", in_price=IN_PRICE,
             out_price=OUT_PRICE, upstream_model="", max_output_tokens=64, fallbacks=(), base_url=None,
             credential="env:TEST_UPSTREAM_KEY", tenant=None, **provider_fields):
        if provider not in providers:
            defaults = {"kind": kind, "base_url": base_url or upstream.base_url, "credential": credential,
                        "timeout_seconds": Decimal("5"), "max_retries": 0, **provider_fields}
            providers[provider], _ = Provider.objects.update_or_create(slug=provider, defaults=defaults)
        model = make_model(slug, tenant=tenant, category=category, input_cost_per_1k=in_price,
                           output_cost_per_1k=out_price, context_window=100_000)
        model_route = ModelRoute.objects.create(
            model=model, provider=providers[provider], upstream_model=upstream_model, max_output_tokens=max_output_tokens,
        )
        for position, fallback in enumerate(fallbacks, start=1):
            ModelFallback.objects.create(route=model_route, fallback=fallback.model, position=position)
        return model_route

    return make


@pytest.fixture
def funded(make_tenant, api_client_for):
    """funded(credits) -> (tenant, client) with limits no test reaches."""

    def make(credits="10", **limits):
        tenant = make_tenant(**({"rps": 100_000, "burst": 100_000, "daily": 0} | limits))
        if Decimal(credits) > 0:
            fund(tenant, credits)
        return tenant, api_client_for(tenant)

    return make


def chat(client: APIClient, model="test-chat", messages=MESSAGES, **fields):
    """POST chat/completions; ``HTTP_*`` keyword arguments are headers, the rest body fields."""
    headers = {name: fields.pop(name) for name in list(fields) if name.startswith("HTTP_")}
    return client.post("/api/v1/chat/completions", {"model": model, "messages": messages, **fields}, format="json", **headers)


def events(response) -> list:
    """The data of each server-sent event of a streamed response ([DONE] as the string)."""
    body = b"".join(response.streaming_content).decode()
    out = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out

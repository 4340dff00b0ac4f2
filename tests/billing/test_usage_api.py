"""POST usage, GET credits, GET credits/transactions/{id}: what a tenant developer sees."""

import json
from decimal import Decimal

import pytest

from billing.services import usage_cost
from models_catalog.models import ModelOptOut
from tests.billing.conftest import CALL, CALL_COST, balance_of, fund, ledger_of
from tests.helpers import make_model

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def post_usage(client, body, **headers):
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/v1/usage", payload, content_type="application/json", **headers)


def test_cost_is_exact_to_nine_decimals():
    cost = usage_cost(
        input_tokens=1, output_tokens=3, input_price_per_1k=Decimal("0.000001"), output_price_per_1k=Decimal("123.456789")
    )
    assert cost == Decimal("0.370370368")


def test_a_charge_debits_the_catalog_price_and_records_it(tenant, api_client_for, priced_model):
    fund(tenant, "10")
    client = api_client_for(tenant)

    response = post_usage(client, CALL)

    assert response.status_code == 201, response.content
    body = response.json()
    tx = body["transaction"]
    assert (tx["type"], tx["amount"], tx["balance_after"]) == ("usage", "-0.007500000", "9.992500000")
    assert (tx["model"], tx["input_tokens"], tx["output_tokens"]) == ("gpt-4o", 1000, 500)
    assert (tx["input_price_per_1k"], tx["output_price_per_1k"]) == ("0.002500", "0.010000")
    assert body["balance"] == body["available"] == "9.992500000"
    assert balance_of(tenant) == (Decimal("9.9925"), Decimal(0))
    credits = client.get("/api/v1/credits").json()
    assert credits == {"balance": "9.992500000", "held": "0.000000000", "available": "9.992500000", "currency": "credits"}
    assert client.get(f"/api/v1/credits/transactions/{tx['id']}").json() == tx


def test_a_charge_at_the_smallest_and_an_odd_price_is_exact(tenant, api_client_for, tiers):
    make_model("odd", input_cost_per_1k=Decimal("0.000001"), output_cost_per_1k=Decimal("123.456789"))
    fund(tenant, "1")
    client = api_client_for(tenant)

    response = post_usage(client, {"model": "odd", "input_tokens": 1, "output_tokens": 3})

    assert response.status_code == 201, response.content
    assert response.json()["transaction"]["amount"] == "-0.370370368"
    assert balance_of(tenant) == (Decimal("0.629629632"), Decimal(0))


def test_not_enough_credits_is_402_and_writes_nothing(tenant, api_client_for, priced_model):
    fund(tenant, CALL_COST - Decimal("0.000000001"))
    client = api_client_for(tenant)
    before = ledger_of(tenant)

    response = post_usage(client, CALL)

    assert response.status_code == 402
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_credits"
    assert ledger_of(tenant) == before
    assert balance_of(tenant) == (CALL_COST - Decimal("0.000000001"), Decimal(0))


def test_a_tenant_never_granted_credits_gets_402_and_a_zero_balance(tenant, api_client_for, priced_model):
    client = api_client_for(tenant)

    assert post_usage(client, CALL).status_code == 402
    assert client.get("/api/v1/credits").json()["balance"] == "0.000000000"


@pytest.mark.parametrize("kind", ["unknown", "disabled", "switched_off", "deprecated_ok", "other_tenants", "own_private"])
def test_which_models_can_be_charged(kind, tenant, other_tenant, api_client_for, priced_model):
    fund(tenant, "10")
    slug = {
        "unknown": "no-such-model",
        "disabled": make_model("retired", status="disabled").slug,
        "switched_off": make_model("off", is_enabled=False).slug,
        "deprecated_ok": make_model("old", status="deprecated").slug,
        "other_tenants": make_model("theirs", tenant=other_tenant).slug,
        "own_private": make_model("mine", tenant=tenant).slug,
    }[kind]
    client = api_client_for(tenant)

    response = post_usage(client, {**CALL, "model": slug})

    expected = 201 if kind in ("deprecated_ok", "own_private") else 404
    assert response.status_code == expected, response.content
    if expected == 404:
        assert response.json()["code"] == "not_found"
        assert balance_of(tenant) == (Decimal("10"), Decimal(0))


def test_a_model_the_tenant_switched_off_is_404(tenant, api_client_for, priced_model):
    fund(tenant, "10")
    ModelOptOut.all_tenants.create(tenant=tenant, model=priced_model)

    assert post_usage(api_client_for(tenant), CALL).status_code == 404
    assert balance_of(tenant) == (Decimal("10"), Decimal(0))


def test_another_tenants_transaction_is_404_identical_to_a_missing_one(tenant, other_tenant, api_client_for, priced_model):
    theirs = fund(other_tenant, "5")
    client = api_client_for(tenant)

    other = client.get(f"/api/v1/credits/transactions/{theirs.id}")
    missing = client.get("/api/v1/credits/transactions/00000000-0000-0000-0000-000000000000")

    assert other.status_code == missing.status_code == 404
    without_request_id = [{k: v for k, v in r.json().items() if k != "request_id"} for r in (other, missing)]
    assert without_request_id[0] == without_request_id[1]
    assert client.get("/api/v1/credits/transactions/not-a-uuid").status_code == 404


def test_credits_need_an_api_key(anon_client):
    assert anon_client.get("/api/v1/credits").status_code == 401
    assert anon_client.post("/api/v1/usage", {}, format="json").status_code == 401

"""Bad input to POST usage: a 4xx problem, never a 500, and neither balance nor ledger moves."""

import json
from decimal import Decimal

import pytest

from billing.api import MAX_TOKENS
from tests.billing.conftest import CALL, balance_of, fund, ledger_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BAD_BODIES = {
    "malformed json": (b'{"model": "gpt-4o", "input_tokens": 1', 400, None),
    "not an object": (b'[1, 2, 3]', 422, None),
    "string for a number": ({**CALL, "input_tokens": "1000"}, 422, "input_tokens"),
    "float tokens": ({**CALL, "output_tokens": 1.0}, 422, "output_tokens"),
    "fractional tokens": ({**CALL, "output_tokens": 1.5}, 422, "output_tokens"),
    "boolean tokens": ({**CALL, "input_tokens": True}, 422, "input_tokens"),
    "negative tokens": ({**CALL, "input_tokens": -1}, 422, "input_tokens"),
    "huge tokens": ({**CALL, "output_tokens": MAX_TOKENS + 1}, 422, "output_tokens"),
    "absurd tokens": (b'{"model": "gpt-4o", "input_tokens": 1' + b"0" * 400 + b', "output_tokens": 1}', 422, "input_tokens"),
    "null tokens": ({**CALL, "input_tokens": None}, 422, "input_tokens"),
    "unknown field": ({**CALL, "discount": 100}, 422, "discount"),
    "missing model": ({"input_tokens": 1, "output_tokens": 1}, 422, "model"),
    "missing tokens": ({"model": "gpt-4o"}, 422, "input_tokens"),
    "model not a string": ({**CALL, "model": ["gpt-4o"]}, 422, "model"),
    "bad utf-8": (b'{"model": "\xff\xfe", "input_tokens": 1, "output_tokens": 1}', 400, None),
    "2 MB body": (json.dumps({**CALL, "model": "x" * (2 * 1024 * 1024)}).encode(), 413, None),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_usage_input_is_a_4xx_problem_and_changes_nothing(case, tenant, api_client_for, priced_model):
    fund(tenant, "10")
    client = api_client_for(tenant)
    before = ledger_of(tenant)
    body, status, field = BAD_BODIES[case]
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()

    response = client.post("/api/v1/usage", payload, content_type="application/json")

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    if field:
        assert problem["code"] == "validation_error"
        assert field in problem["errors"], problem
    assert balance_of(tenant) == (Decimal("10"), Decimal(0))
    assert ledger_of(tenant) == before


def test_a_body_that_is_not_json_is_415(tenant, api_client_for, priced_model):
    fund(tenant, "10")
    response = api_client_for(tenant).post("/api/v1/usage", "model=gpt-4o", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert balance_of(tenant) == (Decimal("10"), Decimal(0))


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "naïve"])
def test_a_malformed_idempotency_key_is_refused_before_anything_happens(key, tenant, api_client_for, priced_model):
    fund(tenant, "10")
    response = api_client_for(tenant).post(
        "/api/v1/usage", json.dumps(CALL), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert balance_of(tenant) == (Decimal("10"), Decimal(0))

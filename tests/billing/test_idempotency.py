"""Idempotency-Key: one charge per key, the first response replayed byte for byte."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from billing.idempotency import idempotency_keys_purge
from billing.models import IdempotencyKey
from tests.billing.conftest import CALL, CALL_COST, balance_of, fund, in_parallel, ledger_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def post(client, body, key):
    return client.post("/api/v1/usage", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def usage_rows(tenant):
    return [row for row in ledger_of(tenant) if row.type == "usage"]


def test_a_retry_replays_the_first_response_and_charges_once(tenant, api_client_for, priced_model):
    fund(tenant, "1")
    client = api_client_for(tenant)

    first = post(client, CALL, "order-1")
    retry = post(client, CALL, "order-1")
    cache.clear()  # the copy in Redis is gone: the database still answers
    from_db = post(client, CALL, "order-1")

    assert first.status_code == retry.status_code == from_db.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == from_db["Idempotent-Replayed"] == "true"
    assert retry.content == first.content == from_db.content
    assert len(usage_rows(tenant)) == 1
    assert balance_of(tenant)[0] == Decimal("1") - CALL_COST


def test_the_same_key_with_another_body_is_422_and_charges_nothing(tenant, api_client_for, priced_model):
    fund(tenant, "1")
    client = api_client_for(tenant)
    post(client, CALL, "order-2")

    reused = post(client, {**CALL, "output_tokens": 501}, "order-2")

    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert len(usage_rows(tenant)) == 1


def test_keys_belong_to_their_tenant(tenant, other_tenant, api_client_for, priced_model):
    fund(tenant, "1"), fund(other_tenant, "1")

    mine = post(api_client_for(tenant), CALL, "shared-key")
    theirs = post(api_client_for(other_tenant), CALL, "shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert len(usage_rows(tenant)) == len(usage_rows(other_tenant)) == 1


def test_a_402_is_stored_and_replays_as_402_even_after_a_top_up(tenant, api_client_for, priced_model):
    client = api_client_for(tenant)

    refused = post(client, CALL, "order-3")
    fund(tenant, "1")
    replayed = post(client, CALL, "order-3")

    assert refused.status_code == replayed.status_code == 402
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.content == refused.content
    assert usage_rows(tenant) == []


def test_validation_errors_and_404s_are_not_stored(tenant, api_client_for, priced_model):
    fund(tenant, "1")
    client = api_client_for(tenant)

    assert post(client, {**CALL, "input_tokens": -1}, "order-4").status_code == 422
    assert post(client, {**CALL, "model": "nope"}, "order-4").status_code == 404
    fixed = post(client, CALL, "order-4")

    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed


def test_keys_are_kept_24_hours_then_purged(tenant, api_client_for, priced_model):
    fund(tenant, "1")
    client = api_client_for(tenant)
    post(client, CALL, "old"), post(client, CALL, "new")
    IdempotencyKey.all_tenants.filter(key="old").update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    IdempotencyKey.all_tenants.filter(key="new").update(created_at=timezone.now() - timedelta(hours=23, minutes=59))

    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.all_tenants.values_list("key", flat=True)) == ["new"]
    with pytest.raises(ValueError):
        idempotency_keys_purge(older_than=timedelta(hours=1))


@pytest.mark.postgres
def test_fifty_concurrent_duplicates_wait_for_the_first_and_all_get_its_response(
    fast_tenant, api_client_for, priced_model
):
    fund(fast_tenant, "1")
    raw = api_client_for(fast_tenant).raw_key

    def call(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = post(client, CALL, "concurrent-1")
        return response.status_code, response.content, response.get("Idempotent-Replayed")

    results = in_parallel(50, call, threads=50)

    assert {status for status, _, _ in results} == {201}
    assert len({body for _, body, _ in results}) == 1
    assert sorted(replayed or "" for _, _, replayed in results) == [""] + ["true"] * 49
    assert len(usage_rows(fast_tenant)) == 1
    assert balance_of(fast_tenant)[0] == Decimal("1") - CALL_COST
    different = post(api_client_for(fast_tenant), {**CALL, "input_tokens": 1}, "concurrent-1")
    assert different.status_code == 422
    assert different.json()["code"] == "idempotency_key_reused"

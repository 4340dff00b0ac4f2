"""GET credits/transactions: newest first, cursor pages that hold still while rows arrive."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import CreditTransaction
from tests.billing.conftest import CALL, fund

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def charge(client, times=1):
    for _ in range(times):
        assert client.post("/api/v1/usage", CALL, format="json").status_code == 201


def all_pages(client, url):
    seqs, pages = [], 0
    while url:
        body = client.get(url).json()
        seqs += [row["seq"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    return seqs, pages


def test_newest_first_in_pages(fast_tenant, api_client_for, priced_model):
    fund(fast_tenant, "1")
    client = api_client_for(fast_tenant)
    charge(client, 6)

    seqs, pages = all_pages(client, "/api/v1/credits/transactions?page_size=2")

    assert seqs == [7, 6, 5, 4, 3, 2, 1]
    assert pages == 4


def test_pages_stay_stable_while_rows_are_inserted(fast_tenant, api_client_for, priced_model):
    fund(fast_tenant, "1")
    client = api_client_for(fast_tenant)
    charge(client, 4)
    first = client.get("/api/v1/credits/transactions?page_size=2").json()
    charge(client, 3)  # new rows land on top while the client pages on

    seqs = [row["seq"] for row in first["results"]] + all_pages(client, first["next"])[0]

    assert seqs == [5, 4, 3, 2, 1]


def test_filters_type_since_until(fast_tenant, api_client_for, priced_model):
    fund(fast_tenant, "1")
    client = api_client_for(fast_tenant)
    charge(client, 2)
    old = CreditTransaction.all_tenants.get(tenant=fast_tenant, seq=1)
    CreditTransaction.all_tenants.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    cut = (timezone.now() - timedelta(days=1)).isoformat()

    usage = client.get("/api/v1/credits/transactions", {"type": "usage"}).json()["results"]
    recent = client.get("/api/v1/credits/transactions", {"since": cut}).json()["results"]
    older = client.get("/api/v1/credits/transactions", {"until": cut}).json()["results"]

    assert [r["seq"] for r in usage] == [3, 2]
    assert [r["seq"] for r in recent] == [3, 2]
    assert [(r["seq"], r["type"]) for r in older] == [(1, "grant")]


def test_another_tenants_rows_are_never_listed(tenant, other_tenant, api_client_for, priced_model):
    fund(other_tenant, "3")

    assert api_client_for(tenant).get("/api/v1/credits/transactions").json() == {"results": [], "next": None}


@pytest.mark.parametrize(
    "query", ["type=bonus", "since=yesterday", "page_size=0", "page_size=1000", "cursor=forged", "colour=red"]
)
def test_bad_filters_are_400(query, tenant, api_client_for):
    response = api_client_for(tenant).get(f"/api/v1/credits/transactions?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"

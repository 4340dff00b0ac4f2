"""Exactness under real concurrency on PostgreSQL: threads, each on its own connections.

``RADIANT_REPEAT=20`` runs each scenario 20 times in a row (one test per round).
"""

import os
import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from billing import services
from billing.models import CreditHold
from billing.verify import ledger_verify
from radiant.problems import HoldNotOpen, InsufficientCredits
from radiant.tenancy import tenant_scope
from tests.billing.conftest import CALL, CALL_COST, balance_of, fund, in_parallel, ledger_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

ROUNDS = range(int(os.environ.get("RADIANT_REPEAT", "1")))


@pytest.mark.parametrize("round", ROUNDS)
def test_200_concurrent_charges_against_a_balance_for_exactly_n(round, fast_tenant, api_client_for, priced_model):
    n = 73
    leftover = Decimal("0.004999999")  # less than one more call
    fund(fast_tenant, n * CALL_COST + leftover)
    raw = api_client_for(fast_tenant).raw_key

    def charge(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = client.post("/api/v1/usage", CALL, format="json")
        return response.status_code, response.json().get("code")

    outcomes = Counter(in_parallel(200, charge))

    assert outcomes == {(201, None): n, (402, "insufficient_credits"): 200 - n}
    assert balance_of(fast_tenant) == (leftover, Decimal(0))
    assert [row.type for row in ledger_of(fast_tenant)].count("usage") == n
    assert ledger_verify() == {}
    call_command("verify_ledger")


@pytest.mark.parametrize("round", ROUNDS)
def test_concurrent_holds_settles_voids_and_expiries_never_overdraw_or_leak(round, fast_tenant):
    fund(fast_tenant, "10")
    tenant_id = fast_tenant.id
    rng = random.Random(round)
    plans = [(rng.choice(["settle", "void", "expire", "charge"]), Decimal(rng.randint(1, 300)) / 100) for _ in range(120)]

    def act(i):
        kind, amount = plans[i]
        with tenant_scope(tenant_id):
            try:
                if kind == "charge":
                    return kind, services.hold_settle(
                        tenant_id=tenant_id, hold_id=services.hold_reserve(tenant_id=tenant_id, amount=amount).id,
                        cost=amount * 2,  # more than the hold: charged the hold, no more
                    ).amount
                ttl = timedelta(microseconds=1) if kind == "expire" else timedelta(minutes=5)
                hold = services.hold_reserve(tenant_id=tenant_id, amount=amount, ttl=ttl)
            except InsufficientCredits:
                return kind, "refused"
            if kind == "settle":
                return kind, services.hold_settle(tenant_id=tenant_id, hold_id=hold.id, cost=amount / 2).amount
            if kind == "void":
                return kind, services.hold_void(tenant_id=tenant_id, hold_id=hold.id).amount
            return kind, hold.id

    def sweep(i):
        return "sweep", services.holds_expire()

    results = in_parallel(len(plans) + 8, lambda i: act(i) if i < len(plans) else sweep(i), threads=24)

    services.holds_expire()  # the one sweep after the last expiry
    balance, held = balance_of(fast_tenant)
    assert held == 0 and balance >= 0
    assert not CreditHold.all_tenants.filter(status=CreditHold.Status.OPEN).exists()
    charged = sum(-a for kind, a in results if kind in ("settle", "charge") and a != "refused")
    assert balance == Decimal("10") - charged
    assert ledger_verify() == {}
    for row in ledger_of(fast_tenant):
        assert row.balance_after - row.held_after >= 0


def test_a_hold_reserves_settles_at_most_its_amount_and_closes_once(fast_tenant):
    fund(fast_tenant, "5")
    with tenant_scope(fast_tenant.id):
        hold = services.hold_reserve(tenant_id=fast_tenant.id, amount=Decimal("4"))
        assert balance_of(fast_tenant) == (Decimal("5"), Decimal("4"))
        with pytest.raises(InsufficientCredits):
            services.hold_reserve(tenant_id=fast_tenant.id, amount=Decimal("1.000000001"))
        usage = services.hold_settle(tenant_id=fast_tenant.id, hold_id=hold.id, cost=Decimal("1.25"), model_slug="gpt-4o")
        with pytest.raises(HoldNotOpen):
            services.hold_void(tenant_id=fast_tenant.id, hold_id=hold.id)
    assert usage.amount == Decimal("-1.25")
    assert balance_of(fast_tenant) == (Decimal("3.75"), Decimal(0))
    assert [(r.type, r.amount, r.held_change) for r in ledger_of(fast_tenant)][1:] == [
        ("hold", 0, Decimal("4")), ("usage", Decimal("-1.25"), Decimal("-1.25")), ("hold_release", 0, Decimal("-2.75")),
    ]
    assert ledger_verify() == {}


def test_an_expired_hold_cannot_be_settled_and_the_sweep_releases_it(fast_tenant):
    fund(fast_tenant, "5")
    with tenant_scope(fast_tenant.id):
        hold = services.hold_reserve(tenant_id=fast_tenant.id, amount=Decimal("2"), ttl=timedelta(microseconds=1))
    with tenant_scope(fast_tenant.id), pytest.raises(HoldNotOpen):
        services.hold_settle(tenant_id=fast_tenant.id, hold_id=hold.id, cost=Decimal("1"))

    assert services.holds_expire() == 1
    assert CreditHold.all_tenants.get(id=hold.id).status == "expired"
    assert balance_of(fast_tenant) == (Decimal("5"), Decimal(0))

"""100 concurrent completions against a balance that covers N holds (PostgreSQL, Redis, threads).

The upstream holds every call until each of the 100 requests has either reached it or been
refused, so the N holds are all open at once: exactly N calls can be made, the rest get 402
without reaching the provider. Then every call completes and is settled at its own usage.
"""

import os
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from billing.models import CreditHold
from billing.verify import ledger_verify
from tests.billing.conftest import in_parallel
from tests.gateway.conftest import PROMPT_TOKENS, balance_of, cost, ledger_of, prompt_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True, databases="__all__")]

ROUNDS = range(int(os.environ.get("RADIANT_REPEAT", "1")))
CALLS = 100


@pytest.mark.parametrize("round", ROUNDS)
def test_100_concurrent_completions_against_a_balance_for_n_holds(round, route, funded, upstream):
    route("test-chat", max_output_tokens=40, timeout_seconds=Decimal("120"))
    n = 37
    hold = cost(prompt_bytes(), 40)  # every call's hold: the same prompt, the route's limit
    leftover = hold - Decimal("0.000000001")  # not enough for one more
    tenant, client = funded(str(n * hold + leftover))
    raw = client.raw_key
    gate = upstream.hold()
    refused = Counter()
    decided = upstream.arrived  # notified on each arrival upstream, and here on each refusal

    def complete(i):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        # Each call asks for a different number of tokens, so costs differ.
        tokens = 1 + i % 40
        response = c.post("/api/v1/chat/completions", {
            "model": "test-chat", "messages": [{"role": "system", "content": "be brief"},
                                               {"role": "user", "content": "say something nice"}],
            "user": f"want-{tokens}",
        } | ({"max_tokens": 40} if i % 2 else {}), format="json")
        if response.status_code == 402:
            with decided:
                refused[response.json()["code"]] += 1
                decided.notify_all()
        return response.status_code, response.json().get("usage", {}).get("completion_tokens")

    def release_when_all_decided():
        with decided:
            decided.wait_for(lambda: upstream.hits + sum(refused.values()) >= CALLS, timeout=60)
        gate.set()

    releaser = threading.Thread(target=release_when_all_decided)
    releaser.start()
    results = in_parallel(CALLS, complete, threads=CALLS)
    releaser.join()

    outcomes = Counter(status for status, _ in results)
    assert outcomes == {200: n, 402: CALLS - n}, outcomes
    assert refused == {"insufficient_credits": CALLS - n}
    assert upstream.hits == n  # a refused call never reaches the provider
    charged = sum(cost(PROMPT_TOKENS, tokens) for status, tokens in results if status == 200)
    balance, held = balance_of(tenant)
    assert held == 0
    assert balance == n * hold + leftover - charged  # grants - the sum of the actual costs
    assert balance >= 0
    assert not CreditHold.all_tenants.filter(tenant=tenant, status=CreditHold.Status.OPEN).exists()
    rows = ledger_of(tenant)
    assert [r.type for r in rows].count("usage") == n
    assert all(r.balance_after - r.held_after >= 0 for r in rows)
    assert ledger_verify() == {}
    call_command("verify_ledger")

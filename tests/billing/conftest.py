"""Fixtures for the credit ledger tests: funded tenants, a priced model, parallel callers."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from billing.models import CreditAccount, CreditTransaction
from billing.services import credits_grant
from radiant import redis_wire
from tests.helpers import make_model

# 1,000 input tokens at 0.0025 + 500 output tokens at 0.01 per 1,000.
CALL = {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}
CALL_COST = Decimal("0.0075")


@pytest.fixture
def priced_model(tiers):
    return make_model("gpt-4o", input_cost_per_1k=Decimal("0.0025"), output_cost_per_1k=Decimal("0.01"))


@pytest.fixture
def fast_tenant(make_tenant):
    """A tenant whose rate limits no test here reaches."""
    return make_tenant("busy", rps=100_000, burst=100_000, daily=0)


def fund(tenant, amount):
    return credits_grant(tenant=tenant, amount=amount, reason="test funds", operator="pytest")


def balance_of(tenant):
    account = CreditAccount.all_tenants.filter(tenant=tenant).first()
    return (account.balance, account.held) if account else (Decimal(0), Decimal(0))


def ledger_of(tenant):
    return list(CreditTransaction.all_tenants.filter(tenant=tenant).order_by("seq"))


def in_parallel(count, call, *, threads=32):
    """``call(i)`` for i in range(count) from ``threads`` threads, started together; each
    thread uses its own database and Redis connections and gives them back after every call."""
    start = threading.Event()

    def run(i):
        start.wait()
        try:
            return call(i)
        finally:
            for connection in connections.all():
                connection.close()
            redis_wire.release()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(run, i) for i in range(count)]
        start.set()
        return [f.result() for f in futures]

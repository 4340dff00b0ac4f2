"""Usage for the console: credits per day rolled up from the ledger exactly once, however
many rollups run at once; today's requests from the limiter's own counter; 429s counted on
refusals only."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models import Sum

from billing import services
from billing.models import CreditTransaction
from console.models import LedgerRollup, UsageDay
from console.selectors import dashboard_get
from console.usage import counters_today, usage_rollup
from radiant.tenancy import tenant_scope
from tests.billing.conftest import fund

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def charge(tenant, model, times):
    with tenant_scope(tenant.id):
        for _ in range(times):
            services.usage_charge(tenant_id=tenant.id, model=model.slug, input_tokens=1000, output_tokens=500)


def used(tenant):
    return UsageDay.all_tenants.filter(tenant=tenant).aggregate(total=Sum("credits_used"))["total"] or Decimal(0)


def ledger_used(tenant):
    total = CreditTransaction.all_tenants.filter(tenant=tenant, type="usage").aggregate(total=Sum("amount"))["total"]
    return -(total or Decimal(0))


def test_the_rollup_takes_each_ledger_row_once(tenant, other_tenant, priced_model):
    fund(tenant, "10")
    fund(other_tenant, "10")
    charge(tenant, priced_model, 3)
    assert usage_rollup() == 5  # two grants, three charges
    assert used(tenant) == Decimal("0.0225") and used(other_tenant) == 0
    assert usage_rollup() == 0 and used(tenant) == Decimal("0.0225")  # nothing new: nothing counted

    charge(tenant, priced_model, 2)
    charge(other_tenant, priced_model, 1)
    assert usage_rollup() == 3
    day = UsageDay.all_tenants.get(tenant=tenant)
    assert (day.credits_used, day.credits_added, day.charges) == (Decimal("0.0375"), Decimal("10"), 5)
    assert LedgerRollup.all_tenants.get(tenant=tenant).seq == 6


def test_a_rollup_is_a_few_statements_however_many_tenants_moved(make_tenant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(tenants):
        for tenant in tenants:
            fund(tenant, "1")
        with CaptureQueriesContext(connection) as queries:
            assert usage_rollup(counters=False) == len(tenants)
        return len(queries)

    one = statements([make_tenant("one")])
    assert statements([make_tenant(f"many-{i}") for i in range(12)]) == one
    assert UsageDay.all_tenants.filter(credits_added=1).count() == 13


@pytest.mark.postgres
def test_concurrent_rollups_never_count_a_row_twice(tenant, priced_model):
    fund(tenant, "100")
    start = threading.Event()

    def run(kind):
        start.wait()
        try:
            if kind == "charge":
                charge(tenant, priced_model, 20)
            else:
                for _ in range(10):
                    usage_rollup()
        finally:
            for connection in connections.all():
                connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(run, kind) for kind in ["charge", "charge", "rollup", "rollup", "rollup", "rollup"]]
        start.set()
        for future in futures:
            future.result()
    usage_rollup()
    assert used(tenant) == ledger_used(tenant) == Decimal("0.3")
    assert UsageDay.all_tenants.get(tenant=tenant).charges == 40


def test_requests_today_come_from_the_limiter_and_429s_from_refusals(make_tenant, api_client_for, anon_client):
    limited = make_tenant("limited", rps=1, burst=2, daily=1000)
    unlimited = make_tenant("unlimited", tier="enterprise")
    client = api_client_for(limited)
    statuses = [client.get("/api/v1/tenant").status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and 429 in statuses
    api_client_for(unlimited).get("/api/v1/tenant")
    anon_client.get("/api/v1/tenant")  # an address's failure is not a tenant's

    idle = make_tenant("idle", tier="enterprise")

    counters = counters_today([limited.id, unlimited.id, idle.id])
    assert counters[limited.id] == (statuses.count(200), statuses.count(429))
    assert counters[unlimited.id] == (1, 0)  # no quota, counted all the same
    assert counters[idle.id] == (0, 0)

    usage_rollup()
    day = UsageDay.all_tenants.get(tenant=limited)
    assert (day.requests, day.throttled) == (statuses.count(200), statuses.count(429))
    assert UsageDay.all_tenants.get(tenant=unlimited).requests == 1
    assert not UsageDay.all_tenants.filter(tenant=idle).exists()


def test_the_dashboard_reads_balances_holds_and_burn(tenant, other_tenant, priced_model, admin_client):
    fund(tenant, "1")
    charge(tenant, priced_model, 4)  # 0.03 used
    with tenant_scope(tenant.id):
        services.hold_reserve(tenant_id=tenant.id, amount=Decimal("0.5"))
    usage_rollup()

    board = dashboard_get()
    row = next(t for t in board.tenants if t.tenant == tenant)
    assert (row.balance, row.held, row.open_holds, row.burned_7d) == (Decimal("0.97"), Decimal("0.5"), 1, Decimal("0.03"))
    assert row.days_left == Decimal("109.7")  # 0.47 available at 0.03 a week
    assert board.nearest_to_running_out[0].tenant == tenant
    assert board.days[-1]["credits_used"] == Decimal("0.03")

    page = admin_client.get("/admin/").content.decode()
    assert 'id="total-balance">0.97<' in page and 'id="total-holds">1<' in page


def test_the_dashboard_reads_aggregates_not_the_ledger(tenant, priced_model, admin_client, django_assert_max_num_queries):
    fund(tenant, "10")
    charge(tenant, priced_model, 30)
    usage_rollup()
    with django_assert_max_num_queries(20) as queries:
        assert admin_client.get("/admin/").status_code == 200
    ledger_reads = [q["sql"] for q in queries.captured_queries if "credit_transactions" in q["sql"]]
    assert ledger_reads == []  # nothing new since the rollup: the ledger is not read at all

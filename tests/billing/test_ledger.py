"""The ledger as operators see it: commands, verify_ledger, and what the web role may do."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.utils import DatabaseError

from billing import services
from billing.models import CreditTransaction
from radiant.tenancy import tenant_scope
from tests.billing.conftest import fund, ledger_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_create_tenant_with_credits_and_grant_credits(tiers):
    created = run("create_tenant", "--slug", "acme", "--name", "Acme", "--tier", "free", "--credits", "10.5")

    assert run("grant_credits", "--tenant", "acme", "--amount", "0.000000001", "--reason", "promo") == {"balance": "10.500000001"}
    rows = CreditTransaction.all_tenants.filter(tenant_id=created["id"]).order_by("seq")
    assert [(r.type, r.amount, r.reason) for r in rows] == [
        ("grant", Decimal("10.5"), "initial credits"), ("grant", Decimal("0.000000001"), "promo"),
    ]
    assert all("grant_credits" in r.operator or "create_tenant" in r.operator for r in rows)


@pytest.mark.parametrize("args, message", [
    (["--tenant", "nobody", "--amount", "1", "--reason", "x"], "no tenant"),
    (["--tenant", "acme", "--amount", "-1", "--reason", "x"], "greater than zero"),
    (["--tenant", "acme", "--amount", "ten", "--reason", "x"], "not a decimal"),
    (["--tenant", "acme", "--amount", "1e30", "--reason", "x"], "at most"),
    (["--tenant", "acme", "--amount", "0.0000000001", "--reason", "x"], "9 decimals"),
    (["--tenant", "acme", "--amount", "NaN", "--reason", "x"], "finite"),
    (["--tenant", "acme", "--amount", "1", "--reason", " "], "reason"),
])
def test_grant_credits_mistakes_are_one_line_and_change_nothing(args, message, make_tenant):
    tenant = make_tenant("acme")
    with pytest.raises(CommandError, match=message):
        call_command("grant_credits", *args)
    assert ledger_of(tenant) == []


def test_a_negative_adjustment_cannot_take_held_credits(make_tenant):
    tenant = make_tenant("acme")
    fund(tenant, "5")
    with tenant_scope(tenant.id):
        services.hold_reserve(tenant_id=tenant.id, amount=Decimal("4"))

    with pytest.raises(services.BillingError, match="available"):
        services.credits_adjust(tenant=tenant, amount="-1.5", reason="fix", operator="ops")
    row = services.credits_adjust(tenant=tenant, amount="-1", reason="fix", operator="ops")

    assert (row.balance_after, row.held_after) == (Decimal("4"), Decimal("4"))


def test_verify_ledger_passes_on_a_ledger_the_app_wrote(make_tenant):
    fund(make_tenant("a"), "3"), fund(make_tenant("b"), "4")
    assert run("verify_ledger") == {"ok": True}


@pytest.mark.parametrize("tamper", ["amount", "balance_after", "delete_row", "account_balance"])
def test_verify_ledger_names_each_tenant_changed_behind_the_apps_back(tamper, make_tenant):
    good, bad, worse = make_tenant("good"), make_tenant("bad"), make_tenant("worse")
    for tenant in (good, bad, worse):
        fund(tenant, "3"), fund(tenant, "4"), fund(tenant, "5")
    for victim in (bad, worse):
        middle = CreditTransaction.all_tenants.get(tenant=victim, seq=2)
        rows = CreditTransaction.all_tenants.filter(pk=middle.pk)
        if tamper == "amount":
            rows.update(amount=Decimal("40"))
        elif tamper == "balance_after":
            rows.update(balance_after=Decimal("8"))
        elif tamper == "delete_row":
            rows.delete()
        else:
            from billing.models import CreditAccount

            CreditAccount.all_tenants.filter(tenant=victim).update(balance=Decimal("13"))

    with pytest.raises(CommandError) as failure:
        call_command("verify_ledger", stderr=StringIO())

    message = str(failure.value)
    assert str(bad.id) in message and str(worse.id) in message
    assert str(good.id) not in message


@pytest.mark.postgres
def test_the_web_role_may_insert_ledger_rows_but_never_update_or_delete_them(make_tenant):
    tenant = make_tenant("acme")
    row = fund(tenant, "5")
    connection = connections[settings.TENANT_DB_ALIAS]
    for statement in (
        "UPDATE credit_transactions SET amount = 1000 WHERE id = %s",
        "DELETE FROM credit_transactions WHERE id = %s",
    ):
        with tenant_scope(tenant.id):
            with pytest.raises(DatabaseError, match="permission denied"), connection.cursor() as cursor:
                cursor.execute(statement, [row.id])
    with tenant_scope(tenant.id), connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(current_user, 'credit_transactions', 'INSERT')")
        assert cursor.fetchone() == (True,)
    assert CreditTransaction.all_tenants.get(pk=row.pk).amount == Decimal("5")


@pytest.mark.postgres
def test_no_billing_function_is_security_definer():
    """The charge is a plain statement as the web role; nothing here lifts RLS."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.prosecdef AND n.nspname = 'public'"
        )
        definers = {name for (name,) in cursor.fetchall()}
    assert definers <= {"radiant_current_tenant", "radiant_api_key_lookup"}

"""The ledger in the admin: every amount shown as an operator reads it, and sortable where
it is a column of the table."""

import re
from decimal import Decimal

import pytest

from billing.services import credits_grant, hold_reserve

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def cells(html, column):
    return [re.sub(r"<[^>]+>", "", text).strip() for text in re.findall(rf'class="field-{column}[^"]*">(.*?)</t[dh]>', html)]


@pytest.fixture
def operator_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ledger-op", "op@example.com", "a long passphrase"))
    return client


def test_amount_columns_show_every_significant_digit(operator_client, make_tenant):
    small, large = make_tenant(slug="small"), make_tenant(slug="large")
    credits_grant(tenant=small, amount=Decimal("0.0075"), reason="test", operator="op")
    credits_grant(tenant=large, amount=Decimal("1234.5"), reason="test", operator="op")
    hold_reserve(tenant_id=large.id, amount=Decimal("0.25"))

    accounts = operator_client.get("/admin/billing/creditaccount/?o=2").content.decode()  # by balance
    assert cells(accounts, "balance_text") == ["0.0075", "1,234.50"]
    assert cells(accounts, "held_text") == ["0.00", "0.25"]
    assert cells(accounts, "available_text") == ["0.0075", "1,234.25"]

    ledger = operator_client.get("/admin/billing/credittransaction/").content.decode()
    rows = zip(cells(ledger, "amount_text"), cells(ledger, "balance_after_text"), cells(ledger, "held_after_text"))
    assert sorted(rows) == sorted([
        ("0.0075", "0.0075", "0.00"),  # the grants
        ("1,234.50", "1,234.50", "0.00"),
        ("0.00", "1,234.50", "0.25"),  # the hold moves nothing from the balance: it holds 0.25
    ])

    holds = operator_client.get("/admin/billing/credithold/").content.decode()
    assert cells(holds, "amount_text") == ["0.25"]

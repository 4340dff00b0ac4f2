"""Reads of the credit ledger, as the current tenant sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.models import ZERO, CreditAccount, CreditTransaction
from radiant.problems import NotFound


class TransactionNotFound(NotFound):
    title = "Transaction not found"


@dataclass(frozen=True)
class Balance:
    balance: Decimal
    held: Decimal
    currency: str

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


def credits_get() -> Balance:
    """The tenant's balance; a tenant that was never granted credits has none."""
    row = CreditAccount.objects.values_list("balance", "held", "currency").first()
    if row is None:
        return Balance(balance=ZERO, held=ZERO, currency="credits")
    return Balance(*row)


def transaction_list(*, type: str | None = None, since: datetime | None = None, until: datetime | None = None):
    """The tenant's ledger, newest first (by its gapless ``seq``, which is commit order)."""
    qs = CreditTransaction.objects.all()
    if type:
        qs = qs.filter(type=type)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-seq")


def transaction_get(*, id) -> CreditTransaction:
    """One of the tenant's rows; another tenant's id is exactly as missing as an unknown one."""
    row = CreditTransaction.objects.filter(id=id).first()
    if row is None:
        raise TransactionNotFound("No such transaction.")
    return row

"""Writes to the credit ledger. Keyword-only; every balance change is a new ledger row.

Every change goes through one conditional ``UPDATE`` of the tenant's account row
(``… WHERE balance - held >= needed``), which takes the account's next ``seq``. There is
no read-modify-write: two concurrent charges cannot both see the same balance, because the
second one's ``UPDATE`` waits for the first's row lock and then re-checks its condition
against the committed balance (PostgreSQL's READ COMMITTED re-evaluation). No SERIALIZABLE
retries, no advisory locks.

On PostgreSQL a usage charge is a single statement: the account ``UPDATE … RETURNING`` and
the ledger ``INSERT`` in one CTE, one round trip. Elsewhere (the embedded SQLite default)
the same steps run through the ORM inside one transaction, which SQLite serialises.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connections
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from billing.models import ZERO, CreditAccount, CreditHold, CreditTransaction
from models_catalog.selectors import ModelNotFound, model_get, usable_model_sql
from radiant import metrics, tenancy
from radiant.problems import HoldNotOpen, InsufficientCredits

NINE_PLACES = Decimal("1e-9")
# Upper bound of one amount an operator may grant or adjust by (the column holds 11 digits
# before the point; a typo of a few zeros must not get near it).
MAX_MANUAL_AMOUNT = Decimal("1000000000")
# How long a hold lives when the caller does not say (the gateway's longest call, and then some).
DEFAULT_HOLD_TTL = timedelta(minutes=15)
MAX_HOLD_TTL = timedelta(days=1)


class BillingError(ValueError):
    """An operator asked for something the ledger cannot do; the message says why."""


def _not_enough(message: str) -> InsufficientCredits:
    """The 402 to raise, counted (a refusal, not a replay of one)."""
    metrics.insufficient_credits()
    return InsufficientCredits(message)


def usage_cost(*, input_tokens: int, output_tokens: int, input_price_per_1k: Decimal, output_price_per_1k: Decimal) -> Decimal:
    """tokens / 1000 × price, summed. Exact: prices have 6 decimals, so costs have at most 9."""
    cost = (Decimal(input_tokens) * input_price_per_1k + Decimal(output_tokens) * output_price_per_1k).scaleb(-3)
    exact = cost.quantize(NINE_PLACES)
    if exact != cost:  # a price with more than 6 decimals slipped past the catalog's column
        raise ValueError(f"cost {cost} is not exact at 9 decimals")
    return exact


# --- the account row: the one place balances change --------------------------------------


@dataclass(frozen=True)
class _After:
    seq: int
    balance: Decimal
    held: Decimal


def _accounts(tenant_id):
    """Inside a tenant scope, the scoped manager (RLS-bound on PostgreSQL); outside, the
    operator's. Either way one tenant's row."""
    manager = CreditAccount.objects if tenancy.current_tenant_id() else CreditAccount.all_tenants
    return manager.filter(tenant_id=tenant_id)


def _move(*, tenant_id, amount: Decimal, held_change: Decimal, needed: Decimal | None, rows: int = 1) -> _After | None:
    """Change the account by ``amount`` / ``held_change`` if ``balance - held >= needed``.

    Returns the account after the change, or None if the condition did not hold (nothing
    changed). Must run inside a transaction: the row stays locked until it ends, so the
    read-back is this change's result, not a later one's.
    """
    accounts = _accounts(tenant_id)
    if needed is not None:
        accounts = accounts.filter(balance__gte=F("held") + needed)
    changed = accounts.update(
        balance=F("balance") + amount, held=F("held") + held_change, seq=F("seq") + rows, updated_at=timezone.now()
    )
    if not changed:
        return None
    seq, balance, held = _accounts(tenant_id).values_list("seq", "balance", "held").get()
    return _After(seq=seq, balance=balance, held=held)


def _ledger_row(*, tenant_id, after: _After, seq: int | None = None, **fields) -> CreditTransaction:
    manager = CreditTransaction.objects if tenancy.current_tenant_id() else CreditTransaction.all_tenants
    return manager.create(
        tenant_id=tenant_id,
        seq=after.seq if seq is None else seq,
        balance_after=after.balance,
        held_after=after.held,
        **fields,
    )


def _manager_for(model):
    return model.objects if tenancy.current_tenant_id() else model.all_tenants


# --- usage ---------------------------------------------------------------------------------

# The whole charge in one statement, one round trip: the model and its prices as the
# tenant may use it now (the catalog's rule, models_catalog.selectors), the cost at those
# prices (exact: ``× 0.001`` of a NUMERIC product is exact, and prices have 6 decimals), the
# conditional debit of the account and the ledger row. The final SELECT tells the three
# outcomes apart: no row (no such model for this tenant), a row without ``seq`` (not enough
# credit: nothing was written), a row with it (charged).
_CHARGE_SQL = """
WITH model AS ({model}),
priced AS (
    SELECT slug, input_cost_per_1k, output_cost_per_1k,
           ((%(input_tokens)s::numeric * input_cost_per_1k
             + %(output_tokens)s::numeric * output_cost_per_1k) * 0.001)::numeric(20, 9) AS cost
      FROM model
),
account AS (
    UPDATE credit_accounts AS a
       SET balance = a.balance - p.cost, seq = a.seq + 1, updated_at = now()
      FROM priced AS p
     WHERE a.tenant_id = %(tenant_id)s AND a.balance - a.held >= p.cost
 RETURNING a.tenant_id, a.seq, a.balance, a.held
),
charged AS (
    INSERT INTO credit_transactions (
        id, tenant_id, seq, type, amount, held_change, balance_after, held_after,
        model_slug, input_tokens, output_tokens, input_price_per_1k, output_price_per_1k,
        hold_id, operator, reason, request_id, created_at
    )
    SELECT %(id)s, a.tenant_id, a.seq, 'usage', -p.cost, 0, a.balance, a.held,
           p.slug, %(input_tokens)s, %(output_tokens)s, p.input_cost_per_1k, p.output_cost_per_1k,
           NULL, '', '', %(request_id)s, now()
      FROM account AS a, priced AS p
 RETURNING seq, balance_after, held_after, created_at
)
SELECT p.slug, p.input_cost_per_1k, p.output_cost_per_1k, p.cost,
       c.seq, c.balance_after, c.held_after, c.created_at
  FROM priced AS p LEFT JOIN charged AS c ON true
"""
_charge_sql: list[str] = []  # built once: the model query comes from the catalog's selectors


def usage_charge(*, tenant_id, model: str, input_tokens: int, output_tokens: int, request_id: str = "") -> CreditTransaction:
    """Charge a call of the model with slug ``model`` at the catalog's current prices.

    Raises ``ModelNotFound`` for a model the tenant may not use, ``InsufficientCredits``
    when the available balance does not cover the cost; either way nothing is written.
    """
    row = CreditTransaction(
        id=uuid.uuid4(), tenant_id=tenant_id, type=CreditTransaction.Type.USAGE, held_change=ZERO,
        input_tokens=input_tokens, output_tokens=output_tokens, request_id=request_id,
    )
    connection = connections[tenancy.db_alias()]
    if connection.vendor == "postgresql":
        if not _charge_sql:
            _charge_sql.append(_CHARGE_SQL.format(model=usable_model_sql()))
        with connection.cursor() as cursor:
            cursor.execute(_charge_sql[0], {
                "id": row.id, "tenant_id": tenant_id, "slug": model, "input_tokens": input_tokens,
                "output_tokens": output_tokens, "request_id": request_id,
            })
            result = cursor.fetchone()
        if result is None:
            raise ModelNotFound(f"No model {model!r}.")
        row.model_slug, row.input_price_per_1k, row.output_price_per_1k, cost = result[:4]
        _check_exact(row, cost)
        if result[4] is None:
            raise _not_enough(f"This call costs {cost} credits; not enough are available.")
        row.seq, row.balance_after, row.held_after, row.created_at = result[4:]
    else:
        priced = model_get(slug=model)
        row.model_slug = priced.slug
        row.input_price_per_1k, row.output_price_per_1k = priced.input_cost_per_1k, priced.output_cost_per_1k
        cost = _check_exact(row, None)
        with tenancy.atomic():
            after = _move(tenant_id=tenant_id, amount=-cost, held_change=ZERO, needed=cost)
            if after is None:
                raise _not_enough(f"This call costs {cost} credits; not enough are available.")
            row.amount = -cost
            row.seq, row.balance_after, row.held_after = after.seq, after.balance, after.held
            row.save(force_insert=True, using=tenancy.db_alias())
            row.refresh_from_db(fields=["created_at"])
    row.amount = -cost
    audit_record(
        action="credits.usage", obj=row, tenant_id=tenant_id,
        changes={"balance": [str(row.balance_after + cost), str(row.balance_after)]},
    )
    metrics.credits_charged(cost)
    return row


def _check_exact(row: CreditTransaction, computed: Decimal | None) -> Decimal:
    """The cost of ``row``'s tokens at its prices, by ``usage_cost``; where the database
    computed it too, the two must agree to the last of the 9 decimals."""
    cost = usage_cost(
        input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        input_price_per_1k=row.input_price_per_1k, output_price_per_1k=row.output_price_per_1k,
    )
    if computed is not None and computed != cost:
        raise ValueError(f"the database priced the call at {computed}, not {cost}")
    return cost


# --- operator entries: grant, refund, adjustment ------------------------------------------


def _manual_amount(amount, *, signed: bool) -> Decimal:
    try:
        value = Decimal(str(amount))
    except Exception as exc:
        raise BillingError(f"amount {amount!r} is not a decimal number") from exc
    if not value.is_finite():
        raise BillingError("the amount must be a finite number")
    if abs(value) > MAX_MANUAL_AMOUNT:
        raise BillingError(f"the amount must be at most {MAX_MANUAL_AMOUNT} in size")
    if value != value.quantize(NINE_PLACES):
        raise BillingError("the amount has more than 9 decimals")
    if signed and value == 0:
        raise BillingError("an adjustment of zero changes nothing")
    if not signed and value <= 0:
        raise BillingError("the amount must be greater than zero")
    return value.quantize(NINE_PLACES)


def account_open(*, tenant, currency: str = "credits") -> CreditAccount:
    """The tenant's account, created empty if it has none (operator path)."""
    try:
        account, _ = CreditAccount.all_tenants.get_or_create(tenant=tenant, defaults={"currency": currency})
    except IntegrityError:  # opened concurrently
        account = CreditAccount.all_tenants.get(tenant=tenant)
    return account


def _manual_entry(*, tenant, type: str, amount: Decimal, reason: str, operator: str, signed: bool) -> CreditTransaction:
    if not (reason or "").strip():
        raise BillingError("a reason is required")
    if not (operator or "").strip():
        raise BillingError("the operator is required")
    value = _manual_amount(amount, signed=signed)
    account = account_open(tenant=tenant)
    with tenancy.atomic():
        # A negative adjustment may not take credits that open holds have reserved.
        needed = -value if value < 0 else None
        after = _move(tenant_id=tenant.pk, amount=value, held_change=ZERO, needed=needed)
        if after is None:
            raise BillingError(f"cannot adjust by {value}: only {account.available} is available")
        row = _ledger_row(
            tenant_id=tenant.pk, after=after, type=type, amount=value, reason=reason.strip(), operator=operator,
        )
        audit_record(
            action=f"credits.{type}", tenant_id=tenant.pk, obj=row,
            changes={"balance": [str(after.balance - value), str(after.balance)]},
        )
    return row


def credits_grant(*, tenant, amount, reason: str, operator: str) -> CreditTransaction:
    """Add prepaid credits to ``tenant`` (a purchase, a promotion)."""
    return _manual_entry(
        tenant=tenant, type=CreditTransaction.Type.GRANT, amount=amount, reason=reason, operator=operator, signed=False
    )


def credits_refund(*, tenant, amount, reason: str, operator: str) -> CreditTransaction:
    """Give credits back for usage that should not have been charged."""
    return _manual_entry(
        tenant=tenant, type=CreditTransaction.Type.REFUND, amount=amount, reason=reason, operator=operator, signed=False
    )


def credits_adjust(*, tenant, amount, reason: str, operator: str) -> CreditTransaction:
    """A signed correction. A negative one never takes more than the available balance."""
    return _manual_entry(
        tenant=tenant, type=CreditTransaction.Type.ADJUSTMENT, amount=amount, reason=reason, operator=operator, signed=True
    )


# --- holds ---------------------------------------------------------------------------------
#
# The AI gateway reserves before every model call and settles after it, so on PostgreSQL
# each transition is one statement, like a usage charge: the hold's conditional update, the
# account's update and the ledger rows in one CTE, one round trip. Elsewhere the same steps
# run through the ORM inside one transaction. Either way a hold leaves ``open`` by one
# conditional update on ``status = 'open'`` (settle and void also need ``expires_at > now``,
# the sweep ``expires_at <= now``): of concurrent settle, void and sweep exactly one wins.

_LEDGER_COLUMNS = """id, tenant_id, seq, type, amount, held_change, balance_after, held_after,
    model_slug, input_tokens, output_tokens, input_price_per_1k, output_price_per_1k,
    hold_id, operator, reason, request_id, created_at"""

# Parameters are cast where they stand in a SELECT list: with server-side binding a NULL has
# no type of its own there.
_NO_USAGE = "''::text, NULL::bigint, NULL::bigint, NULL::numeric, NULL::numeric"

_RESERVE_SQL = f"""
WITH account AS (
    UPDATE credit_accounts
       SET held = held + %(amount)s::numeric, seq = seq + 1, updated_at = now()
     WHERE tenant_id = %(tenant_id)s AND balance - held >= %(amount)s::numeric
 RETURNING tenant_id, seq, balance, held
), hold AS (
    INSERT INTO credit_holds (id, tenant_id, amount, status, charged, expires_at, closed_at, created_at)
    SELECT %(hold_id)s::uuid, tenant_id, %(amount)s::numeric, 'open', NULL, %(expires_at)s::timestamptz, NULL, now()
      FROM account
 RETURNING id
)
INSERT INTO credit_transactions ({_LEDGER_COLUMNS})
SELECT %(row_id)s::uuid, account.tenant_id, account.seq, 'hold', 0, %(amount)s::numeric, account.balance, account.held,
       {_NO_USAGE}, hold.id, '', '', %(request_id)s::text, now()
  FROM account, hold
RETURNING seq, balance_after, held_after
"""

_SETTLE_SQL = f"""
WITH hold AS (
    UPDATE credit_holds
       SET status = 'settled', closed_at = %(now)s::timestamptz, charged = LEAST(%(cost)s::numeric, amount)
     WHERE tenant_id = %(tenant_id)s AND id = %(hold_id)s AND status = 'open' AND expires_at > %(now)s::timestamptz
 RETURNING amount, charged
), account AS (
    UPDATE credit_accounts AS a
       SET balance = a.balance - hold.charged, held = a.held - hold.amount,
           seq = a.seq + CASE WHEN hold.charged < hold.amount THEN 2 ELSE 1 END, updated_at = now()
      FROM hold
     WHERE a.tenant_id = %(tenant_id)s
 RETURNING a.tenant_id, a.seq, a.balance, a.held, hold.amount, hold.charged
), released AS (
    INSERT INTO credit_transactions ({_LEDGER_COLUMNS})
    SELECT %(release_id)s::uuid, tenant_id, seq, 'hold_release', 0, charged - amount, balance, held,
           {_NO_USAGE}, %(hold_id)s::uuid, '', '', %(request_id)s::text, now()
      FROM account
     WHERE charged < amount
)
INSERT INTO credit_transactions ({_LEDGER_COLUMNS})
SELECT %(usage_id)s::uuid, tenant_id, CASE WHEN charged < amount THEN seq - 1 ELSE seq END, 'usage',
       -charged, -charged, balance, held + (amount - charged),
       %(model_slug)s::text, %(input_tokens)s::bigint, %(output_tokens)s::bigint,
       %(input_price)s::numeric, %(output_price)s::numeric, %(hold_id)s::uuid, '', '', %(request_id)s::text, now()
  FROM account
RETURNING seq, amount, held_change, balance_after, held_after, created_at
"""

_RELEASE_SQL = f"""
WITH hold AS (
    UPDATE credit_holds
       SET status = %(status)s::text, closed_at = %(now)s::timestamptz
     WHERE tenant_id = %(tenant_id)s AND id = %(hold_id)s AND status = 'open'
       AND (expires_at > %(now)s::timestamptz) = %(live)s::boolean
 RETURNING amount
), account AS (
    UPDATE credit_accounts AS a
       SET held = a.held - hold.amount, seq = a.seq + 1, updated_at = now()
      FROM hold
     WHERE a.tenant_id = %(tenant_id)s
 RETURNING a.tenant_id, a.seq, a.balance, a.held, hold.amount
)
INSERT INTO credit_transactions ({_LEDGER_COLUMNS})
SELECT %(row_id)s::uuid, tenant_id, seq, 'hold_release', 0, -amount, balance, held,
       {_NO_USAGE}, %(hold_id)s::uuid, '', '', %(request_id)s::text, now()
  FROM account
RETURNING seq, held_change, balance_after, held_after, created_at
"""


def _postgres_cursor():
    """A cursor on the alias the current code writes to, or None off PostgreSQL."""
    connection = connections[tenancy.db_alias()]
    return connection.cursor() if connection.vendor == "postgresql" else None


def hold_reserve(*, tenant_id, amount: Decimal, ttl: timedelta = DEFAULT_HOLD_TTL, request_id: str = "") -> CreditHold:
    """Reserve ``amount`` of the available credits until settled, voided or expired."""
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(NINE_PLACES):
        raise ValueError("a hold amount is positive with at most 9 decimals")
    if not timedelta(0) < ttl <= MAX_HOLD_TTL:
        raise ValueError(f"a hold lives more than 0 s and at most {MAX_HOLD_TTL}")
    hold = CreditHold(
        id=uuid.uuid4(), tenant_id=tenant_id, amount=amount, status=CreditHold.Status.OPEN,
        expires_at=timezone.now() + ttl,
    )
    cursor = _postgres_cursor()
    if cursor is not None:
        with cursor:
            cursor.execute(_RESERVE_SQL, {
                "tenant_id": tenant_id, "amount": amount, "hold_id": hold.id, "expires_at": hold.expires_at,
                "row_id": uuid.uuid4(), "request_id": request_id,
            })
            if cursor.fetchone() is None:
                raise _not_enough(f"A hold of {amount} credits is more than is available.")
        return hold
    with tenancy.atomic():
        after = _move(tenant_id=tenant_id, amount=ZERO, held_change=amount, needed=amount)
        if after is None:
            raise _not_enough(f"A hold of {amount} credits is more than is available.")
        hold.save(force_insert=True, using=tenancy.db_alias())
        _ledger_row(
            tenant_id=tenant_id, after=after, type=CreditTransaction.Type.HOLD, amount=ZERO,
            held_change=amount, hold=hold, request_id=request_id,
        )
    return hold


def _close(*, tenant_id, hold_id, status: str, now: datetime, live: bool) -> Decimal | None:
    """Move an open hold to ``status`` (ORM path); the hold's amount, or None if it was not
    open (or, with ``live``, already past its expiry; without it, not yet past it)."""
    holds = _manager_for(CreditHold).filter(tenant_id=tenant_id, id=hold_id, status=CreditHold.Status.OPEN)
    holds = holds.filter(expires_at__gt=now) if live else holds.filter(expires_at__lte=now)
    amount = holds.values_list("amount", flat=True).first()
    if amount is None:
        return None
    # The conditional update is what decides: of concurrent settle/void/sweep, one wins.
    if not holds.update(status=status, closed_at=now):
        return None
    return amount


def _audit_closed(*, tenant_id, hold_id, status: str, balance: tuple[Decimal, Decimal] | None = None) -> None:
    changes = {"status": [CreditHold.Status.OPEN.value, status]}
    if balance is not None and balance[0] != balance[1]:
        changes["balance"] = [str(balance[0]), str(balance[1])]
    audit_record(
        action=f"credithold.{status}", tenant_id=tenant_id, object_type="billing.credithold",
        object_id=str(hold_id), changes=changes,
    )


def hold_settle(*, tenant_id, hold_id, cost: Decimal, request_id: str = "", **usage) -> CreditTransaction:
    """Charge ``cost`` (at most the hold's amount) and release the rest of the hold.

    Writes a ``usage`` row for the charge and, when less than the hold was used, a
    ``hold_release`` row for the remainder. ``usage`` may carry the model and token fields
    (``model_slug``, ``input_tokens``, ``output_tokens``, ``input_price_per_1k``,
    ``output_price_per_1k``).
    """
    cost = Decimal(cost)
    if not cost.is_finite() or cost < 0 or cost != cost.quantize(NINE_PLACES):
        raise ValueError("a cost is non-negative with at most 9 decimals")
    unknown = set(usage) - {"model_slug", "input_tokens", "output_tokens", "input_price_per_1k", "output_price_per_1k"}
    if unknown:
        raise TypeError(f"hold_settle() got unexpected usage fields {sorted(unknown)}")
    now = timezone.now()
    row = CreditTransaction(
        id=uuid.uuid4(), tenant_id=tenant_id, type=CreditTransaction.Type.USAGE, hold_id=hold_id,
        request_id=request_id, **usage,
    )
    cursor = _postgres_cursor()
    if cursor is not None:
        with cursor:
            cursor.execute(_SETTLE_SQL, {
                "tenant_id": tenant_id, "hold_id": hold_id, "cost": cost, "now": now,
                "usage_id": row.id, "release_id": uuid.uuid4(), "request_id": request_id,
                "model_slug": usage.get("model_slug", ""), "input_tokens": usage.get("input_tokens"),
                "output_tokens": usage.get("output_tokens"), "input_price": usage.get("input_price_per_1k"),
                "output_price": usage.get("output_price_per_1k"),
            })
            result = cursor.fetchone()
        if result is None:
            raise HoldNotOpen("This hold was already settled, voided or has expired.")
        row.seq, row.amount, row.held_change, row.balance_after, row.held_after, row.created_at = result
        charged = -row.amount
    else:
        with tenancy.atomic():
            amount = _close(tenant_id=tenant_id, hold_id=hold_id, status=CreditHold.Status.SETTLED, now=now, live=True)
            if amount is None:
                raise HoldNotOpen("This hold was already settled, voided or has expired.")
            charged = min(cost, amount)
            rest = amount - charged
            _manager_for(CreditHold).filter(id=hold_id).update(charged=charged)
            rows = 2 if rest else 1
            # The hold's credits were already reserved: settling never needs more available.
            after = _move(tenant_id=tenant_id, amount=-charged, held_change=-amount, needed=None, rows=rows)
            row.amount = row.held_change = -charged
            row.seq, row.balance_after, row.held_after = after.seq - rows + 1, after.balance, after.held + rest
            row.save(force_insert=True, using=tenancy.db_alias())
            if rest:
                _ledger_row(
                    tenant_id=tenant_id, after=after, type=CreditTransaction.Type.HOLD_RELEASE, amount=ZERO,
                    held_change=-rest, hold_id=hold_id, request_id=request_id,
                )
            row.refresh_from_db(fields=["created_at"])
    _audit_closed(
        tenant_id=tenant_id, hold_id=hold_id, status=CreditHold.Status.SETTLED,
        balance=(row.balance_after + charged, row.balance_after),
    )
    metrics.credits_charged(charged)
    return row


def _release(*, tenant_id, hold_id, status: str, live: bool, request_id: str = "") -> CreditTransaction | None:
    now = timezone.now()
    row = CreditTransaction(
        id=uuid.uuid4(), tenant_id=tenant_id, type=CreditTransaction.Type.HOLD_RELEASE, amount=ZERO,
        hold_id=hold_id, request_id=request_id,
    )
    cursor = _postgres_cursor()
    if cursor is not None:
        with cursor:
            cursor.execute(_RELEASE_SQL, {
                "tenant_id": tenant_id, "hold_id": hold_id, "status": status, "now": now, "live": live,
                "row_id": row.id, "request_id": request_id,
            })
            result = cursor.fetchone()
        if result is None:
            return None
        row.seq, row.held_change, row.balance_after, row.held_after, row.created_at = result
    else:
        with tenancy.atomic():
            amount = _close(tenant_id=tenant_id, hold_id=hold_id, status=status, now=now, live=live)
            if amount is None:
                return None
            after = _move(tenant_id=tenant_id, amount=ZERO, held_change=-amount, needed=None)
            row = _ledger_row(
                tenant_id=tenant_id, after=after, type=CreditTransaction.Type.HOLD_RELEASE, amount=ZERO,
                held_change=-amount, hold_id=hold_id, request_id=request_id,
            )
    _audit_closed(tenant_id=tenant_id, hold_id=hold_id, status=status)
    return row


def hold_void(*, tenant_id, hold_id, request_id: str = "") -> CreditTransaction:
    """Release all of an open hold (the call was not made, or failed before any cost)."""
    row = _release(tenant_id=tenant_id, hold_id=hold_id, status=CreditHold.Status.VOIDED, live=True, request_id=request_id)
    if row is None:
        raise HoldNotOpen("This hold was already settled, voided or has expired.")
    return row


def holds_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Release every open hold past its expiry (operator job, all tenants). Returns how many.

    Each hold is closed in its own short transaction, with the same conditional update as
    settle and void, so a hold being settled at this moment is released by exactly one.
    """
    now = now or timezone.now()
    released = 0
    while True:
        due = list(
            CreditHold.all_tenants.filter(status=CreditHold.Status.OPEN, expires_at__lte=now)
            .order_by("expires_at").values_list("tenant_id", "id")[:batch]
        )
        for tenant_id, hold_id in due:
            if _release(tenant_id=tenant_id, hold_id=hold_id, status=CreditHold.Status.EXPIRED, live=False):
                released += 1
        if len(due) < batch:
            return released

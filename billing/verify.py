"""Checking the ledger against the accounts: every tenant, every row (``verify_ledger``).

For each tenant with an account or a ledger row: the rows' ``seq`` run 1..n without gaps;
each row's ``balance_after`` is the previous one plus its ``amount`` (and ``held_after``
likewise with ``held_change``); the balance equals the sum of the amounts and the last
row's ``balance_after``; the held amount equals the sum of the held changes and the open
holds' amounts. Arithmetic is Decimal, in Python, so it is exact on every database.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from billing.models import ZERO, CreditAccount, CreditHold, CreditTransaction


def _chain_problems(rows, account) -> list[str]:
    problems = []
    balance = held = ZERO
    total = total_held = ZERO
    expected_seq = 1
    for seq, amount, held_change, balance_after, held_after in rows:
        if seq != expected_seq:
            problems.append(f"row #{expected_seq} missing (next is #{seq})")
            expected_seq = seq
        if balance + amount != balance_after:
            problems.append(f"row #{seq}: balance_after {balance_after} is not {balance} + {amount}")
        if held + held_change != held_after:
            problems.append(f"row #{seq}: held_after {held_after} is not {held} + {held_change}")
        balance, held = balance_after, held_after
        total += amount
        total_held += held_change
        expected_seq += 1
    last_seq = expected_seq - 1
    acct_balance, acct_held, acct_seq = account or (ZERO, ZERO, 0)
    if total != acct_balance:
        problems.append(f"balance {acct_balance} is not the ledger's sum {total}")
    if balance != acct_balance:
        problems.append(f"balance {acct_balance} is not the last row's balance_after {balance}")
    if total_held != acct_held:
        problems.append(f"held {acct_held} is not the ledger's held sum {total_held}")
    if acct_seq != last_seq:
        problems.append(f"account is at row #{acct_seq}, the ledger at #{last_seq}")
    return problems


def ledger_verify() -> dict[str, list[str]]:
    """{tenant id: [what is wrong]} for every tenant whose ledger does not hold."""
    accounts = {
        tenant_id: (balance, held, seq)
        for tenant_id, balance, held, seq in CreditAccount.all_tenants.values_list("tenant_id", "balance", "held", "seq")
    }
    open_holds = defaultdict(Decimal, {
        row["tenant_id"]: row["total"]
        for row in CreditHold.all_tenants.filter(status=CreditHold.Status.OPEN)
        .values("tenant_id").annotate(total=Sum("amount"))
    })
    failures: dict[str, list[str]] = {}
    rows = (
        CreditTransaction.all_tenants.order_by("tenant_id", "seq")
        .values_list("tenant_id", "seq", "amount", "held_change", "balance_after", "held_after")
        .iterator(chunk_size=5000)
    )
    seen = set()
    current, batch = None, []

    def check(tenant_id, batch):
        problems = _chain_problems(batch, accounts.get(tenant_id))
        held = accounts.get(tenant_id, (ZERO, ZERO, 0))[1]
        if open_holds[tenant_id] != held:
            problems.append(f"held {held} is not the open holds' sum {open_holds[tenant_id]}")
        if problems:
            failures[str(tenant_id)] = problems

    for tenant_id, *row in rows:
        if tenant_id != current:
            if current is not None:
                check(current, batch)
            current, batch = tenant_id, []
            seen.add(tenant_id)
        batch.append(row)
    if current is not None:
        check(current, batch)
    for tenant_id in set(accounts) - seen:
        check(tenant_id, [])
    return failures

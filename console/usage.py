"""Usage per tenant for the console, without a write on the API's hot path.

Requests today
    The rate limiter already counts every admitted request of a tenant, per UTC day, in
    Redis (``radiant.ratelimit.script``: the hash ``{d: day, n: count}`` at
    ``cache_keys.ratelimit_tenant_daily``), quota or not. The console reads that counter; it
    adds nothing per request.
429s
    Counted by ``ThrottledCounter`` (middleware) on refused requests only: one pipelined
    ``INCR`` + ``EXPIRE`` on a response that is a 429 anyway; an admitted request pays one
    comparison of its status code.
Credits per day
    ``usage_rollup`` takes each tenant's ledger rows past its mark (``LedgerRollup.seq``) into
    ``UsageDay``, under the marks' row locks: two rollups never count a row twice; a charge
    never waits for one (they lock the marks, not the accounts). The rows are read by
    ``(tenant, seq)``, the ledger's unique index, so a run costs what was written since the
    last one, in a handful of statements however many tenants moved. The periodic run also
    copies today's request and 429 counters into ``UsageDay`` (the history; the limiter's
    counter expires a minute after its day ends).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from functools import reduce
from operator import or_

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Greatest, TruncDate
from django.utils import timezone
from redis.exceptions import RedisError

from billing.models import ZERO, CreditAccount, CreditTransaction
from console.models import LedgerRollup, UsageDay
from radiant import cache_keys, metrics, redis_wire
from radiant.ratelimit import backends as ratelimit_backends
from radiant.tenancy import OPERATOR_DB
from tenants.models import Tenant

DAY = 86_400
ADDED_TYPES = [CreditTransaction.Type.GRANT, CreditTransaction.Type.REFUND, CreditTransaction.Type.ADJUSTMENT]


def day_number(at: float | None = None) -> int:
    """The UTC day, as the limiter numbers it (days since the epoch)."""
    return int((time.time() if at is None else at) // DAY)


def day_date(number: int) -> date:
    return datetime.fromtimestamp(number * DAY, tz=UTC).date()


# --- 429s -----------------------------------------------------------------------------------


def count_throttled(tenant_id) -> None:
    """One more 429 for ``tenant_id`` today. Never fails the response it is counted for."""
    key = cache_keys.usage_throttled(tenant_id, day_number())
    backend = redis_wire.backend()
    try:
        if backend is not None:
            stored = backend.make_key(key)
            pipe = backend.client.get_client(write=True).pipeline(transaction=False)
            pipe.incr(stored)
            pipe.expire(stored, cache_keys.USAGE_THROTTLED_TTL)
            pipe.execute()
        elif not cache.add(key, 1, cache_keys.USAGE_THROTTLED_TTL):
            cache.incr(key)
    except (RedisError, ValueError):
        metrics.redis_error("usage")


class ThrottledCounter:
    """Counts tenants' 429s (requests refused for their own rate limit or quota). Runs in
    the API's lane; everything but a 429 passes through untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 429:
            # What the tenant API reported for this request (radiant.metrics): a refusal of
            # a tenant's budget, not of a client address's.
            stats = metrics.current()
            if stats is not None and stats.principal is not None and stats.throttle_scope == "tenant":
                count_throttled(stats.principal.tenant_id)
        return response


# --- reading today's counters -------------------------------------------------------------


def counters_today(tenant_ids) -> dict:
    """``{tenant_id: (requests, throttled)}`` for today; ``{}`` if Redis cannot be read."""
    tenant_ids = list(tenant_ids)
    today = day_number()
    backend = redis_wire.backend()
    try:
        if backend is not None:
            pipe = backend.client.get_client(write=True).pipeline(transaction=False)
            for tenant_id in tenant_ids:
                pipe.hmget(backend.make_key(cache_keys.ratelimit_tenant_daily(tenant_id)), "d", "n")
                pipe.get(backend.make_key(cache_keys.usage_throttled(tenant_id, today)))
            replies = pipe.execute()
            daily = [tuple(reply) for reply in replies[0::2]]
            throttled = [int(reply or 0) for reply in replies[1::2]]
        else:
            daily = [_memory_daily(tenant_id) for tenant_id in tenant_ids]
            throttled = [int(cache.get(cache_keys.usage_throttled(t, today)) or 0) for t in tenant_ids]
    except RedisError:
        metrics.redis_error("usage")
        return {}
    result = {}
    for tenant_id, (counted_day, count), refused in zip(tenant_ids, daily, throttled):
        # No counter yet, or yesterday's: no request yet today.
        requests = int(count) if counted_day is not None and int(counted_day) == today else 0
        result[tenant_id] = (requests, refused)
    return result


def _memory_daily(tenant_id):
    """The embedded default's limiter keeps its counters in this process's memory (the one
    process that serves both the API and the admin there)."""
    limiter = ratelimit_backends.backend()
    found = limiter._get(cache_keys.ratelimit_tenant_daily(tenant_id), time.time_ns() // 1000)
    return found if found is not None else (None, None)


# --- the rollup -----------------------------------------------------------------------------

TENANTS_PER_STATEMENT = 500


def usage_rollup(*, counters: bool = True) -> int:
    """Bring ``UsageDay`` up to date with every tenant's ledger and, with ``counters``,
    today's request and 429 counters. Returns the number of ledger rows taken in."""
    accounts = dict(CreditAccount.all_tenants.values_list("tenant_id", "seq"))
    marks = dict(LedgerRollup.all_tenants.values_list("tenant_id", "seq"))
    behind = sorted(t for t, seq in accounts.items() if seq > marks.get(t, 0))
    LedgerRollup.all_tenants.bulk_create(
        [LedgerRollup(tenant_id=t) for t in behind if t not in marks], ignore_conflicts=True,
    )
    taken = sum(
        _ledger_rollup(behind[i:i + TENANTS_PER_STATEMENT]) for i in range(0, len(behind), TENANTS_PER_STATEMENT)
    )
    if counters:
        _counters_rollup()
    return taken


def _any(conditions):
    return reduce(or_, conditions, Q(pk__in=[]))


@transaction.atomic(using=OPERATOR_DB)
def _ledger_rollup(tenant_ids) -> int:
    """A few statements for any number of tenants: lock their marks (in one order, so two
    rollups never deadlock; one that ran meanwhile has moved them), read the new rows of
    each by ``(tenant, seq)`` in one aggregate, add them to the days they fall on."""
    marks = {
        mark.tenant_id: mark
        for mark in LedgerRollup.all_tenants.select_for_update().filter(tenant_id__in=tenant_ids).order_by("tenant_id")
    }
    # Rows up to an account's seq are committed (the account and its rows commit together).
    upto = dict(CreditAccount.all_tenants.filter(tenant_id__in=tenant_ids).values_list("tenant_id", "seq"))
    ranges = [(t, marks[t].seq, upto[t]) for t in tenant_ids if upto.get(t, 0) > marks[t].seq]
    if not ranges:
        return 0
    per_day = list(
        CreditTransaction.all_tenants.filter(_any(Q(tenant_id=t, seq__gt=low, seq__lte=high) for t, low, high in ranges))
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("tenant_id", "day")
        .annotate(
            used=Sum("amount", filter=Q(type=CreditTransaction.Type.USAGE), default=ZERO),
            charges=Count("id", filter=Q(type=CreditTransaction.Type.USAGE)),
            added=Sum("amount", filter=Q(type__in=ADDED_TYPES), default=ZERO),
            rows=Count("id"),
        )
    )
    UsageDay.all_tenants.bulk_create(
        [UsageDay(tenant_id=r["tenant_id"], day=r["day"]) for r in per_day], ignore_conflicts=True,
    )
    # The credit columns change only here, under the marks' locks: read, add, write back.
    days = {
        (u.tenant_id, u.day): u
        for u in UsageDay.all_tenants.filter(_any(Q(tenant_id=r["tenant_id"], day=r["day"]) for r in per_day))
    }
    now = timezone.now()
    for r in per_day:
        day = days[(r["tenant_id"], r["day"])]
        day.credits_used -= r["used"]  # usage amounts are negative
        day.credits_added += r["added"]
        day.charges += r["charges"]
        day.updated_at = now
    UsageDay.all_tenants.bulk_update(days.values(), ["credits_used", "credits_added", "charges", "updated_at"])
    for t, _, high in ranges:
        marks[t].seq, marks[t].updated_at = high, now
    LedgerRollup.all_tenants.bulk_update([marks[t] for t, _, _ in ranges], ["seq", "updated_at"])
    return sum(r["rows"] for r in per_day)


def _counters_rollup() -> None:
    """Copy today's counters (the periodic task's job: the dashboard reads them live)."""
    tenant_ids = list(Tenant.objects.values_list("id", flat=True))
    today = day_date(day_number())
    counted = {t: c for t, c in counters_today(tenant_ids).items() if (c[0] or 0) or c[1]}
    UsageDay.all_tenants.bulk_create([UsageDay(tenant_id=t, day=today) for t in counted], ignore_conflicts=True)
    for tenant_id, (requests, throttled) in counted.items():
        # One row per statement, in autocommit: no lock is held across rows. The counters
        # only grow within a day: an older reading never lowers the copy.
        UsageDay.all_tenants.filter(tenant_id=tenant_id, day=today).update(
            requests=Greatest(F("requests"), requests or 0), throttled=Greatest(F("throttled"), throttled),
        )

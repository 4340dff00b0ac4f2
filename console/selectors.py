"""What the console shows, read from aggregates: one row per tenant (accounts, open holds),
one per tenant and day (``UsageDay``, at most 30 days), and today's counters in Redis.
Nothing here reads the ledger beyond the newest rows of one tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from billing.models import ZERO, CreditAccount, CreditHold, CreditTransaction
from console.models import UsageDay
from console.usage import counters_today, day_date, day_number
from tenants.auth import Limits, effective_limits
from tenants.models import Tenant

WINDOW_DAYS = 30
WEEK_DAYS = 7


def tenant_limits(tenant: Tenant) -> tuple[Limits, dict]:
    """The limits in force and where each comes from (``override`` or ``tier``)."""
    tier = tenant.tier
    limits = effective_limits(
        rps=tier.rps, burst=tier.burst, daily_quota=tier.daily_quota, rps_override=tenant.rps_override,
        burst_override=tenant.burst_override, daily_quota_override=tenant.daily_quota_override,
    )
    sources = {
        "rps": "override" if tenant.rps_override else "tier",
        "burst": "override" if tenant.burst_override else "tier",
        "daily_quota": "override" if tenant.daily_quota_override is not None else "tier",
    }
    return limits, sources


@dataclass
class TenantUsage:
    tenant: Tenant
    limits: Limits
    requests_today: int | None = None  # None: unknown (Redis could not be read)
    throttled_today: int | None = None
    burned_7d: Decimal = ZERO
    burned_30d: Decimal = ZERO
    balance: Decimal = ZERO
    held: Decimal = ZERO
    open_holds: int = 0

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    @property
    def quota_used(self) -> float | None:
        """Share of today's quota used (0..1), None without a quota or a count."""
        if self.limits.daily_quota is None or self.requests_today is None:
            return None
        return min(1.0, self.requests_today / self.limits.daily_quota)

    @property
    def days_left(self) -> Decimal | None:
        """Days of credit left at the last 7 days' burn rate; None if nothing burned."""
        if self.burned_7d <= 0:
            return None
        return (self.available / (self.burned_7d / WEEK_DAYS)).quantize(Decimal("0.1"))


@dataclass
class Dashboard:
    today: date
    tenants: list[TenantUsage]
    days: list[dict] = field(default_factory=list)  # per day: day, credits_used, requests, throttled
    counters_available: bool = True

    def total(self, name):
        return sum((getattr(t, name) or 0) for t in self.tenants)

    @property
    def nearest_to_running_out(self) -> list[TenantUsage]:
        """Active tenants by days of credit left, then by share of today's quota used."""
        burning = [t for t in self.tenants if t.days_left is not None and t.tenant.is_active]
        by_credit = sorted(burning, key=lambda t: t.days_left)[:5]
        quota = [t for t in self.tenants if (t.quota_used or 0) >= 0.5 and t not in by_credit]
        return by_credit + sorted(quota, key=lambda t: -t.quota_used)[:5]


def _today(usage: TenantUsage, requests, throttled) -> None:
    usage.requests_today, usage.throttled_today = requests, throttled


def dashboard_get() -> Dashboard:
    today = day_date(day_number())
    since = today - timedelta(days=WINDOW_DAYS - 1)
    week = today - timedelta(days=WEEK_DAYS - 1)
    tenants = {t.pk: TenantUsage(tenant=t, limits=tenant_limits(t)[0]) for t in Tenant.objects.select_related("tier")}
    for tenant_id, balance, held in CreditAccount.all_tenants.values_list("tenant_id", "balance", "held"):
        if tenant_id in tenants:
            tenants[tenant_id].balance, tenants[tenant_id].held = balance, held
    holds = CreditHold.all_tenants.filter(status=CreditHold.Status.OPEN).values("tenant_id").annotate(n=Count("id"))
    for row in holds:
        if row["tenant_id"] in tenants:
            tenants[row["tenant_id"]].open_holds = row["n"]
    burned = (
        UsageDay.all_tenants.filter(day__gte=since).values("tenant_id")
        .annotate(d30=Sum("credits_used"), d7=Sum("credits_used", filter=Q(day__gte=week)))
    )
    for row in burned:
        if row["tenant_id"] in tenants:
            tenants[row["tenant_id"]].burned_30d = row["d30"] or ZERO
            tenants[row["tenant_id"]].burned_7d = row["d7"] or ZERO
    counters = counters_today(tenants)
    for tenant_id, (requests, throttled) in counters.items():
        _today(tenants[tenant_id], requests, throttled)

    per_day = {
        row["day"]: row for row in
        UsageDay.all_tenants.filter(day__gte=since).values("day").annotate(
            credits_used=Sum("credits_used"), requests=Sum("requests"), throttled=Sum("throttled"),
        )
    }
    days = []
    for offset in range(WINDOW_DAYS):
        day = since + timedelta(days=offset)
        row = per_day.get(day, {})
        days.append({
            "day": day, "credits_used": row.get("credits_used") or ZERO,
            "requests": row.get("requests") or 0, "throttled": row.get("throttled") or 0,
        })
    if counters:  # today's counters are live; the stored copy may be minutes old
        days[-1]["requests"] = sum(r or 0 for r, _ in counters.values())
        days[-1]["throttled"] = sum(t or 0 for _, t in counters.values())
    ordered = sorted(tenants.values(), key=lambda t: t.tenant.slug)
    return Dashboard(today=today, tenants=ordered, days=days, counters_available=bool(counters) or not tenants)


@dataclass
class TenantPage:
    usage: TenantUsage
    sources: dict
    ledger: list
    days: list


def tenant_page_get(*, tenant: Tenant, ledger_rows: int = 10) -> TenantPage:
    """What the tenant page shows beside its form: limits and where they come from, credits,
    today's counters, the last 30 days and the newest ledger rows."""
    limits, sources = tenant_limits(tenant)
    usage = TenantUsage(tenant=tenant, limits=limits)
    account = CreditAccount.all_tenants.filter(tenant=tenant).values_list("balance", "held").first()
    if account:
        usage.balance, usage.held = account
    usage.open_holds = CreditHold.all_tenants.filter(tenant=tenant, status=CreditHold.Status.OPEN).count()
    counters = counters_today([tenant.pk]).get(tenant.pk)
    if counters:
        _today(usage, *counters)
    today = day_date(day_number())
    since = today - timedelta(days=WINDOW_DAYS - 1)
    stored = {row.day: row for row in UsageDay.all_tenants.filter(tenant=tenant, day__gte=since)}
    week = today - timedelta(days=WEEK_DAYS - 1)
    usage.burned_30d = sum((r.credits_used for r in stored.values()), ZERO)
    usage.burned_7d = sum((r.credits_used for d, r in stored.items() if d >= week), ZERO)
    days = [
        {"day": since + timedelta(days=i), "credits_used": getattr(stored.get(since + timedelta(days=i)), "credits_used", ZERO)}
        for i in range(WINDOW_DAYS)
    ]
    ledger = list(CreditTransaction.all_tenants.filter(tenant=tenant).order_by("-seq")[:ledger_rows])
    return TenantPage(usage=usage, sources=sources, ledger=ledger, days=days)

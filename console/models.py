"""What the operator console reads instead of scanning the ledger: usage per tenant per day.

``UsageDay`` is derived data, kept by ``console.usage.usage_rollup`` (a periodic task, and
the dashboard before it reads): credits from the ledger, taken in by each tenant's ``seq``
past the mark in ``LedgerRollup``; requests and 429s from the counters in Redis.
"""

from django.db import models
from django.db.models import Q

from billing.models import MONEY, ZERO
from radiant.tenancy import TenantOwned


class UsageDay(TenantOwned):
    day = models.DateField(help_text="UTC day.")
    requests = models.PositiveBigIntegerField(
        default=0, help_text="Requests the rate limiter admitted (counted for tenants with a daily quota)."
    )
    throttled = models.PositiveBigIntegerField(default=0, help_text="Requests refused with 429.")
    credits_used = models.DecimalField(default=ZERO, help_text="Credits charged for usage.", **MONEY)
    credits_added = models.DecimalField(default=ZERO, help_text="Grants, refunds and adjustments (signed).", **MONEY)
    charges = models.PositiveBigIntegerField(default=0, help_text="Usage rows in the ledger.")
    updated_at = models.DateTimeField(auto_now=True)

    # Operators write it; a tenant could be shown its own rows (RLS), never change them.
    web_privileges = "SELECT"

    class Meta:
        db_table = "usage_days"
        default_manager_name = "all_tenants"
        ordering = ["-day"]
        verbose_name = "usage day"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="usage_day_per_tenant"),
            models.CheckConstraint(condition=Q(credits_used__gte=0), name="usage_day_credits_used_non_negative"),
        ]
        indexes = [models.Index(fields=["day"], name="usage_day_day")]

    def __str__(self):
        return f"{self.day}"


class LedgerRollup(TenantOwned):
    """The last ``seq`` of a tenant's ledger counted into ``UsageDay``; its row lock
    serialises rollups of one tenant (charges never wait for it)."""

    seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    web_privileges = "SELECT"

    class Meta:
        db_table = "usage_ledger_rollups"
        default_manager_name = "all_tenants"
        constraints = [models.UniqueConstraint(fields=["tenant"], name="ledger_rollup_one_per_tenant")]

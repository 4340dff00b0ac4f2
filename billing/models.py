"""Prepaid credits: one account per tenant, an append-only ledger, holds, idempotency keys.

DESIGN.md §7. Amounts are ``NUMERIC(20, 9)`` and ``Decimal``: a catalog price has six
decimals per 1,000 tokens, so every cost is exact at nine and nothing is ever rounded.

The account row is the single point every balance change goes through: a change is one
conditional ``UPDATE`` of it (``… WHERE balance - held >= cost``), which also takes the next
``seq``. The ledger row written in the same transaction records that ``seq`` and the
balance and held amount after it, so a tenant's ledger is a gapless chain ordered by
``seq`` that ``verify_ledger`` can replay. Row locks on the account serialise changes of
one tenant, so ``seq`` order is commit order: a reader paging by ``seq`` never misses a row.
"""

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from radiant.tenancy import TenantOwned

MONEY = {"max_digits": 20, "decimal_places": 9}
PRICE = {"max_digits": 12, "decimal_places": 6}
ZERO = Decimal("0")


class CreditAccount(TenantOwned):
    """A tenant's balance and the part of it reserved by open holds.

    Created on the first grant; a tenant without one has a zero balance. ``available`` is
    ``balance - held`` and the database refuses any row where it would be negative.
    """

    balance = models.DecimalField(default=ZERO, **MONEY)
    held = models.DecimalField(default=ZERO, **MONEY)
    currency = models.CharField(max_length=16, default="credits")
    seq = models.BigIntegerField(default=0, help_text="Sequence number of the last ledger row.")
    updated_at = models.DateTimeField(auto_now=True)

    # The tenant API debits and holds through a conditional UPDATE; accounts are opened by
    # operators (a grant), so the web role cannot create or delete one.
    web_privileges = "SELECT, UPDATE"

    class Meta:
        db_table = "credit_accounts"
        default_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="credit_account_one_per_tenant"),
            models.CheckConstraint(condition=Q(held__gte=0), name="credit_account_held_non_negative"),
            models.CheckConstraint(condition=Q(balance__gte=F("held")), name="credit_account_available_non_negative"),
        ]

    def __str__(self):
        return f"{self.tenant.slug}: {self.balance} {self.currency}"  # shown in the admin: a slug, not a UUID

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class CreditTransaction(TenantOwned):
    """One ledger row. Never updated or deleted (the web role has no privilege to)."""

    class Type(models.TextChoices):
        GRANT = "grant"
        USAGE = "usage"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"
        HOLD = "hold"
        HOLD_RELEASE = "hold_release"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(help_text="Position in the tenant's ledger, from 1, without gaps.")
    type = models.CharField(max_length=16, choices=Type.choices)
    amount = models.DecimalField(help_text="Change to the balance (negative for a charge).", **MONEY)
    held_change = models.DecimalField(default=ZERO, help_text="Change to the held amount.", **MONEY)
    balance_after = models.DecimalField(**MONEY)
    held_after = models.DecimalField(default=ZERO, **MONEY)
    # Usage: what was charged for, at which prices (the catalog may change later).
    model_slug = models.CharField(max_length=100, blank=True, default="")
    input_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    output_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    input_price_per_1k = models.DecimalField(null=True, blank=True, **PRICE)
    output_price_per_1k = models.DecimalField(null=True, blank=True, **PRICE)
    hold = models.ForeignKey("CreditHold", null=True, blank=True, on_delete=models.RESTRICT, related_name="+")
    # Manual rows (grant, refund, adjustment): who and why.
    operator = models.CharField(max_length=150, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())

    # Append-only: the web role inserts rows and reads its own, never changes one.
    web_privileges = "SELECT, INSERT"

    class Meta:
        db_table = "credit_transactions"
        default_manager_name = "all_tenants"
        ordering = ["-seq"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "seq"], name="credit_transaction_seq_per_tenant"),
        ]
        indexes = [
            models.Index(F("tenant"), F("created_at").desc(), name="credit_tx_tenant_created"),
        ]

    def __str__(self):
        return f"{self.type} {self.amount} (#{self.seq})"


class CreditHold(TenantOwned):
    """Credits reserved for a call whose cost is known only afterwards.

    Open until settled (charged at most its amount, the rest released), voided (all
    released) or expired (released by the periodic sweep). Each transition is a conditional
    update on ``status = open``, so exactly one of them wins.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        SETTLED = "settled"
        VOIDED = "voided"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    charged = models.DecimalField(null=True, blank=True, **MONEY)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    web_privileges = "SELECT, INSERT, UPDATE"

    class Meta:
        db_table = "credit_holds"
        default_manager_name = "all_tenants"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(charged__isnull=True) | (Q(charged__gte=0) & Q(charged__lte=F("amount"))),
                name="credit_hold_charged_within_amount",
            ),
        ]
        indexes = [
            # The sweep looks only at open holds, by expiry.
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="credit_hold_open_expiry"),
        ]

    def __str__(self):
        return f"hold {self.amount} ({self.status})"


class IdempotencyKey(TenantOwned):
    """The first response to a request carrying ``Idempotency-Key``, kept for replays.

    Inserted at the start of the request's transaction: a concurrent duplicate's insert
    waits on the unique index until the first commits, then finds its response here.
    """

    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=64, blank=True, default="")
    body = models.BinaryField(null=True)
    created_at = models.DateTimeField(db_default=Now())

    web_privileges = "SELECT, INSERT, UPDATE"

    class Meta:
        db_table = "idempotency_keys"
        default_manager_name = "all_tenants"
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_per_tenant")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

"""``Idempotency-Key`` for model calls: as for ``POST usage``, across a call that takes time.

The key's row (``billing.models.IdempotencyKey``, the same table and rules: per tenant,
kept ``IDEMPOTENCY_KEY_TTL``, a different request with the key is 422
``idempotency_key_reused``, a 402 is stored and replays as 402) is claimed in the
transaction that takes the call's credit hold, and that transaction commits before the
provider is called: holding it open through a call of many seconds would hold the
tenant's account row locked, and every other call of the tenant would wait for it.

So a duplicate that arrives while the first is still running finds the key claimed but no
response yet; it waits (polling the row, briefly at first) until the first stores its
response, and replays it. If the first's call fails upstream, its claim is removed with
its hold (nothing happened, nothing is stored) and the waiting duplicate makes the call
itself. A claim whose request died unseen is taken over once the claim is older than the
call's hold can live: by then that hold has expired, so the first can no longer charge.
(A given-up claim is dated back to the epoch rather than deleted: the web role may not
delete these rows, and the purge removes it with the other expired keys.)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connections
from django.utils import timezone

from billing.idempotency import CLAIM_SQL, Stored, remember
from billing.models import IdempotencyKey
from radiant import tenancy
from radiant.problems import IdempotencyKeyReused

GIVEN_UP = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_POLL = 0.005
MAX_POLL = 0.25


def _remember(tenant_id, key, stored: Stored) -> None:
    remember(tenant_id, key, stored, settings.IDEMPOTENCY_KEY_TTL)


def claim(*, tenant_id, key: str, fingerprint: str, lease: timedelta):
    """In the caller's transaction: the new claim's id, or the row that holds the key as
    ``Stored`` (its response; ``status`` None while that request is still running). A
    claim older than ``lease`` with no response (given up, or its request died) is taken
    over, for this request's body (its id returned)."""
    connection = connections[tenancy.db_alias()]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_SQL, [tenant_id, key, fingerprint])
            row = cursor.fetchone()
        if row:
            return row[0]
    else:
        try:
            with tenancy.atomic():
                return IdempotencyKey.objects.create(tenant_id=tenant_id, key=key, fingerprint=fingerprint).pk
        except IntegrityError:
            pass
    ident, stored_fingerprint, status, content_type, body, created_at = IdempotencyKey.objects.filter(key=key).values_list(
        "id", "fingerprint", "status_code", "content_type", "body", "created_at"
    ).get()
    if status is None and created_at < timezone.now() - lease:
        taken = IdempotencyKey.objects.filter(id=ident, status_code__isnull=True, created_at=created_at).update(
            created_at=timezone.now(), fingerprint=fingerprint,
        )
        if taken:
            return ident
    return Stored(stored_fingerprint, status, content_type, bytes(body) if body is not None else b"")


def wait(*, tenant_id, key: str, fingerprint: str, lease: timedelta, deadline: float) -> Stored | None:
    """Poll until the request holding ``key`` stores its response (returned) or gives the
    key up (None: claim it again); at ``deadline`` (monotonic), None."""
    pause = FIRST_POLL
    while time.monotonic() < deadline:
        tenancy.lend_connection_back()  # the first request needs one to store its answer
        time.sleep(pause)
        pause = min(pause * 2, MAX_POLL)
        with tenancy.atomic():
            row = IdempotencyKey.objects.filter(key=key).values_list(
                "fingerprint", "status_code", "content_type", "body", "created_at"
            ).first()
        if row is None or (row[1] is None and row[4] < timezone.now() - lease):
            return None
        if row[0] != fingerprint:
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
        if row[1] is not None:
            stored = Stored(row[0], row[1], row[2], bytes(row[3]))
            _remember(tenant_id, key, stored)
            return stored
    return None


def store(*, tenant_id, key: str, claim_id, stored: Stored) -> None:
    """In the caller's transaction: the response for replays (cached once committed)."""
    IdempotencyKey.objects.filter(id=claim_id).update(
        status_code=stored.status, content_type=stored.content_type, body=stored.body
    )
    tenancy.on_commit(lambda: _remember(tenant_id, key, stored))


def give_up(*, claim_id) -> None:
    """In the caller's transaction: nothing happened; the key may be used again."""
    IdempotencyKey.objects.filter(id=claim_id, status_code__isnull=True).update(created_at=GIVEN_UP)

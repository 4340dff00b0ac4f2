"""``Idempotency-Key``: a retried request gets the first response, byte for byte.

Keys are per tenant. The first request with a key inserts the key's row at the start of its
transaction and stores its response in that row before it commits. A concurrent duplicate's
insert waits on the unique index for the first to commit, then finds the stored response
and replays it: duplicates never get a 409 to retry, and nothing runs twice. If the first
fails (rolls back), its row vanishes with it and the waiting duplicate runs as the first.

What is stored: the outcome of a request that was processed (201, and a 402 that charged
nothing). What is not: input that did not validate, or a 404 (nothing happened; the client
may fix the request and reuse the key). The same key with a different request is 422
``idempotency_key_reused``. A copy of each stored response lives in Redis for the
retention period, so a replay costs one cache read; the database row is the truth.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connections
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions

from billing.models import IdempotencyKey
from radiant import cache_keys, tenancy
from radiant.problems import IdempotencyKeyReused

logger = logging.getLogger(__name__)

HEADER = "HTTP_IDEMPOTENCY_KEY"
REPLAYED = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"\A[\x21-\x7e]{1,255}\Z")


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    content_type: str
    body: bytes


def request_key(request) -> str | None:
    """The request's key, or None without one; 400 ``validation_error`` if malformed."""
    key = request.META.get(HEADER)
    if key is None:
        return None
    if not _VALID_KEY.match(key):
        raise exceptions.ValidationError(
            {"Idempotency-Key": ["Use 1-255 visible ASCII characters (a UUID is a good key)."]}
        )
    return key


def fingerprint(*, method: str, path: str, data) -> str:
    """What makes two requests "the same": method, route and the validated body."""
    canonical = json.dumps([method, path, data], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(stored: Stored, wanted: str) -> HttpResponse:
    """The stored response, marked replayed; 422 if ``wanted`` is another request's fingerprint."""
    if stored.fingerprint != wanted:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
    response = HttpResponse(stored.body, status=stored.status, content_type=stored.content_type)
    response[REPLAYED] = "true"
    return response


def cached(tenant_id, key) -> Stored | None:
    """The stored response from Redis, or None (none there, or Redis down)."""
    try:
        value = cache.get(cache_keys.idempotency(tenant_id, key))
    except Exception as exc:  # Redis down: the database answers
        logger.warning("cache unavailable (%s); idempotency key read from the database", type(exc).__name__)
        return None
    return Stored(*value) if value else None


def remember(tenant_id, key, stored: Stored, ttl: float) -> None:
    """Keep a copy of a stored response in Redis for ``ttl`` seconds (nothing if Redis is down)."""
    if ttl <= 0:
        return
    try:
        cache.set(cache_keys.idempotency(tenant_id, key), tuple(vars(stored).values()), int(ttl))
    except Exception as exc:
        logger.warning("cache unavailable (%s); idempotent response not cached", type(exc).__name__)


CLAIM_SQL = """
INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status_code, content_type, body, created_at)
VALUES (%s, %s, %s, NULL, '', NULL, now())
ON CONFLICT (tenant_id, key) DO NOTHING
RETURNING id
"""


def _claim(tenant_id, key, wanted) -> int | None:
    """Insert the key's row; its id, or None if another request holds the key (after
    waiting for that request's transaction to end)."""
    connection = connections[tenancy.db_alias()]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_SQL, [tenant_id, key, wanted])
            row = cursor.fetchone()
        return row[0] if row else None
    try:
        with tenancy.atomic():
            return IdempotencyKey.objects.create(tenant_id=tenant_id, key=key, fingerprint=wanted).pk
    except IntegrityError:
        return None


def _stored(key) -> tuple[Stored, float]:
    row = IdempotencyKey.objects.filter(key=key).values_list(
        "fingerprint", "status_code", "content_type", "body", "created_at"
    ).get()
    age = (timezone.now() - row[4]).total_seconds()
    return Stored(row[0], row[1], row[2], bytes(row[3])), settings.IDEMPOTENCY_KEY_TTL - age


def idempotent(*, tenant_id, key: str, fingerprint: str, run) -> HttpResponse:
    """The response of ``run()`` (an HttpResponse with its body rendered), exactly once per
    tenant and key. ``run`` raises for outcomes that are not stored (nothing happened)."""
    found = cached(tenant_id, key)
    if found is not None:
        return replay(found, fingerprint)
    if connections[tenancy.db_alias()].vendor == "postgresql":
        # The tenant scope holds one transaction for the request, rolled back on an error.
        return _first_or_replay(tenant_id, key, fingerprint, run)
    with tenancy.atomic():  # elsewhere the scope does not: the key's row goes with an error
        return _first_or_replay(tenant_id, key, fingerprint, run)


def _first_or_replay(tenant_id, key, fingerprint, run) -> HttpResponse:
    claimed = _claim(tenant_id, key, fingerprint)
    if claimed is None:
        stored, ttl = _stored(key)
        remember(tenant_id, key, stored, ttl)
        return replay(stored, fingerprint)
    response = run()
    stored = Stored(fingerprint, response.status_code, response["Content-Type"], bytes(response.content))
    IdempotencyKey.objects.filter(id=claimed).update(
        status_code=stored.status, content_type=stored.content_type, body=stored.body
    )
    tenancy.on_commit(lambda: remember(tenant_id, key, stored, settings.IDEMPOTENCY_KEY_TTL))
    return response


def idempotency_keys_purge(*, older_than: timedelta | None = None) -> int:
    """Delete stored responses older than the retention period (operator job)."""
    older_than = older_than or timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    if older_than < timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL):
        raise ValueError("keys are kept at least IDEMPOTENCY_KEY_TTL")
    deleted, _ = IdempotencyKey.all_tenants.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted

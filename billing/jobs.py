"""Periodic jobs of billing (scheduled events on Lambda: radiant/jobs.py says how; beside
Celery workers the same work runs from billing/tasks.py)."""

import logging

from billing.idempotency import idempotency_keys_purge
from billing.services import holds_expire
from radiant.actors import acting_as

logger = logging.getLogger(__name__)


def release_expired_holds(event=None, context=None) -> dict:
    """Release every credit hold past its expiry."""
    with acting_as("task", "release_expired_holds"):
        released = holds_expire()
    logger.info("job release_expired_holds: released %d holds", released)
    return {"job": "release_expired_holds", "released": released}


def purge_idempotency_keys(event=None, context=None) -> dict:
    """Delete stored idempotent responses older than IDEMPOTENCY_KEY_TTL."""
    deleted = idempotency_keys_purge()
    logger.info("job purge_idempotency_keys: deleted %d keys", deleted)
    return {"job": "purge_idempotency_keys", "deleted": deleted}

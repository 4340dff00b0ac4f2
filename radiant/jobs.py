"""Periodic operator jobs.

On Lambda they run as Zappa scheduled events (``events`` in zappa_settings.json): Zappa's
handler receives an EventBridge "Scheduled Event" whose rule name ends in the function's
dotted path, imports it and calls it with ``(event, context)``. There is no celery beat on
Lambda. Elsewhere the same work runs as ``manage.py clearsessions`` and
``manage.py purge_api_keys`` (cron, or a beat schedule beside the Celery workers).

Jobs are operator code: they run outside any tenant scope, on the operator database alias,
and return a small summary that ends up in the Lambda log.
"""

import logging
from datetime import timedelta

logger = logging.getLogger(__name__)


def clear_expired_sessions(event=None, context=None) -> dict:
    """Delete expired admin sessions (what ``manage.py clearsessions`` does), and count them."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info("job clear_expired_sessions: deleted %d expired sessions", deleted)
    return {"job": "clear_expired_sessions", "deleted": deleted}


def purge_stale_api_keys(event=None, context=None) -> dict:
    """Delete API keys revoked or expired more than API_KEY_RETENTION_DAYS ago."""
    from django.conf import settings
    from django.utils import timezone

    from tenants.services import api_key_purge

    before = timezone.now() - timedelta(days=settings.API_KEY_RETENTION_DAYS)
    deleted = api_key_purge(before=before)
    logger.info("job purge_stale_api_keys: deleted %d keys revoked or expired before %s", deleted, before.isoformat())
    return {"job": "purge_stale_api_keys", "deleted": deleted, "before": before.isoformat()}


def release_expired_holds(event=None, context=None) -> dict:
    """Release every credit hold past its expiry (beside workers: billing.tasks.holds_expire_task)."""
    from billing.services import holds_expire
    from radiant.actors import acting_as

    with acting_as("task", "release_expired_holds"):
        released = holds_expire()
    logger.info("job release_expired_holds: released %d holds", released)
    return {"job": "release_expired_holds", "released": released}


def purge_idempotency_keys(event=None, context=None) -> dict:
    """Delete stored idempotent responses older than IDEMPOTENCY_KEY_TTL."""
    from billing.idempotency import idempotency_keys_purge

    deleted = idempotency_keys_purge()
    logger.info("job purge_idempotency_keys: deleted %d keys", deleted)
    return {"job": "purge_idempotency_keys", "deleted": deleted}


def ensure_audit_partitions(event=None, context=None) -> dict:
    """Keep the audit log's monthly partitions AUDIT_PARTITIONS_AHEAD months ahead."""
    from django.conf import settings

    from audit.partitions import partitions_ensure

    done = partitions_ensure(months=settings.AUDIT_PARTITIONS_AHEAD)
    created = [p["partition"] for p in done if p["created"]]
    logger.info("job ensure_audit_partitions: created %s", ", ".join(created) or "none")
    return {"job": "ensure_audit_partitions", "created": created}

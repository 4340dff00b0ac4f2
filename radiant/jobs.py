"""Periodic operator jobs.

On Lambda they run as Zappa scheduled events (``events`` in zappa_settings.json): Zappa's
handler receives an EventBridge "Scheduled Event" whose rule name ends in the function's
dotted path, imports it and calls it with ``(event, context)``. There is no celery beat on
Lambda. Elsewhere the same work runs as ``manage.py clearsessions`` and
``manage.py purge_api_keys`` (cron, or a beat schedule beside the Celery workers).

Jobs are operator code: they run outside any tenant scope, on the operator database alias,
and return a small summary that ends up in the Lambda log. Each lives in the app whose data
it keeps (``tenants.jobs``, ``billing.jobs``, ``audit.jobs``); this module holds the one
that belongs to no app, and the shape they all share.
"""

import logging

from django.contrib.sessions.models import Session
from django.utils import timezone

logger = logging.getLogger(__name__)


def clear_expired_sessions(event=None, context=None) -> dict:
    """Delete expired admin sessions (what ``manage.py clearsessions`` does), and count them."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info("job clear_expired_sessions: deleted %d expired sessions", deleted)
    return {"job": "clear_expired_sessions", "deleted": deleted}

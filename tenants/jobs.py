"""Periodic jobs of the tenancy core (scheduled events on Lambda: radiant/jobs.py says how)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tenants.services import api_key_purge

logger = logging.getLogger(__name__)


def purge_stale_api_keys(event=None, context=None) -> dict:
    """Delete API keys revoked or expired more than API_KEY_RETENTION_DAYS ago."""
    before = timezone.now() - timedelta(days=settings.API_KEY_RETENTION_DAYS)
    deleted = api_key_purge(before=before)
    logger.info("job purge_stale_api_keys: deleted %d keys revoked or expired before %s", deleted, before.isoformat())
    return {"job": "purge_stale_api_keys", "deleted": deleted, "before": before.isoformat()}

"""Periodic jobs of the audit log (scheduled events on Lambda: radiant/jobs.py says how)."""

import logging

from django.conf import settings

from audit.partitions import partitions_ensure

logger = logging.getLogger(__name__)


def ensure_audit_partitions(event=None, context=None) -> dict:
    """Keep the audit log's monthly partitions AUDIT_PARTITIONS_AHEAD months ahead."""
    done = partitions_ensure(months=settings.AUDIT_PARTITIONS_AHEAD)
    created = [p["partition"] for p in done if p["created"]]
    logger.info("job ensure_audit_partitions: created %s", ", ".join(created) or "none")
    return {"job": "ensure_audit_partitions", "created": created}

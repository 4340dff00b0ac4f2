from datetime import datetime

from celery import shared_task

from radiant import tenancy


@shared_task(ignore_result=True, acks_late=True)
def audit_write(*, record: dict) -> int:
    """Insert one audit record. On a worker it runs as the operator; run directly inside a
    tenant's request (broker unreachable) it writes as that tenant, under RLS."""
    from audit.models import AuditLog

    fields = {**record, "created_at": datetime.fromisoformat(record["created_at"])}
    with tenancy.atomic():
        return AuditLog.objects.create(**fields).pk


@shared_task(ignore_result=True)
def audit_partitions_ensure() -> list:
    """Keep the audit log partitioned at least AUDIT_PARTITIONS_AHEAD months ahead."""
    from django.conf import settings

    from audit.partitions import partitions_ensure

    return partitions_ensure(months=settings.AUDIT_PARTITIONS_AHEAD)

from datetime import datetime

from celery import shared_task

from radiant import tenancy


@shared_task(ignore_result=True, acks_late=True)
def audit_write(*, record: dict) -> None:
    """Insert one audit record. On a worker it runs as the operator; run directly inside a
    tenant's request (broker unreachable) it writes as that tenant, under RLS.

    Inserted without ``RETURNING id``: the web role may INSERT audit rows but not read
    them back, and RETURNING needs that (Django's ``save()`` always asks for the id).
    """
    from audit.models import AuditLog

    row = AuditLog(**{**record, "created_at": datetime.fromisoformat(record["created_at"])})
    fields = [f for f in AuditLog._meta.concrete_fields if not f.primary_key]
    with tenancy.atomic():
        AuditLog.objects._insert([row], fields=fields, using=tenancy.db_alias())


@shared_task(ignore_result=True)
def audit_partitions_ensure() -> list:
    """Keep the audit log partitioned at least AUDIT_PARTITIONS_AHEAD months ahead."""
    from django.conf import settings

    from audit.partitions import partitions_ensure

    return partitions_ensure(months=settings.AUDIT_PARTITIONS_AHEAD)

"""Reading the audit log (operator paths: the admin)."""

from audit.models import AuditLog


def object_history(*, object_type: str, object_id: str, limit: int = 200) -> list[AuditLog]:
    """The newest ``limit`` records about one object (index ``audit_object_created``)."""
    return list(AuditLog.objects.filter(object_type=object_type, object_id=object_id)[:limit])


def tenant_history(*, tenant_id, limit: int = 20) -> list[AuditLog]:
    """The newest records about anything of one tenant (index ``audit_tenant_created``)."""
    return list(AuditLog.objects.filter(tenant_id=tenant_id)[:limit])

"""Writing audit records: after commit, through Celery, directly when the broker is down."""

from __future__ import annotations

from django.utils import timezone

from radiant.actors import current_actor
from radiant.request_context import current_request_id

# Values that must never reach the log, whatever model they sit on.
SECRET_FIELDS = frozenset({"password", "key_hash", "secret"})


def json_safe(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def audit_record(*, action: str, obj=None, tenant_id=None, changes: dict | None = None,
                 object_type: str = "", object_id: str = "") -> dict:
    """Record ``action`` by whoever is acting now. Written once the current transaction
    commits (never for work that rolls back). Returns the record as queued."""
    actor_type, actor = current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        if tenant_id is None:
            tenant_id = getattr(obj, "tenant_id", None)
    record = {
        "created_at": timezone.now().isoformat(),
        "actor_type": actor_type,
        "actor": actor[:150],
        "tenant_id": str(tenant_id) if tenant_id else None,
        "action": action[:64],
        "object_type": object_type[:100],
        "object_id": object_id[:64],
        "changes": {
            field: ["***", "***"] if field in SECRET_FIELDS else json_safe(pair)
            for field, pair in (changes or {}).items()
        },
        "request_id": (current_request_id() or "")[:64],
    }
    # Celery loads on the first record, not with the app (Lambda cold start).
    from audit.tasks import audit_write
    from radiant.tasks import enqueue_on_commit

    enqueue_on_commit(audit_write, count_fallback="audit_fallback", record=record)
    return record

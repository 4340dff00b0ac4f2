"""The audit log: who changed what, when, from which request (DESIGN.md §7).

On PostgreSQL ``audit_logs`` is partitioned by month of ``created_at`` with a DEFAULT
partition, so no row is ever refused for want of a partition (migration 0002,
``audit.partitions``). Rows are only ever inserted: nothing in the code updates or deletes
one, and the web role may only INSERT (for the direct write when the broker is down).
"""

from django.db import models
from django.utils import timezone


class AuditLog(models.Model):
    class ActorType(models.TextChoices):
        OPERATOR = "operator"  # a Django user in the admin
        API_KEY = "api_key"  # a tenant's API key
        COMMAND = "command"  # manage.py
        TASK = "task"  # a Celery task or scheduled job
        SYSTEM = "system"  # none of the above (a shell, a migration)

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.CharField(max_length=150, blank=True, default="")
    tenant_id = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=100, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    changes = models.JSONField(default=dict, blank=True, help_text="field: [old, new]")
    request_id = models.CharField(max_length=64, blank=True, default="")

    # The direct write (broker unreachable) runs in the request's tenant scope: INSERT of
    # that tenant's rows only (RLS), never a read.
    web_privileges = "INSERT"

    class Meta:
        db_table = "audit_logs"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant_id", "-created_at"], name="audit_tenant_created"),
            # An object's history page (the admin) reads its records newest first.
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object_created"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_type} {self.object_id}"

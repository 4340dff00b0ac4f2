from django.contrib import admin
from django.utils.html import format_html, format_html_join

from audit.models import AuditLog
from radiant.admin import ReadOnlyAdmin, change_pairs

SUMMARY_FIELDS = 3


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Read-only: the log is written by the application, never by hand."""

    list_display = ["created_at", "actor", "action", "object_label", "tenant_label", "change_summary"]
    list_filter = ["actor_type", "action", "object_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor", "=tenant_id", "action", "object_id", "=request_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # counting a large partitioned table is slow
    fields = [
        "created_at", "actor_type", "actor", "tenant_id", "action", "object_type", "object_id", "changes_table", "request_id",
    ]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="object", ordering="object_type")
    def object_label(self, obj):
        return f"{obj.object_type.rsplit('.', 1)[-1]} {obj.object_id}".strip()

    @admin.display(description="tenant")
    def tenant_label(self, obj):
        """The tenant's id; the console shows its slug (it knows tenants, this app does not)."""
        return obj.tenant_id or "—"

    @admin.display(description="changes (old → new)")
    def change_summary(self, obj):
        pairs = change_pairs(obj.changes)
        shown = format_html_join(
            "", '<span class="change"><b>{}</b>: {} → {}</span>',
            ((f, _short(o), _short(n)) for f, o, n in pairs[:SUMMARY_FIELDS]),
        )
        more = len(pairs) - SUMMARY_FIELDS
        return format_html("{}{}", shown, f" (+{more} more)" if more > 0 else "") if pairs else "—"

    @admin.display(description="changes (old → new)")
    def changes_table(self, obj):
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", change_pairs(obj.changes))
        return format_html('<table class="changes"><tr><th>field</th><th>old</th><th>new</th></tr>{}</table>', rows)


def _short(text: str, most: int = 40) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"

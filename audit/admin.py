from django.contrib import admin

from audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: the log is written by the application, never by hand."""

    list_display = ["created_at", "actor_type", "actor", "tenant_id", "action", "object_type", "object_id", "request_id"]
    list_filter = ["actor_type", "action", "object_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor", "=tenant_id", "action", "object_id", "=request_id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # counting a large partitioned table is slow

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

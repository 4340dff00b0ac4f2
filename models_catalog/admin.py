from django.contrib import admin

from models_catalog import services
from models_catalog.models import AIModel, ModelOptOut
from tenants.admin import OperatorAdmin


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("global", "Global"), ("private", "Private to a tenant")]

    def queryset(self, request, queryset):
        if self.value() == "global":
            return queryset.filter(tenant__isnull=True)
        if self.value() == "private":
            return queryset.filter(tenant__isnull=False)
        return queryset


@admin.register(AIModel)
class AIModelAdmin(OperatorAdmin):
    """Every edit here (form, list edits, bulk actions, deletes) reaches the API's cache on commit."""

    list_display = [
        "slug", "display_name", "provider", "category", "status", "is_enabled",
        "input_cost_per_1k", "output_cost_per_1k", "context_window", "tenant",
    ]
    list_editable = ["status", "is_enabled", "input_cost_per_1k", "output_cost_per_1k"]
    list_filter = [OwnerFilter, "provider", "category", "status", "is_enabled"]
    search_fields = ["slug", "display_name", "provider"]
    autocomplete_fields = ["tenant"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["enable_selected", "disable_selected"]
    fieldsets = [
        (None, {"fields": ["slug", "display_name", "provider", "category", "tenant"]}),
        ("Availability", {"fields": ["status", "is_enabled"]}),
        ("Pricing (credits per 1,000 tokens)", {"fields": ["input_cost_per_1k", "output_cost_per_1k"]}),
        ("Details", {"fields": ["context_window", "metadata", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant")

    @admin.action(description="Enable selected models")
    def enable_selected(self, request, queryset):
        count = services.ai_model_set_enabled(ids=queryset.values_list("pk", flat=True), enabled=True)
        self.message_user(request, f"Enabled {count} model(s).")

    @admin.action(description="Disable selected models")
    def disable_selected(self, request, queryset):
        count = services.ai_model_set_enabled(ids=queryset.values_list("pk", flat=True), enabled=False)
        self.message_user(request, f"Disabled {count} model(s).")


@admin.register(ModelOptOut)
class ModelOptOutAdmin(OperatorAdmin):
    list_display = ["tenant", "model", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["tenant__slug", "model__slug"]
    autocomplete_fields = ["tenant"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant", "model")

    def get_readonly_fields(self, request, obj=None):
        # Moving a row to another tenant would leave the first tenant's cache unaware.
        return ["tenant", "model", "created_at"] if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "model":
            kwargs["queryset"] = AIModel.all_tenants.filter(tenant__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

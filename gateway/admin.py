"""Operators' view of the gateway: providers, each model's route and ordered fallbacks,
and per model its circuit breaker and its traffic (upstream calls, errors and calls the
breaker refused, per UTC day, from the counters the breaker keeps in Redis)."""

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html_join

from gateway import breaker
from gateway.models import ModelFallback, ModelRoute, Provider
from radiant.admin import RadiantModelAdmin, RadiantTabularInline


@admin.register(Provider)
class ProviderAdmin(RadiantModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "slug", "kind", "base_url", "credential", "timeout_seconds", "max_retries",
        "breaker_threshold", "breaker_cooldown_seconds", "is_enabled",
    ]
    list_filter = ["kind", "is_enabled"]
    list_editable = ["is_enabled"]
    search_fields = ["slug", "base_url"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["slug", "kind", "base_url", "credential", "is_enabled"]}),
        ("Timeouts and retries", {"fields": ["timeout_seconds", "connect_timeout_seconds", "max_retries"]}),
        ("Circuit breaker (per model)", {"fields": ["breaker_threshold", "breaker_cooldown_seconds"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]


class FallbackInline(RadiantTabularInline):
    model = ModelFallback
    fk_name = "route"
    extra = 1
    ordering = ["position"]
    autocomplete_fields = ["fallback"]


@admin.register(ModelRoute)
class ModelRouteAdmin(RadiantModelAdmin):
    list_display = [
        "model", "provider", "upstream_model", "max_output_tokens", "fallback_list", "breaker", "traffic_today",
    ]
    list_filter = ["provider"]
    list_select_related = ["model", "provider"]
    search_fields = ["model__slug", "upstream_model", "provider__slug"]
    autocomplete_fields = ["model"]
    inlines = [FallbackInline]
    readonly_fields = ["breaker", "traffic_week", "created_at", "updated_at"]
    fields = ["model", "provider", "upstream_model", "max_output_tokens", "breaker", "traffic_week", "created_at", "updated_at"]
    actions = ["reset_breakers"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("fallbacks__fallback")

    @admin.display(description="fallbacks, in order")
    def fallback_list(self, route):
        return ", ".join(f.fallback.slug for f in route.fallbacks.all()) or "—"

    @admin.display(description="circuit breaker")
    def breaker(self, route):
        if not route.pk:
            return "—"
        try:
            state = breaker.breaker_state(route.provider.slug, route.model.slug)
        except Exception as exc:  # the page still shows when Redis does not answer
            return f"unknown ({type(exc).__name__})"
        if not state:
            return "closed"
        if state.get("state") == "closed":
            return f"closed, {state.get('failures', 0)} failure(s) in a row"
        return state.get("state", "?").replace("_", "-")

    def _traffic(self, route, days):
        try:
            return breaker.traffic(route.provider.slug, route.model.slug, days=days)
        except Exception:
            return None

    @admin.display(description="today: calls / errors / refused")
    def traffic_today(self, route):
        traffic = self._traffic(route, 1)
        if traffic is None:
            return "unknown"
        (today,) = traffic.values()
        return f"{today.get('calls', 0)} / {today.get('errors', 0)} / {today.get('refused', 0)}"

    @admin.display(description="last 7 days (UTC): calls / errors / refused")
    def traffic_week(self, route):
        if not route.pk:
            return "—"
        traffic = self._traffic(route, 7)
        if traffic is None:
            return "unknown"
        return format_html_join(
            "", "<div>{}: {} / {} / {}</div>",
            ((day, c.get("calls", 0), c.get("errors", 0), c.get("refused", 0)) for day, c in traffic.items()),
        )

    @admin.action(description="Close the circuit breaker of the selected models")
    def reset_breakers(self, request, queryset):
        # Recorded in the audit log per route by the base class (admin.reset_breakers).
        for route in queryset.select_related("model", "provider"):
            breaker.breaker_reset(route.provider.slug, route.model.slug)
        self.message_user(request, f"Closed {queryset.count()} breaker(s).", messages.SUCCESS)

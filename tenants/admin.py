import weakref

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from radiant.admin import RadiantModelAdmin, RadiantTabularInline
from tenants import services
from tenants.auth import effective_limits
from tenants.models import ApiKey, Membership, Tenant, Tier


class OperatorAdmin(RadiantModelAdmin):
    """The admin is an operator path: it sees every tenant's rows, on the operator alias."""

    def get_queryset(self, request):
        manager = getattr(self.model, "all_tenants", self.model._default_manager)
        qs = manager.get_queryset()
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs


@admin.register(Tier)
class TierAdmin(RadiantModelAdmin):
    list_display = ["name", "rps", "burst", "daily_quota", "updated_at"]
    list_editable = ["rps", "burst", "daily_quota"]
    search_fields = ["name"]


class MembershipInline(RadiantTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def get_queryset(self, request):
        return Membership.all_tenants.select_related("user")


@admin.register(Tenant)
class TenantAdmin(RadiantModelAdmin):
    list_display = ["slug", "name", "tier", "status", "limits", "created_at"]
    list_filter = ["status", "tier"]
    list_select_related = ["tier"]
    search_fields = ["slug", "name"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [MembershipInline]
    actions = ["suspend", "reactivate"]

    @admin.display(description="limits in force (rps / burst / daily)")
    def limits(self, obj):
        tier = obj.tier
        limits = effective_limits(
            rps=tier.rps, burst=tier.burst, daily_quota=tier.daily_quota, rps_override=obj.rps_override,
            burst_override=obj.burst_override, daily_quota_override=obj.daily_quota_override,
        )
        own = obj.rps_override or obj.burst_override or obj.daily_quota_override is not None
        text = f"{limits.rps} / {limits.burst} / {limits.daily_quota or 'unlimited'}"
        return f"{text} (own)" if own else text

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request, queryset):
        for tenant in queryset:
            services.tenant_set_status(tenant=tenant, status=Tenant.Status.SUSPENDED)
        self.message_user(request, f"Suspended {queryset.count()} tenant(s).")

    @admin.action(description="Reactivate selected tenants")
    def reactivate(self, request, queryset):
        for tenant in queryset:
            services.tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE)
        self.message_user(request, f"Reactivated {queryset.count()} tenant(s).")


@admin.register(Membership)
class MembershipAdmin(OperatorAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and self.instance.pk is None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(OperatorAdmin):
    form = ApiKeyForm
    list_display = ["prefix", "name", "tenant", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["prefix", "name", "tenant__slug"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["tenant"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "expires_at"]
        return ["tenant", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["tenant", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = services.api_key_create(tenant=obj.tenant, name=obj.name, expires_at=obj.expires_at)
        obj.pk, obj.prefix = key.pk, key.prefix
        obj._state.adding = False
        self._created[request] = raw

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The raw key between save_model and response_add of the same request; never a
        # message (messages travel in a cookie) nor anything else that outlives the response.
        self._created = weakref.WeakKeyDictionary()

    def response_add(self, request, obj, post_url_continue=None):
        """The new key, shown once on the response to the form itself (no redirect: nothing
        that carries it is stored anywhere, and it is not cached)."""
        raw = self._created.pop(request, None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request, "admin/tenants/apikey/created.html",
            {**self.admin_site.each_context(request), "key": obj, "raw_key": raw, "title": "New API key"},
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(prefix=key.prefix)
            count += 1
        self.message_user(request, f"Revoked {count} API key(s) at {timezone.now():%Y-%m-%d %H:%M:%S} UTC.")

"""The console's admin: the tenant page, usage per day, and the admins this app completes.

The tenant page and the audit viewer need data from apps above the ones that define them
(credits, configuration and the audit log for a tenant; tenants' slugs for audit records),
so this app, which sits on top of all of them, registers the fuller versions. Django's and
django-axes' admins are registered again on the project's base class, so every page of
the console shares its roles, history and labels.
"""

from decimal import Decimal, InvalidOperation

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from audit import admin as audit_admin
from audit.models import AuditLog
from audit.selectors import tenant_history
from billing import services as billing_services
from configuration.models import ConfigOverride
from console import charts
from console.models import UsageDay
from console.selectors import tenant_page_get
from radiant.admin import RadiantModelAdmin, ReadOnlyAdmin, history_entry
from tenants import admin as tenants_admin
from tenants import services as tenant_services
from tenants.models import ApiKey, Membership, Tenant

# --- the tenant page ------------------------------------------------------------------------

admin.site.unregister(Tenant)


@admin.register(Tenant)
class TenantAdmin(tenants_admin.TenantAdmin):
    """One tenant at a glance: limits in force, credits, today's usage, keys, members,
    configuration, ledger and audit log; suspend, reactivate and grant credits from here."""

    change_form_template = "admin/console/tenant_change_form.html"

    def get_urls(self):
        return [
            path("<path:object_id>/status/", self.permission_view(self.status_view, "tenants.change_tenant"),
                 name="tenants_tenant_status"),
            path("<path:object_id>/grant/", self.permission_view(self.grant_view, "billing.add_credittransaction"),
                 name="tenants_tenant_grant"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tenant = self.get_object(request, admin.utils.unquote(object_id))
        if tenant is not None:
            page = tenant_page_get(tenant=tenant)
            extra_context = {
                **(extra_context or {}),
                "page": page,
                "credits_chart": charts.bar_chart(
                    [(d["day"].strftime("%m-%d"), d["credits_used"]) for d in page.days],
                    label="Credits used per day, last 30 days", width=300, height=70,
                ),
                "keys": ApiKey.all_tenants.filter(tenant=tenant).order_by("-created_at")[:10],
                "members": Membership.all_tenants.filter(tenant=tenant).select_related("user"),
                "overrides": ConfigOverride.all_tenants.filter(tenant=tenant).select_related("entry").order_by("entry__key"),
                "audit_entries": [history_entry(e) for e in tenant_history(tenant_id=tenant.pk, limit=15)],
                "may_change_status": self.has_change_permission(request, tenant),
                "may_grant": request.user.has_perm("billing.add_credittransaction"),
                "now": timezone.now(),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _tenant_or_redirect(self, request, object_id):
        tenant = self.get_object(request, admin.utils.unquote(object_id))
        if tenant is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        return tenant, None

    def status_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant, missing = self._tenant_or_redirect(request, object_id)
        if missing:
            return missing
        status = request.POST.get("status")
        if status not in Tenant.Status.values:
            self.message_user(request, "Unknown status.", messages.ERROR)
        else:
            def change(request):
                tenant_services.tenant_set_status(tenant=tenant, status=status)
                self.message_user(request, f"{tenant.slug} is now {status}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

            return self._refusing(change, request)
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    def grant_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant, missing = self._tenant_or_redirect(request, object_id)
        if missing:
            return missing
        try:
            amount = Decimal(request.POST.get("amount", "").strip())
        except InvalidOperation:
            self.message_user(request, "The amount must be a number, e.g. 100 or 12.5.", messages.ERROR)
        else:
            try:
                row = billing_services.credits_grant(
                    tenant=tenant, amount=amount, reason=request.POST.get("reason", ""), operator=request.user.get_username(),
                )
            except billing_services.BillingError as exc:
                self.message_user(request, f"Nothing was granted: {exc}.", messages.ERROR)
            else:
                granted, balance = charts.amount(row.amount), charts.amount(row.balance_after)
                self.message_user(
                    request, f"Granted {granted} credits to {tenant.slug}: balance {balance}.", messages.SUCCESS,
                )
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))


# --- usage per day --------------------------------------------------------------------------


@admin.register(UsageDay)
class UsageDayAdmin(ReadOnlyAdmin):
    """The numbers behind the dashboard's charts (written by the rollup, never by hand)."""

    list_display = ["day", "tenant", "requests", "throttled", "credits_used", "credits_added", "charges"]
    list_filter = [("day", admin.DateFieldListFilter), "tenant__tier"]
    search_fields = ["tenant__slug"]
    date_hierarchy = "day"
    list_select_related = ["tenant"]

    def get_queryset(self, request):
        return UsageDay.all_tenants.select_related("tenant")


# --- the audit viewer, with tenants by slug -------------------------------------------------

admin.site.unregister(AuditLog)


class _TenantSlugs(ChangeList):
    """A page of audit records, with their tenants' slugs read in one query."""

    def get_results(self, request):
        super().get_results(request)
        ids = {row.tenant_id for row in self.result_list if row.tenant_id}
        slugs = dict(Tenant.objects.filter(pk__in=ids).values_list("pk", "slug"))
        for row in self.result_list:
            row.tenant_slug = slugs.get(row.tenant_id)


@admin.register(AuditLog)
class AuditLogAdmin(audit_admin.AuditLogAdmin):
    fields = [*audit_admin.AuditLogAdmin.fields[:3], "tenant_label", *audit_admin.AuditLogAdmin.fields[3:]]

    def get_changelist(self, request, **kwargs):
        return _TenantSlugs

    @admin.display(description="tenant")
    def tenant_label(self, obj):
        if not obj.tenant_id:
            return "—"
        if not hasattr(obj, "tenant_slug"):  # one record's page
            obj.tenant_slug = Tenant.objects.filter(pk=obj.tenant_id).values_list("slug", flat=True).first()
        return obj.tenant_slug or obj.tenant_id


# --- Django's and django-axes' admins, on the project's base class ------------------------

for model, base in [
    (User, auth_admin.UserAdmin), (Group, auth_admin.GroupAdmin),
    (AccessAttempt, axes_admin.AccessAttemptAdmin), (AccessLog, axes_admin.AccessLogAdmin),
    (AccessFailureLog, axes_admin.AccessFailureLogAdmin),
]:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(base.__name__, (RadiantModelAdmin, base), {"__module__": __name__}))

"""The ledger in the admin: read-only, plus grant / refund / adjust, which write new rows.

No ledger row can be edited or deleted here (nor anywhere: the web role lacks the
privilege, and no service does it). "Add credit transaction" is the operator's manual
entry: it goes through the same services as ``grant_credits``, with the operator's user
name and a required reason, and appears as a new row.
"""

from django import forms
from django.contrib import admin, messages

from billing import services
from billing.models import CreditAccount, CreditHold, CreditTransaction
from radiant.admin import ReadOnlyAdmin, decimal_column
from tenants.models import Tenant

MANUAL_TYPES = [
    (CreditTransaction.Type.GRANT, "Grant (adds credits)"),
    (CreditTransaction.Type.REFUND, "Refund (adds credits back)"),
    (CreditTransaction.Type.ADJUSTMENT, "Adjustment (signed correction)"),
]
_SERVICES = {
    CreditTransaction.Type.GRANT: services.credits_grant,
    CreditTransaction.Type.REFUND: services.credits_refund,
    CreditTransaction.Type.ADJUSTMENT: services.credits_adjust,
}


class LedgerAdmin(ReadOnlyAdmin):
    """Every tenant's rows, viewable, never changed or deleted by hand."""

    def get_queryset(self, request):
        return self.model.all_tenants.select_related("tenant")


@admin.register(CreditAccount)
class CreditAccountAdmin(LedgerAdmin):
    list_display = [
        "tenant", decimal_column("balance", "balance"), decimal_column("held", "held"),
        decimal_column("available", "available", sortable=False), "currency", "seq", "updated_at",
    ]
    search_fields = ["tenant__slug"]


@admin.register(CreditHold)
class CreditHoldAdmin(LedgerAdmin):
    list_display = ["id", "tenant", decimal_column("amount", "amount"), "status", "charged", "expires_at", "closed_at"]
    list_filter = ["status"]
    search_fields = ["tenant__slug", "=id"]


class ManualEntryForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.order_by("slug"))
    type = forms.ChoiceField(choices=MANUAL_TYPES)
    amount = forms.DecimalField(max_digits=20, decimal_places=9, help_text="Negative only for an adjustment.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


@admin.register(CreditTransaction)
class CreditTransactionAdmin(LedgerAdmin):
    list_display = [
        "created_at", "tenant", "seq", "type", decimal_column("amount", "amount"),
        decimal_column("balance_after", "balance after", sortable=False),
        decimal_column("held_after", "held after", sortable=False), "detail",
    ]
    list_filter = ["type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["tenant__slug", "=id", "model_slug", "operator", "reason"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="model or operator")
    def detail(self, obj):
        return obj.model_slug or obj.operator or "—"

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_staff and request.user.has_perm("billing.add_credittransaction")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def add_view(self, request, form_url="", extra_context=None):
        """Grant, refund or adjust: a new ledger row through the services, never a raw save."""
        from django.shortcuts import redirect
        from django.template.response import TemplateResponse

        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = ManualEntryForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                row = _SERVICES[data["type"]](
                    tenant=data["tenant"], amount=data["amount"], reason=data["reason"], operator=request.user.get_username(),
                )
            except services.BillingError as exc:
                form.add_error("amount", str(exc))
            else:
                self.message_user(
                    request, f"{row.type} of {row.amount} for {data['tenant'].slug}: balance {row.balance_after}.",
                    messages.SUCCESS,
                )
                return redirect("admin:billing_credittransaction_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant, refund or adjust credits",
            "form": form,
            "opts": self.model._meta,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/billing/manual_entry.html", context)

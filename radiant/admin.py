"""What every operator admin page shares: the site and the base class of every ModelAdmin.

``RadiantAdminSite`` is Django's admin site with the project's name, no "View site" link
(the API has no page to view), a favicon and stylesheet (``radiant/templates``), and a
dashboard as its first page when an app registers one (``dashboard``).

``RadiantModelAdmin`` is the base of every ModelAdmin in the project (a test holds every
registered admin to it). It adds what all of them need:

- **History with values.** Field changes are audited wherever they are made (audit/capture.py,
  model signals). What only the admin knows is audited here: that an *action* ran, on which
  rows, by whom; and many-to-many changes made in a form (a user's groups), old -> new. The
  object's "History" page shows the audit log of that object, values included, instead of
  Django's "Changed value." messages.
- **Roles.** An action that does not declare ``allowed_permissions`` changes rows, so it
  needs the change permission: a view-only (support) user is never offered one, and a forged
  POST of one is refused. Custom views go through ``permission_view``.
- **Refusals, not half-changes.** A change the cache could not make effective is refused as
  a whole, and the operator sees why on the page they were on (never an error page or a
  false success). Actions run in one transaction, so a refusal half-way through a selection
  leaves every row as it was (Django already wraps forms and list edits in one).
- **Readable forms.** An empty nullable JSON field is an empty box, not the literal ``null``.

The audit log is an app (``audit``) and ``radiant`` imports none: the app registers its
writer and reader with ``use_audit`` when it is ready.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from radiant.invalidation import InvalidationUnavailable

# Rows of one action recorded one by one; a larger selection is one record naming the count.
ACTION_ROWS_RECORDED = 100
HISTORY_ROWS = 200


@dataclass
class _Audit:
    """``record(action=, obj=, object_type=, object_id=, changes=)`` writes a record as the
    current actor; ``history(object_type=, object_id=, limit=)`` returns the newest first."""

    record: Callable | None = None
    history: Callable | None = None


audit = _Audit()


def use_audit(*, record: Callable, history: Callable) -> None:
    audit.record, audit.history = record, history


# --- the site ------------------------------------------------------------------------------


class RadiantAdminSite(admin.AdminSite):
    site_header = "RADIANT operator console"
    site_title = "RADIANT console"
    index_title = "Dashboard"
    site_url = None  # no public site behind the API: no "View site" link to a 404
    enable_nav_sidebar = True

    # A view ``(request, context) -> response`` for the first page, registered by the app
    # that owns the numbers it shows; without one, Django's list of apps.
    dashboard: Callable | None = None

    def index(self, request, extra_context=None):
        if self.dashboard is None:
            return super().index(request, extra_context)
        context = {
            **self.each_context(request),
            "title": self.index_title,
            "subtitle": None,
            "app_list": self.get_app_list(request),
            **(extra_context or {}),
        }
        request.current_app = self.name
        return self.dashboard(request, context)


# --- forms ---------------------------------------------------------------------------------


class BlankNullJSONField(forms.JSONField):
    """A nullable JSON column: NULL is shown as an empty box and an empty box saves NULL."""

    def prepare_value(self, value):
        if value is None:
            return ""
        return super().prepare_value(value)


# --- the base class ------------------------------------------------------------------------


class RadiantModelAdmin(admin.ModelAdmin):
    """The base of every ModelAdmin in the project (see the module's docstring)."""

    list_per_page = 50

    # --- forms
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField) and db_field.null and "form_class" not in kwargs:
            kwargs["form_class"] = BlankNullJSONField
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # Lists may be narrowed to one tenant (the tenant page links to them), filter or not.
    TENANT_LOOKUPS = frozenset({"tenant__slug", "tenant__id__exact"})

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in self.TENANT_LOOKUPS or super().lookup_allowed(lookup, value, request)

    # --- roles
    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.has_change_permission(request):
            return actions
        # An action that declares no permission changes rows: without "change", none of it.
        return {
            name: action for name, action in actions.items()
            if getattr(action[0], "allowed_permissions", None)
        }

    def permission_view(self, view, *perms: str):
        """A custom admin view that needs ``perms`` (``app.codename``): anyone else gets 403."""

        def guarded(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return self.admin_site.admin_view(guarded)

    # --- refusals
    def _refusing(self, view, request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except InvalidationUnavailable as exc:
            self.message_user(request, f"Nothing was changed: {exc}.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        return self._refusing(super().changeform_view, request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._refusing(super().changelist_view, request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._refusing(super().delete_view, request, *args, **kwargs)

    # --- audit: actions
    def response_action(self, request, queryset):
        name = request.POST.get("action", "")
        runs = name in self.get_actions(request) and name != "delete_selected"  # deletes: row by row
        if request.POST.get("select_across") != "1":
            queryset = queryset.filter(pk__in=request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME))
        with transaction.atomic(using=queryset.db):
            selected = list(queryset.values_list("pk", flat=True)[: ACTION_ROWS_RECORDED + 1]) if runs else []
            response = super().response_action(request, queryset)
            if selected:
                self._audit_action(name, queryset, selected)
        return response

    def _audit_action(self, name, queryset, selected):
        if audit.record is None:
            return
        action = f"admin.{name}"
        if len(selected) > ACTION_ROWS_RECORDED:
            audit.record(
                action=action, object_type=self.model._meta.label_lower,
                object_id=f"over {ACTION_ROWS_RECORDED} rows", changes={},
            )
            return
        for obj in queryset.model._base_manager.using(queryset.db).filter(pk__in=selected):
            audit.record(action=action, obj=obj, changes={})

    # --- audit: many-to-many changes in forms (fields are audited by the model signals)
    def save_related(self, request, form, formsets, change):
        names = [f.name for f in self.model._meta.many_to_many if f.name in form.cleaned_data]
        before = self._m2m(form.instance, names) if change else {name: [] for name in names}
        super().save_related(request, form, formsets, change)
        after = self._m2m(form.instance, names)
        changes = {name: [before[name], after[name]] for name in names if before[name] != after[name]}
        if changes and audit.record is not None:
            verb = "update" if change else "create"
            audit.record(action=f"{self.model._meta.model_name}.{verb}", obj=form.instance, changes=changes)

    @staticmethod
    def _m2m(obj, names):
        return {name: sorted(str(o) for o in getattr(obj, name).all()) for name in names}

    # --- history: the audit log of this object, values included
    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, admin.utils.unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        meta = self.model._meta
        entries = []
        if audit.history is not None:
            entries = audit.history(object_type=meta.label_lower, object_id=str(obj.pk), limit=HISTORY_ROWS)
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": meta,
            "entries": [history_entry(e) for e in entries],
            "limit": HISTORY_ROWS,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/radiant/object_history.html", context)


class ReadOnlyAdmin(RadiantModelAdmin):
    """Rows viewable in the admin and never added, changed or deleted there (a ledger, the
    audit log, derived tables): their writes belong to services."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RadiantInline:
    """Mixin for inlines: their many-to-many and action needs are the parent's."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField) and db_field.null and "form_class" not in kwargs:
            kwargs["form_class"] = BlankNullJSONField
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class RadiantTabularInline(RadiantInline, admin.TabularInline):
    pass


# --- showing changes -------------------------------------------------------------------------


def decimal_text(value) -> str:
    """An amount as an operator reads it: every significant digit, at least two decimals
    (``10.000000000`` is ``10.00``, ``0.007500000`` is ``0.0075``)."""
    if value is None:
        return "—"
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"{value:,.{places}f}"


def decimal_column(field: str, description: str, *, sortable: bool = True):
    """A ``list_display`` column showing the amount in ``field`` with ``decimal_text``,
    sorted by that field (``sortable=False`` for a value computed in Python)."""

    def column(obj):
        return decimal_text(getattr(obj, field))

    column.__name__ = f"{field}_text"  # the cells' CSS class: field-<name>
    return admin.display(description=description, ordering=field if sortable else None)(column)


_AMOUNT = re.compile(r"-?\d+(\.\d+)?(E-?\d+)?")


def value_text(value) -> str:
    """A stored value as an operator reads it: a dash for None, JSON for structures, and
    amounts recorded as decimal strings ("250.000000000", "0E-9") as amounts."""
    if value is None:
        return "—"
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and ("." in value or "E" in value) and _AMOUNT.fullmatch(value):
        return decimal_text(Decimal(value))
    return str(value)


def change_pairs(changes) -> list[tuple[str, str, str]]:
    """``{"field": [old, new]}`` as ``(field, old, new)`` texts, in field order."""
    pairs = []
    for field, pair in (changes or {}).items():
        old, new = pair if isinstance(pair, (list, tuple)) and len(pair) == 2 else (None, pair)
        pairs.append((field, value_text(old), value_text(new)))
    return pairs


def history_entry(entry) -> dict:
    return {
        "created_at": entry.created_at,
        "actor": entry.actor or entry.actor_type,
        "actor_type": entry.actor_type,
        "action": entry.action,
        "changes": change_pairs(entry.changes),
        "request_id": entry.request_id,
    }

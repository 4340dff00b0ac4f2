"""What every operator admin page shares."""

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect

from radiant.invalidation import InvalidationUnavailable


class EffectiveChangesAdmin(admin.ModelAdmin):
    """A change the cache could not make effective is refused as a whole, and the operator
    sees why on the page they were on, instead of an error page or a false success.

    Actions run in one transaction, so a refusal half-way through a selection leaves every
    row as it was (Django already wraps forms and list edits in one)."""

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

    def response_action(self, request, queryset):
        with transaction.atomic(using=queryset.db):
            return super().response_action(request, queryset)

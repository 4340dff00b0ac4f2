from django import forms
from django.contrib import admin

from configuration import values
from configuration.models import ConfigEntry, ConfigOverride
from radiant.admin import RadiantModelAdmin
from tenants.admin import OperatorAdmin

VALUE_HELP = (
    "Strings as plain text (no quotes); integers like 42; numbers like 0.7; booleans as "
    "true or false; json as a JSON document. Checked against the declared type and constraints."
)


class TypedValueForm(forms.ModelForm):
    """``value`` is typed as text and parsed by the entry's declared type, with a clear error."""

    value = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, strip=False, help_text=VALUE_HELP)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "value" not in self.data:
            self.initial["value"] = values.to_text(self._value_type(self.instance), self.instance.value)

    def _value_type(self, instance):  # pragma: no cover - overridden
        raise NotImplementedError

    _parse_error = None

    def _parse_value(self, value_type):
        text = self.cleaned_data.get("value")
        if value_type is None or text is None:
            return
        try:
            self.cleaned_data["value"] = values.parse_text(value_type, text)
        except values.InvalidValue as exc:
            self._parse_error = f"Invalid {value_type} value: {exc}"
            self.add_error("value", self._parse_error)

    def _post_clean(self):
        super()._post_clean()
        if self._parse_error:  # the model's check of the old value would only repeat it
            self._errors["value"] = self.error_class([self._parse_error])


class ConfigEntryForm(TypedValueForm):
    confirm_type_change = forms.BooleanField(
        required=False, label="Confirm type change",
        help_text="Changing the type changes what every client receives (a number becomes a "
        "string, ...). Tick to confirm; overrides that would no longer fit are refused.",
    )

    class Meta:
        model = ConfigEntry
        fields = [
            "key", "value_type", "value", "description", "is_overridable",
            "choices", "min_value", "max_value", "max_length", "json_schema",
        ]

    def _value_type(self, instance):
        return instance.value_type

    def clean(self):
        cleaned = super().clean()
        new_type = cleaned.get("value_type")
        old_type = self.instance.value_type if self.instance.pk is not None else None
        if old_type and new_type and new_type != old_type and not cleaned.get("confirm_type_change"):
            self.add_error(
                "confirm_type_change",
                f"The type changes from {old_type} to {new_type}: every client will receive the "
                f"value as {new_type}. Tick to confirm.",
            )
        self._parse_value(new_type)
        return self.cleaned_data


class ConfigOverrideForm(TypedValueForm):
    class Meta:
        model = ConfigOverride
        fields = ["tenant", "entry", "value"]

    def _value_type(self, instance):
        return instance.entry.value_type

    def clean(self):
        cleaned = super().clean()
        entry = cleaned.get("entry") or (self.instance.entry if self.instance.entry_id else None)
        self._parse_value(entry.value_type if entry else None)
        return self.cleaned_data


@admin.register(ConfigEntry)
class ConfigEntryAdmin(RadiantModelAdmin):
    form = ConfigEntryForm
    list_display = ["key", "value_type", "short_value", "is_overridable", "updated_at"]
    list_filter = ["value_type", "is_overridable"]
    search_fields = ["key", "description"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["key", "value_type", "confirm_type_change", "value", "description", "is_overridable"]}),
        ("Constraints", {"fields": ["choices", "min_value", "max_value", "max_length", "json_schema"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="value")
    def short_value(self, obj):
        text = values.encode(obj.value)
        return text if len(text) <= 60 else text[:57] + "..."


@admin.register(ConfigOverride)
class ConfigOverrideAdmin(OperatorAdmin):
    form = ConfigOverrideForm
    list_display = ["entry", "tenant", "short_value", "updated_at"]
    list_filter = ["entry"]
    search_fields = ["entry__key", "tenant__slug"]
    autocomplete_fields = ["tenant"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant", "entry")

    def get_readonly_fields(self, request, obj=None):
        # Moving an override to another tenant or key would leave the first one's cache unaware.
        return ["tenant", "entry"] if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "entry":
            kwargs["queryset"] = ConfigEntry.objects.filter(is_overridable=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="value")
    def short_value(self, obj):
        text = values.encode(obj.value)
        return text if len(text) <= 60 else text[:57] + "..."

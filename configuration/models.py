"""Configuration: global entries with a declared type, and tenants' overrides of them."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from configuration import values
from radiant.invalidation import InvalidatingQuerySet
from radiant.models import TimeStamped
from radiant.tenancy import TenantManager, TenantOwned

# Dotted lower-case names ("chat.max_tokens"); "all" is the merged view's own cache key.
RESERVED_KEYS = {"all"}
key_validator = RegexValidator(
    r"\A[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\Z",
    "Use lower-case letters, digits and underscores in dot-separated parts, e.g. chat.max_tokens.",
)


def validate_config_key(value):
    if len(value) > 100:
        raise ValidationError("At most 100 characters.")
    if value in RESERVED_KEYS:
        raise ValidationError(f"'{value}' is reserved.")


class ConfigEntry(TimeStamped):
    """A global setting: its type, constraints, default value, and whether tenants may override it."""

    class Type(models.TextChoices):
        STRING = values.STRING
        INTEGER = values.INTEGER
        NUMBER = values.NUMBER
        BOOLEAN = values.BOOLEAN
        JSON = values.JSON

    key = models.CharField(max_length=100, unique=True, validators=[key_validator, validate_config_key])
    value_type = models.CharField("type", max_length=16, choices=Type.choices)
    # blank: "", [] and {} are values like any other; null never is (see values.check).
    value = models.JSONField(blank=True, help_text="The global value; tenants see it unless they override it.")
    description = models.TextField(blank=True)
    is_overridable = models.BooleanField(
        "tenants may override", default=False,
        help_text="Whether tenants may set their own value through PUT /api/v1/config/{key}.",
    )
    choices = models.JSONField(
        null=True, blank=True, help_text='Allowed values as a JSON list, e.g. ["light", "dark"] (string, integer, number).'
    )
    min_value = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True, help_text="Strings only.")
    json_schema = models.JSONField(null=True, blank=True, help_text="A JSON Schema the value must match (json only).")

    objects = InvalidatingQuerySet.as_manager()

    # A global reference table: tenants read it, operators write it.
    web_privileges = "SELECT"

    class Meta:
        ordering = ["key"]
        verbose_name = "configuration entry"
        verbose_name_plural = "configuration entries"

    def __str__(self):
        return self.key

    def check_value(self, value) -> None:
        """Raise values.InvalidValue unless ``value`` fits this entry."""
        values.check(
            value_type=self.value_type, value=value, choices=self.choices, min_value=self.min_value,
            max_value=self.max_value, max_length=self.max_length, json_schema=self.json_schema,
        )

    def accepts(self, value) -> bool:
        try:
            self.check_value(value)
        except values.InvalidValue:
            return False
        return True

    def clean(self):
        if self.value_type not in values.TYPES:
            return  # the field's own validation reports it
        errors = values.check_declaration(
            value_type=self.value_type, choices=self.choices, min_value=self.min_value,
            max_value=self.max_value, max_length=self.max_length, json_schema=self.json_schema,
        )
        if not errors:
            try:
                self.check_value(self.value)
            except values.InvalidValue as exc:
                errors["value"] = f"Invalid {self.value_type} value: {exc}"
        if not errors and self.pk is not None:
            broken = self.overrides_refused()
            if broken:
                # Changing the type or tightening a constraint would silently switch these
                # tenants back to the global value (an override that does not fit is ignored).
                errors["value_type"] = (
                    f"{len(broken)} tenant override(s) would no longer fit ({', '.join(broken[:5])}"
                    f"{', ...' if len(broken) > 5 else ''}): change or delete them first."
                )
        if errors:
            raise ValidationError(errors)

    def overrides_refused(self) -> list[str]:
        """Slugs of the tenants whose override of this entry does not fit it as declared now."""
        return sorted(
            override.tenant.slug
            for override in ConfigOverride.all_tenants.filter(entry_id=self.pk).select_related("tenant")
            if not self.accepts(override.value)
        )


class ConfigOverride(TenantOwned, TimeStamped):
    """A tenant's own value for an overridable entry."""

    entry = models.ForeignKey(ConfigEntry, on_delete=models.CASCADE, related_name="overrides")
    value = models.JSONField(blank=True)

    objects = TenantManager.from_queryset(InvalidatingQuerySet)()
    all_tenants = InvalidatingQuerySet.as_manager()

    class Meta:
        verbose_name = "tenant configuration override"
        default_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "entry"], name="config_override_unique"),
        ]

    def __str__(self):
        return f"{self.entry_id} for {self.tenant_id}"

    def clean(self):
        if not self.entry_id:
            return
        if not self.entry.is_overridable:
            raise ValidationError({"entry": f"{self.entry.key} is not overridable by tenants."})
        try:
            self.entry.check_value(self.value)
        except values.InvalidValue as exc:
            raise ValidationError({"value": f"Invalid {self.entry.value_type} value: {exc}"}) from None

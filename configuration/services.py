"""Tenants' configuration overrides. Run inside the tenant's scope (the API), whose
transaction they join; cache invalidation and the audit record follow on commit through
model signals (radiant/invalidation.py, audit/capture.py)."""

from typing import Any

from django.db import IntegrityError
from rest_framework import status

from configuration import selectors, values
from configuration.models import ConfigEntry, ConfigOverride
from radiant import tenancy
from radiant.problems import Problem


class ConfigNotOverridable(Problem):
    status = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    title = "Not overridable"


class ConfigValueInvalid(Problem):
    status = status.HTTP_400_BAD_REQUEST
    code = "validation_error"
    title = "Invalid input"

    def __init__(self, message: str):
        super().__init__("The request has invalid fields.", extra={"errors": {"value": [message]}})


def _overridable(entry: ConfigEntry) -> ConfigEntry:
    if not entry.is_overridable:
        raise ConfigNotOverridable(f"{entry.key} is set by the platform; tenants cannot override it.")
    return entry


def config_override_set(*, key: str, value: Any) -> selectors.MergedEntry:
    """Set the current tenant's value for ``key``; nothing changes unless it is valid.

    An existing override and its entry are read in one query and updated in place; a new
    one is inserted under a savepoint, so that an override created meanwhile by a
    concurrent request (the unique constraint) is updated instead of failing the request.
    """
    override = ConfigOverride.objects.select_related("entry").filter(entry__key=key).first()
    entry = _overridable(override.entry if override is not None else selectors.config_entry_get(key=key))
    try:
        entry.check_value(value)
    except values.InvalidValue as exc:
        raise ConfigValueInvalid(str(exc)) from None
    if override is None:
        override = ConfigOverride(entry=entry, tenant_id=tenancy.require_tenant_id(), value=value)
        try:
            with tenancy.atomic():
                override.save(force_insert=True)
            return selectors.merge(entry, override)
        except IntegrityError:
            override = ConfigOverride.objects.get(entry=entry)
    override.value = value
    override.save(update_fields=["value", "updated_at"])
    return selectors.merge(entry, override)


def config_override_clear(*, key: str) -> None:
    """Remove the current tenant's value for ``key`` (idempotent): the global value applies."""
    entry = _overridable(selectors.config_entry_get(key=key))
    for override in ConfigOverride.objects.filter(entry=entry):
        override.delete()

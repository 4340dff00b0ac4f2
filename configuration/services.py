"""Tenants' configuration overrides. Run inside the tenant's scope (the API); cache
invalidation follows on commit through radiant.cache's signals."""

from typing import Any

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


def _overridable_entry(key: str) -> ConfigEntry:
    entry = selectors.config_entry_get(key=key)
    if not entry.is_overridable:
        raise ConfigNotOverridable(f"{key} is set by the platform; tenants cannot override it.")
    return entry


def config_override_check(*, key: str) -> ConfigEntry:
    """404 for an unknown key, 403 for one tenants may not override; else the entry."""
    return _overridable_entry(key)


def config_override_set(*, key: str, value: Any) -> selectors.MergedEntry:
    """Set the current tenant's value for ``key``; nothing changes unless it is valid."""
    entry = _overridable_entry(key)
    try:
        entry.check_value(value)
    except values.InvalidValue as exc:
        raise ConfigValueInvalid(str(exc)) from None
    with tenancy.atomic():
        ConfigOverride.objects.update_or_create(
            entry=entry, tenant_id=tenancy.require_tenant_id(), defaults={"value": value}
        )
    return selectors.config_get(key=key)


def config_override_clear(*, key: str) -> None:
    """Remove the current tenant's value for ``key`` (idempotent): the global value applies."""
    entry = _overridable_entry(key)
    with tenancy.atomic():
        for override in ConfigOverride.objects.filter(entry=entry):
            override.delete()

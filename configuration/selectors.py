"""The merged configuration as the current tenant sees it: its override, else the global value."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from configuration.models import RESERVED_KEYS, ConfigEntry, ConfigOverride, key_validator
from radiant.problems import NotFound


class ConfigKeyNotFound(NotFound):
    title = "Configuration key not found"


@dataclass(frozen=True)
class MergedEntry:
    key: str
    value: Any
    type: str
    source: str  # "tenant" or "global"
    overridable: bool
    description: str


def config_key_valid(key: str) -> bool:
    try:
        key_validator(key)
    except ValidationError:
        return False
    return len(key) <= 100 and key not in RESERVED_KEYS


def merge(entry: ConfigEntry, override: ConfigOverride | None) -> MergedEntry:
    # An override counts while its entry is overridable and it still fits the entry's type
    # (an operator may have tightened either since it was set).
    mine = override is not None and entry.is_overridable and entry.accepts(override.value)
    return MergedEntry(
        key=entry.key,
        value=override.value if mine else entry.value,
        type=entry.value_type,
        source="tenant" if mine else "global",
        overridable=entry.is_overridable,
        description=entry.description,
    )


def config_entries():
    """Every configuration entry (global), for a list to page through."""
    return ConfigEntry.objects.all()


def config_merged(entries) -> list[MergedEntry]:
    """``entries`` as the current tenant sees them: its overrides of those, one query."""
    entries = list(entries)
    overrides = {o.entry_id: o for o in ConfigOverride.objects.filter(entry_id__in=[e.id for e in entries])}
    return [merge(entry, overrides.get(entry.id)) for entry in entries]


def config_list() -> list[MergedEntry]:
    """The whole merged configuration, by key."""
    return config_merged(ConfigEntry.objects.order_by("key"))


def config_entry_get(*, key: str) -> ConfigEntry:
    entry = ConfigEntry.objects.filter(key=key).first() if config_key_valid(key) else None
    if entry is None:
        raise ConfigKeyNotFound(f"No configuration key {key!r}.")
    return entry


def config_get(*, key: str) -> MergedEntry:
    entry = config_entry_get(key=key)
    return merge(entry, ConfigOverride.objects.filter(entry=entry).first())

"""Cache plans and invalidation of configuration (DESIGN.md §6; the machinery:
radiant/cache.py, radiant/invalidation.py).

A tenant's merged entries depend on the global token (any entry changed: every tenant's
view is stale at once) and the tenant's own (its overrides changed).
"""

from radiant import cache, cache_keys, invalidation
from radiant.conditional import HttpPolicy

# Short: a client that PUTs an override and reads the whole list right after should not
# keep an old copy for long.
HTTP = HttpPolicy(max_age=10, stale_while_revalidate=30)


def _versions(tenant_id) -> tuple[str, str]:
    return (cache_keys.config_version(), cache_keys.config_version(tenant_id))


def config_all_plan(*, tenant_id, page="") -> cache.Plan:
    return cache.Plan(
        key=cache_keys.config_all(tenant_id, page=page), versions=_versions(tenant_id),
        ttl=cache_keys.CONFIG_TTL, http=HTTP,
    )


def config_item_plan(*, tenant_id, key) -> cache.Plan:
    return cache.Plan(
        key=cache_keys.config_item(tenant_id, key), versions=_versions(tenant_id),
        ttl=cache_keys.CONFIG_TTL, http=HTTP,
    )


def register() -> None:
    from configuration.models import ConfigEntry, ConfigOverride

    invalidation.invalidate_on_change(ConfigEntry, lambda row: (cache_keys.config_version(),))
    invalidation.invalidate_on_change(
        ConfigOverride,
        lambda row: (cache_keys.config_version(row.tenant_id if row is not None else None),),
    )

"""Cache plans and invalidation of the catalog (DESIGN.md §6; the machinery:
radiant/cache.py, radiant/invalidation.py).

Every catalog entry of a tenant depends on two version tokens: the catalog's (replaced on
any change to any model, global or private, so one O(1) write refreshes every tenant) and
the tenant's own (replaced when it switches a model off or on).
"""

from radiant import cache, cache_keys, invalidation
from radiant.conditional import HttpPolicy

HTTP = HttpPolicy(max_age=30, stale_while_revalidate=60)


def _versions(tenant_id) -> tuple[str, str]:
    return (cache_keys.models_version(), cache_keys.models_version(tenant_id))


def models_list_plan(*, tenant_id, category=None, status=None, page="") -> cache.Plan:
    return cache.Plan(
        key=cache_keys.models_list(tenant_id, category=category, status=status, page=page),
        versions=_versions(tenant_id),
        ttl=cache_keys.MODELS_TTL,
        http=HTTP,
    )


def models_detail_plan(*, tenant_id, slug) -> cache.Plan:
    return cache.Plan(
        key=cache_keys.models_detail(tenant_id, slug),
        versions=_versions(tenant_id),
        ttl=cache_keys.MODELS_TTL,
        http=HTTP,
    )


def register() -> None:
    from models_catalog.models import AIModel, ModelOptOut

    invalidation.invalidate_on_change(AIModel, lambda row: (cache_keys.models_version(),))
    invalidation.invalidate_on_change(
        ModelOptOut,
        lambda row: (cache_keys.models_version(row.tenant_id if row is not None else None),),
    )

"""Cache invalidation for authentication (radiant/cache.py does the bookkeeping).

Any committed change to a tier, a tenant or an API key (admin, services, commands, bulk
``update()``, deletes) replaces the auth generation, so the next request re-reads limits,
status, revocation and expiry. Last-use timestamps are written with ``update_untracked``.
"""

from radiant import cache, cache_keys


def register() -> None:
    from tenants.models import ApiKey, Tenant, Tier

    for model in (Tier, Tenant, ApiKey):
        cache.invalidate_on_change(model, lambda row: (cache_keys.auth_generation(),))

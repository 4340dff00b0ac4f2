"""Cache invalidation for authentication (radiant/invalidation.py does the bookkeeping).

Any committed change to a tier, a tenant or an API key (admin, services, commands, bulk
``update()``, deletes) replaces the auth generation of every tenant it concerns, so the
next request re-reads limits, status, revocation and expiry (tenants/auth.py). A
tenant's generation is its own key (the throttle script checks it in the
request's one round trip), so a tier edit replaces those of the tier's tenants, and a bulk
change whose rows are unknown those of every tenant: rare operator actions, one write to
Redis either way. Last-use timestamps are written with ``update_untracked``.
"""

from radiant import cache_keys, invalidation


def _generations(tenant_ids):
    return [cache_keys.auth_generation(tenant_id) for tenant_id in tenant_ids]


def _all_tenants():
    from tenants.models import Tenant

    return Tenant.objects.values_list("id", flat=True)


def _tier_changed(tier):
    if tier is None:
        return _generations(_all_tenants())
    return _generations(tier.tenants.values_list("id", flat=True))


def _tenant_changed(tenant):
    return _generations(_all_tenants() if tenant is None else [tenant.pk])


def _key_changed(key):
    if key is None:
        return _generations(_all_tenants())
    # A key moved to another tenant (only the ORM can) makes the old tenant's entries stale too.
    previous = getattr(key, "_radiant_previous_tenant_id", None)
    return _generations({key.tenant_id, previous} - {None})


def _note_previous_tenant(sender, instance, raw=False, using=None, **kwargs):
    if instance.pk is not None and not raw:
        instance._radiant_previous_tenant_id = (
            sender.all_tenants.using(using).filter(pk=instance.pk).values_list("tenant_id", flat=True).first()
        )


def register() -> None:
    from django.db.models.signals import pre_save

    from tenants.models import ApiKey, Tenant, Tier

    # First, so that the strict check before a save knows a moved key's previous tenant too.
    pre_save.connect(_note_previous_tenant, sender=ApiKey, dispatch_uid="radiant.auth.previous_tenant")
    # Strict: a revocation, a suspension or a limit change that reports success is in force
    # on every later request, whatever Redis did meanwhile (radiant/invalidation.py says how).
    invalidation.invalidate_on_change(Tier, _tier_changed, strict=True)
    invalidation.invalidate_on_change(Tenant, _tenant_changed, strict=True)
    invalidation.invalidate_on_change(ApiKey, _key_changed, strict=True)

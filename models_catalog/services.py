"""Writes to the catalog (operator side). Cache invalidation happens on commit, on its own:
instance writes through signals, bulk writes through InvalidatingQuerySet (radiant/invalidation.py)."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from models_catalog.models import AIModel, ModelOptOut


@transaction.atomic
def ai_model_set_enabled(*, ids: Iterable[int], enabled: bool) -> int:
    """Enable or disable many models in one UPDATE (the admin's bulk actions)."""
    return AIModel.all_tenants.filter(pk__in=list(ids)).update(is_enabled=enabled, updated_at=timezone.now())


@transaction.atomic
def model_opt_out_set(*, tenant, model: AIModel, switched_off: bool) -> None:
    """Switch a global model off (or back on) for one tenant."""
    if model.tenant_id is not None:
        raise ValueError("only a global model can be switched off for a tenant")
    if switched_off:
        ModelOptOut.all_tenants.get_or_create(tenant=tenant, model=model)
    else:
        for opt_out in ModelOptOut.all_tenants.filter(tenant=tenant, model=model):
            opt_out.delete()

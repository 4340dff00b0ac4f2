"""Reads of the catalog, as the current tenant sees it (global + own, minus switched off)."""

from django.core.exceptions import ValidationError
from django.db.models import F

from models_catalog.models import RESERVED_SLUGS, AIModel, ModelOptOut, slug_validator
from radiant.problems import NotFound


class ModelNotFound(NotFound):
    title = "Model not found"


def model_slug_valid(slug: str) -> bool:
    try:
        slug_validator(slug)
    except ValidationError:
        return False
    return slug not in RESERVED_SLUGS


def _usable(*, statuses):
    return (
        AIModel.objects.filter(is_enabled=True, status__in=statuses)
        .exclude(id__in=ModelOptOut.objects.values("model_id"))
    )


def model_list(*, category: str | None = None, status: str | None = None):
    """The models the tenant may use, by slug; optionally one category and/or status."""
    qs = _usable(statuses=[status] if status else AIModel.LISTED_STATUSES)
    if category:
        qs = qs.filter(category=category)
    return qs.order_by("slug")


def model_get(*, slug: str) -> AIModel:
    """One usable model by slug; 404 for unknown, disabled, switched-off or other tenants'."""
    model = (
        _usable(statuses=AIModel.LISTED_STATUSES)
        .filter(slug=slug)
        .order_by(F("tenant_id").asc(nulls_last=True))  # the tenant's own first, were both to exist
        .first()
    )
    if model is None:
        raise ModelNotFound(f"No model {slug!r}.")
    return model

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


def usable_model_sql() -> str:
    """``model_get``'s rule as one SQL query, for statements that price a call inside the
    database (billing's charge: the model, the debit and the ledger row in one round trip).

    Parameters ``%(slug)s`` and ``%(tenant_id)s``; answers ``slug, input_cost_per_1k,
    output_cost_per_1k`` of the one usable model, or no row. Global or the tenant's own,
    enabled, listed, not switched off by the tenant, the tenant's own first: the same rule
    as ``_usable()`` (a test holds the two to the same answers). The tenant filter is
    explicit, not left to RLS, so the query means the same on every database alias.
    """
    statuses = ", ".join(f"'{status}'" for status in AIModel.LISTED_STATUSES)
    return f"""
SELECT m.slug, m.input_cost_per_1k, m.output_cost_per_1k
  FROM {AIModel._meta.db_table} AS m
 WHERE m.slug = %(slug)s
   AND (m.tenant_id IS NULL OR m.tenant_id = %(tenant_id)s)
   AND m.is_enabled AND m.status IN ({statuses})
   AND NOT EXISTS (SELECT 1 FROM {ModelOptOut._meta.db_table} AS o
                    WHERE o.model_id = m.id AND o.tenant_id = %(tenant_id)s)
 ORDER BY m.tenant_id NULLS LAST
 LIMIT 1"""


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

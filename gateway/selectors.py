"""What the gateway reads: the route of a model the tenant may use, and its fallbacks.

A ``Target`` is everything one upstream call needs, copied out of the ORM rows (prices,
provider settings): a streamed answer is settled after the request's tenant scope has
ended, at the prices read when the call was held for.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, F, OuterRef

from gateway.breaker import Settings
from gateway.models import ModelFallback, Provider
from models_catalog.models import AIModel
from models_catalog.selectors import ModelNotFound, model_list
from radiant.problems import UnprocessableInput


@dataclass(frozen=True)
class ProviderConfig:
    slug: str
    kind: str
    base_url: str
    credential: str
    timeout: float
    connect_timeout: float
    max_retries: int
    breaker: Settings
    enabled: bool


@dataclass(frozen=True)
class Target:
    model: str  # the catalog slug
    category: str
    input_price: Decimal
    output_price: Decimal
    context_window: int
    provider: ProviderConfig
    upstream_model: str
    max_output_tokens: int


def _provider(row: Provider) -> ProviderConfig:
    return ProviderConfig(
        slug=row.slug, kind=row.kind, base_url=row.base_url, credential=row.credential,
        timeout=float(row.timeout_seconds), connect_timeout=float(row.connect_timeout_seconds),
        max_retries=row.max_retries,
        breaker=Settings(threshold=row.breaker_threshold, cooldown_ms=int(row.breaker_cooldown_seconds * 1000)),
        enabled=row.is_enabled,
    )


def _target(model: AIModel) -> Target:
    route = model.route
    return Target(
        model=model.slug, category=model.category, input_price=model.input_cost_per_1k,
        output_price=model.output_cost_per_1k, context_window=model.context_window,
        provider=_provider(route.provider), upstream_model=route.upstream_model or model.slug,
        max_output_tokens=route.max_output_tokens,
    )


def targets_for(*, slug: str, categories: tuple[str, ...]) -> list[Target]:
    """The model ``slug`` as the tenant may use it (404 otherwise, like ``GET models/{slug}``),
    then its usable fallbacks in the operator's order. One query when it has none.

    A model of another category is a 422 on ``model``; a usable model no provider serves
    (no route) is a 404 too: the gateway cannot call it.
    """
    model = (
        model_list().filter(slug=slug)
        .select_related("route__provider")
        .annotate(has_fallbacks=Exists(ModelFallback.objects.filter(route__model=OuterRef("pk"))))
        .order_by(F("tenant_id").asc(nulls_last=True))
        .first()
    )
    if model is None:
        raise ModelNotFound(f"No model {slug!r}.")
    if model.category not in categories:
        raise UnprocessableInput({"model": [f"{slug!r} is a {model.category} model; this endpoint serves {' or '.join(categories)} models."]})
    if not hasattr(model, "route"):
        raise ModelNotFound(f"Model {slug!r} is not served through the gateway.")
    targets = [_target(model)]
    if model.has_fallbacks:
        fallbacks = (
            model_list().filter(fallback_for__route__model=model, category__in=categories, route__isnull=False)
            .select_related("route__provider")
            .annotate(position=F("fallback_for__position"))
            .order_by("position")
        )
        targets += [_target(row) for row in fallbacks]
    return targets

"""What the gateway reads: the route of a model the tenant may use, and its fallbacks.

A ``Target`` is everything one upstream call needs, copied out of the ORM rows (prices,
provider settings): a streamed answer is settled after the request's tenant scope has
ended, at the prices read when the call was held for.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connections

from gateway.breaker import Settings
from models_catalog.selectors import ModelNotFound
from radiant import tenancy
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


# One statement for the model and its fallbacks: on the hot path of every call, where the
# ORM's compilation of the same query cost more CPU than the rest of the call. The rules of
# "usable by the tenant" are the catalog's (models_catalog.selectors): global or the
# tenant's own (the tenant's first), enabled, active or deprecated, not switched off by the
# tenant; on PostgreSQL the tenant alias's RLS enforces the tenant part again.
# tests/gateway/test_api.py holds each rule.
_USABLE = (
    "(m.tenant_id IS NULL OR m.tenant_id = %s) AND m.is_enabled AND m.status IN ('active', 'deprecated')"
    " AND NOT EXISTS (SELECT 1 FROM models_catalog_modeloptout o WHERE o.model_id = m.id AND o.tenant_id = %s)"
)
_SELECT = (
    "m.slug, m.category, m.input_cost_per_1k, m.output_cost_per_1k, m.context_window,"
    " r.id, r.upstream_model, r.max_output_tokens, p.slug, p.kind, p.base_url, p.credential,"
    " p.timeout_seconds, p.connect_timeout_seconds, p.max_retries, p.breaker_threshold,"
    " p.breaker_cooldown_seconds, p.is_enabled"
)
_MODEL_SQL = (
    f"SELECT {_SELECT}, EXISTS (SELECT 1 FROM gateway_modelfallback f WHERE f.route_id = r.id)"
    " FROM ai_models m LEFT JOIN gateway_modelroute r ON r.model_id = m.id"
    " LEFT JOIN gateway_provider p ON p.id = r.provider_id"
    f" WHERE m.slug = %s AND {_USABLE} ORDER BY m.tenant_id IS NULL LIMIT 1"
)
_FALLBACKS_SQL = (
    f"SELECT {_SELECT} FROM gateway_modelfallback f JOIN ai_models m ON m.id = f.fallback_id"
    " JOIN gateway_modelroute r ON r.model_id = m.id JOIN gateway_provider p ON p.id = r.provider_id"
    f" WHERE f.route_id = %s AND {_USABLE} AND m.category IN ({{categories}}) ORDER BY f.position"
)
_SIX = Decimal("0.000001")


def _decimal(value) -> Decimal:
    # SQLite hands a NUMERIC column back as a float; the catalog's values have 6 decimals.
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_SIX)


def _target(row) -> Target:
    (slug, category, input_price, output_price, context_window, _, upstream_model, max_output_tokens,
     provider, kind, base_url, credential, timeout, connect_timeout, retries, threshold, cooldown, enabled) = row[:18]
    return Target(
        model=slug, category=category, input_price=_decimal(input_price), output_price=_decimal(output_price),
        context_window=context_window,
        provider=ProviderConfig(
            slug=provider, kind=kind, base_url=base_url, credential=credential, timeout=float(timeout),
            connect_timeout=float(connect_timeout), max_retries=retries,
            breaker=Settings(threshold=threshold, cooldown_ms=int(_decimal(cooldown) * 1000)), enabled=bool(enabled),
        ),
        upstream_model=upstream_model or slug, max_output_tokens=max_output_tokens,
    )


def targets_for(*, slug: str, categories: tuple[str, ...]) -> list[Target]:
    """The model ``slug`` as the tenant may use it (404 otherwise, like ``GET models/{slug}``),
    then its usable fallbacks in the operator's order. One query when it has none.

    A model of another category is a 422 on ``model``; a usable model no provider serves
    (no route) is a 404 too: the gateway cannot call it.
    """
    tenant = str(tenancy.require_tenant_id())
    with connections[tenancy.db_alias()].cursor() as cursor:
        cursor.execute(_MODEL_SQL, [slug, tenant, tenant])
        row = cursor.fetchone()
        if row is None:
            raise ModelNotFound(f"No model {slug!r}.")
        if row[1] not in categories:
            raise UnprocessableInput({"model": [
                f"{slug!r} is a {row[1]} model; this endpoint serves {' or '.join(categories)} models."
            ]})
        if row[5] is None:
            raise ModelNotFound(f"Model {slug!r} is not served through the gateway.")
        targets = [_target(row)]
        if row[18]:
            cursor.execute(
                _FALLBACKS_SQL.format(categories=", ".join(["%s"] * len(categories))),
                [row[5], tenant, tenant, *categories],
            )
            targets += [_target(fallback) for fallback in cursor.fetchall()]
    return targets

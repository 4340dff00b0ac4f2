"""PostgreSQL: the list query uses the seed's covering index; RLS keeps tenants apart."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connections, transaction

from configuration.models import ConfigOverride
from models_catalog import selectors
from models_catalog.models import AIModel, ModelOptOut
from radiant.tenancy import tenant_scope
from tenants.models import Tenant, Tier
from tests.helpers import make_model

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_model_list_query_uses_the_covering_index(catalog):
    tier = Tier.objects.get(name="starter")
    tenants = Tenant.objects.bulk_create(
        [Tenant(slug=f"bulk-{i}", name=f"Bulk {i}", tier=tier) for i in range(200)]
    )
    AIModel.all_tenants.bulk_create(
        [
            AIModel(
                tenant=tenant, slug=f"private-{j}", display_name=f"Private {j}", provider="acme",
                category=["chat", "code", "embedding"][j % 3], status=["active", "deprecated", "disabled"][j % 3],
                is_enabled=j % 4 != 0, input_cost_per_1k=Decimal("0.001"), output_cost_per_1k=Decimal("0.002"),
                context_window=8000,
            )
            for tenant in tenants
            for j in range(25)
        ],
        batch_size=2000,
    )
    with connections["default"].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ai_models")
        cursor.execute("SELECT count(*) FROM ai_models")
        assert cursor.fetchone()[0] == 5000 + len(catalog)

    # The list query exactly as the endpoint runs it: as the web role, in a tenant's scope.
    with tenant_scope(tenants[7].id):
        assert connections["tenant"].settings_dict["USER"] == "radiant_web"
        plans = [
            selectors.model_list().explain(),
            selectors.model_list(category="chat", status="active").explain(),
        ]
        visible = list(selectors.model_list())

    for plan in plans:
        assert "idx_models_list" in plan, plan
        assert "Seq Scan on ai_models" not in plan, plan
    assert len(visible) == 4 + 12  # the usable globals, and this tenant's own usable ones


def _rows(sql, params=()):
    with connections["tenant"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _refused(sql, params=()):
    try:
        with transaction.atomic(using="tenant"):
            _rows(sql, params)
    except DatabaseError:
        return True
    return False


def test_web_role_sees_only_global_and_own_rows_even_with_raw_sql(catalog, config_entries, tenant, other_tenant):
    make_model("a-private", tenant=tenant)
    make_model("b-private", tenant=other_tenant)
    ModelOptOut.all_tenants.create(tenant=tenant, model=catalog["gpt-4o"])
    ConfigOverride.all_tenants.create(tenant=tenant, entry=config_entries["ui.theme"], value="dark")

    with tenant_scope(other_tenant.id):
        slugs = {slug for (slug,) in _rows("SELECT slug FROM ai_models")}
        assert "b-private" in slugs and "gpt-4o" in slugs
        assert "a-private" not in slugs
        assert _rows("SELECT count(*) FROM models_catalog_modeloptout") == [(0,)]
        assert _rows("SELECT count(*) FROM configuration_configoverride") == [(0,)]
        # Writing the catalog or the global configuration, or another tenant's rows, is refused.
        assert _refused("UPDATE ai_models SET input_cost_per_1k = 0")
        assert _refused("UPDATE configuration_configentry SET value = '1'")
        assert _refused(
            "INSERT INTO configuration_configoverride (tenant_id, entry_id, value, created_at, updated_at)"
            " VALUES (%s, %s, '\"light\"', now(), now())",
            [str(tenant.id), config_entries["ui.theme"].id],
        )
        assert _rows("UPDATE configuration_configoverride SET value = '\"light\"' RETURNING id") == []

    assert ConfigOverride.all_tenants.get(tenant=tenant).value == "dark"

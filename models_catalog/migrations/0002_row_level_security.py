"""RLS on the catalog (global rows readable by all tenants) and the seed's covering index.

PostgreSQL only. The covering index is raw SQL because Django would warn about INCLUDE on
SQLite; the list query (models_catalog.selectors.model_list) is served by it.
"""

from django.db import migrations

from radiant.rls import EnableTenantRLS, PostgresOnly

COVERING_INDEX = """
CREATE INDEX idx_models_list ON ai_models (tenant_id, status, is_enabled)
    INCLUDE (display_name, category, input_cost_per_1k);
"""


class Migration(migrations.Migration):
    dependencies = [("models_catalog", "0001_initial")]

    operations = [
        EnableTenantRLS("ai_models", global_rows=True),
        EnableTenantRLS("models_catalog_modeloptout"),
        PostgresOnly(COVERING_INDEX, "DROP INDEX IF EXISTS idx_models_list;"),
    ]

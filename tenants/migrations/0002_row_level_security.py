"""Row-level security for the tenancy tables, the API key lookup, and the seed tiers.

PostgreSQL only (no-ops on SQLite). The web role and its grants are set up after every
migrate by radiant.db_roles, since roles are cluster-wide and grants follow new tables.
"""

from django.db import migrations

from radiant.rls import CREATE_CONTEXT_FUNCTION, DROP_CONTEXT_FUNCTION, EnableTenantRLS, PostgresOnly

API_KEY_LOOKUP = """
CREATE OR REPLACE FUNCTION radiant_api_key_lookup(p_prefix text, p_hash text)
RETURNS TABLE (
    key_id bigint, key_prefix text, expires_at timestamptz, revoked_at timestamptz,
    tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
    tier_name text, rps integer, burst integer, daily_quota bigint,
    rps_override integer, burst_override integer, daily_quota_override bigint
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT k.id, k.prefix::text, k.expires_at, k.revoked_at,
           t.id, t.slug::text, t.name::text, t.status::text,
           r.name::text, r.rps, r.burst, r.daily_quota,
           t.rps_override, t.burst_override, t.daily_quota_override
    FROM tenants_apikey AS k
    JOIN tenants_tenant AS t ON t.id = k.tenant_id
    JOIN tenants_tier AS r ON r.id = t.tier_id
    WHERE k.prefix = p_prefix AND k.key_hash = p_hash
$$;
REVOKE ALL ON FUNCTION radiant_api_key_lookup(text, text) FROM PUBLIC;
"""


def seed_tiers(apps, schema_editor):
    from tenants.services import tier_seed

    tier_seed(tier_model=apps.get_model("tenants", "Tier"))


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        PostgresOnly(CREATE_CONTEXT_FUNCTION, DROP_CONTEXT_FUNCTION),
        EnableTenantRLS("tenants_tenant", column="id"),
        EnableTenantRLS("tenants_membership"),
        EnableTenantRLS("tenants_apikey"),
        PostgresOnly(API_KEY_LOOKUP, "DROP FUNCTION IF EXISTS radiant_api_key_lookup(text, text);"),
        migrations.RunPython(seed_tiers, migrations.RunPython.noop),
    ]

"""Harden the SECURITY DEFINER functions and bind the tenant context to one transaction.

Both functions run as their owner, so every name in them is schema-qualified and their
search path ends with ``pg_temp`` (radiant/rls.py says why). The context signature now
covers ``radiant_tenant_challenge()`` (this connection's pid and this transaction's start),
so a signature cannot be replayed in another transaction or on another connection.
"""

from django.db import migrations

from radiant.rls import CREATE_CONTEXT_FUNCTION, SAFE_SEARCH_PATH, PostgresOnly

API_KEY_LOOKUP = f"""
CREATE OR REPLACE FUNCTION public.radiant_api_key_lookup(p_prefix text, p_hash text)
RETURNS TABLE (
    key_id bigint, key_prefix text, expires_at timestamptz, revoked_at timestamptz,
    tenant_id uuid, tenant_slug text, tenant_name text, tenant_status text,
    tier_name text, rps integer, burst integer, daily_quota bigint,
    rps_override integer, burst_override integer, daily_quota_override bigint
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = {SAFE_SEARCH_PATH}
AS $$
    SELECT k.id, k.prefix::text, k.expires_at, k.revoked_at,
           t.id, t.slug::text, t.name::text, t.status::text,
           r.name::text, r.rps, r.burst, r.daily_quota,
           t.rps_override, t.burst_override, t.daily_quota_override
    FROM public.tenants_apikey AS k
    JOIN public.tenants_tenant AS t ON t.id = k.tenant_id
    JOIN public.tenants_tier AS r ON r.id = t.tier_id
    WHERE k.prefix = p_prefix AND k.key_hash = p_hash
$$;
REVOKE ALL ON FUNCTION public.radiant_api_key_lookup(text, text) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_apikey_invalidating_managers")]

    operations = [
        PostgresOnly(CREATE_CONTEXT_FUNCTION, migrations.RunSQL.noop),
        PostgresOnly(API_KEY_LOOKUP, migrations.RunSQL.noop),
    ]

"""Row-level security as migration operations. PostgreSQL only; no-ops elsewhere.

Policies compare a row's tenant_id with ``radiant_current_tenant()``, a SECURITY DEFINER
function that returns the tenant id set for the current transaction only when its
signature matches the secret in ``radiant_rls_secret`` (readable by the owner alone).
It is wrapped in ``(SELECT ...)`` so PostgreSQL evaluates it once per statement.

The signature covers a *challenge* that names this transaction on this connection: the
backend's pid and the transaction's start time in microseconds, which the server reports
(``radiant_tenant_challenge()``) and recomputes when it checks. A signature seen in
``pg_stat_activity``, a log or an earlier transaction is worthless anywhere else: another
connection has another pid, a later transaction another start time. radiant.tenancy asks
for the challenge and sends the signature as a bound parameter, so it never stands in a
statement's text either.

Every SECURITY DEFINER function here names every table with its schema and runs with
``search_path = pg_catalog, pg_temp``: PostgreSQL looks relation names up in the session's
temporary schema first unless the path lists it, and last, so an unqualified name could be
shadowed by a temporary table of the caller's. (Functions and operators are never looked up
in ``pg_temp``.) The web role may not create temporary tables at all (radiant.db_roles).
"""

from django.db import migrations

CURRENT_TENANT = "(SELECT public.radiant_current_tenant())"

# The function owner's search path: the catalog first, the caller's temporary schema last.
SAFE_SEARCH_PATH = "pg_catalog, pg_temp"

CREATE_CONTEXT_FUNCTION = f"""
CREATE TABLE IF NOT EXISTS public.radiant_rls_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL
);
REVOKE ALL ON public.radiant_rls_secret FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.radiant_tenant_challenge() RETURNS text
LANGUAGE sql STABLE
SET search_path = {SAFE_SEARCH_PATH}
AS $$
    SELECT pg_catalog.pg_backend_pid()::text || ':'
        || (EXTRACT(epoch FROM pg_catalog.transaction_timestamp()) * 1000000)::bigint::text
$$;
REVOKE ALL ON FUNCTION public.radiant_tenant_challenge() FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.radiant_current_tenant() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = {SAFE_SEARCH_PATH}
AS $$
    SELECT CASE
        WHEN s.tid IS NOT NULL AND s.sig IS NOT NULL
         AND s.sig = pg_catalog.encode(pg_catalog.sha256(
                 k.secret
                 || pg_catalog.convert_to(s.tid || '/' || public.radiant_tenant_challenge(), 'UTF8')
                 || k.secret), 'hex')
        THEN s.tid::uuid
    END
    FROM (SELECT NULLIF(pg_catalog.current_setting('app.current_tenant_id', true), '') AS tid,
                 NULLIF(pg_catalog.current_setting('app.tenant_signature', true), '') AS sig) AS s
    LEFT JOIN public.radiant_rls_secret AS k ON k.id = 1
$$;
REVOKE ALL ON FUNCTION public.radiant_current_tenant() FROM PUBLIC;
"""

DROP_CONTEXT_FUNCTION = """
DROP FUNCTION IF EXISTS public.radiant_current_tenant();
DROP FUNCTION IF EXISTS public.radiant_tenant_challenge();
DROP TABLE IF EXISTS public.radiant_rls_secret;
"""


class PostgresOnly(migrations.RunSQL):
    """RunSQL that does nothing on databases other than PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def tenant_policies(table, column="tenant_id", global_rows=False):
    """SQL enabling and forcing RLS on ``table``.

    With ``global_rows`` the rows whose ``column`` is NULL are readable by every tenant and
    writable by none (the operator role bypasses RLS).
    """
    mine = f"{column} = {CURRENT_TENANT}"
    readable = f"({column} IS NULL OR {mine})" if global_rows else mine
    return f"""
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_select ON {table} FOR SELECT USING ({readable});
CREATE POLICY tenant_insert ON {table} FOR INSERT WITH CHECK ({mine});
CREATE POLICY tenant_update ON {table} FOR UPDATE USING ({mine}) WITH CHECK ({mine});
CREATE POLICY tenant_delete ON {table} FOR DELETE USING ({mine});
"""


def drop_tenant_policies(table):
    return f"""
DROP POLICY IF EXISTS tenant_select ON {table};
DROP POLICY IF EXISTS tenant_insert ON {table};
DROP POLICY IF EXISTS tenant_update ON {table};
DROP POLICY IF EXISTS tenant_delete ON {table};
ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
"""


def EnableTenantRLS(table, column="tenant_id", global_rows=False):
    return PostgresOnly(
        tenant_policies(table, column=column, global_rows=global_rows),
        drop_tenant_policies(table),
    )

"""Row-level security as migration operations. PostgreSQL only; no-ops elsewhere.

Policies compare a row's tenant_id with ``radiant_current_tenant()``, a SECURITY DEFINER
function that returns the tenant id set for the current transaction only when its
signature matches the secret in ``radiant_rls_secret`` (readable by the owner alone).
It is wrapped in ``(SELECT ...)`` so PostgreSQL evaluates it once per statement.
"""

from django.db import migrations

CURRENT_TENANT = "(SELECT radiant_current_tenant())"

CREATE_CONTEXT_FUNCTION = """
CREATE TABLE IF NOT EXISTS radiant_rls_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL
);
REVOKE ALL ON radiant_rls_secret FROM PUBLIC;

CREATE OR REPLACE FUNCTION radiant_current_tenant() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT CASE
        WHEN s.tid IS NOT NULL AND s.sig IS NOT NULL
         AND s.sig = encode(sha256(k.secret || convert_to(s.tid, 'UTF8') || k.secret), 'hex')
        THEN s.tid::uuid
    END
    FROM (SELECT nullif(current_setting('app.current_tenant_id', true), '') AS tid,
                 nullif(current_setting('app.tenant_signature', true), '') AS sig) AS s
    LEFT JOIN radiant_rls_secret AS k ON k.id = 1
$$;
REVOKE ALL ON FUNCTION radiant_current_tenant() FROM PUBLIC;
"""

DROP_CONTEXT_FUNCTION = """
DROP FUNCTION IF EXISTS radiant_current_tenant();
DROP TABLE IF EXISTS radiant_rls_secret;
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

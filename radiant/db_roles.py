"""The PostgreSQL web role: created idempotently, granted exactly what the tenant API needs.

Run after every ``migrate`` (post_migrate), so a new table is granted as soon as it exists,
on the real database and on pytest's ``test_…`` database alike. Roles are cluster-wide, so
creating one is guarded; grants are per database. The operator (migrating) role must be
able to create roles, and must be a superuser or BYPASSRLS since RLS is forced on owners.

What the web role gets is decided by each model's ``web_privileges`` attribute: tenant-owned
models get DML under RLS, global reference tables get SELECT, everything else (users,
sessions, admin log, migrations, the RLS secret) gets nothing.
"""

import logging

from django.apps import apps
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

WEB_FUNCTIONS = [
    "public.radiant_current_tenant()",
    "public.radiant_tenant_challenge()",
    "public.radiant_api_key_lookup(text, text)",
]


def on_post_migrate(sender, using="default", **kwargs):
    if sender.name != "tenants":  # once per migrate run is enough
        return
    if "plan" not in kwargs:
        return  # sent by flush (tests empty tables between cases): nothing to grant
    connection = connections[using]
    if connection.vendor != "postgresql" or "tenant" not in settings.DATABASES:
        return
    setup_web_role(using)


def web_tables():
    """(table, privileges) for every installed model the web role may touch."""
    granted = []
    for model in apps.get_models():
        privileges = getattr(model, "web_privileges", None)
        if privileges and not model._meta.proxy and model._meta.managed:
            granted.append((model._meta.db_table, privileges))
    return sorted(granted)


def setup_web_role(using="default"):
    from psycopg import sql  # PostgreSQL only; not imported at startup (Lambda cold start)

    role = settings.TENANT_DB_ROLE
    password = settings.DATABASES["tenant"].get("PASSWORD") or None
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            try:
                cursor.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
                    .format(sql.Identifier(role)).as_string()
                )
            except Exception as exc:  # another database's migrate created it meanwhile
                if "already exists" not in str(exc):
                    raise
        # Whatever created it, the web role never lifts RLS. (Altered only when needed: the
        # role is cluster-wide, and concurrent migrate runs would race on it.)
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone()[0]:
            cursor.execute(
                sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(role)).as_string()
            )
        if password:
            cursor.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}")
                .format(sql.Identifier(role), sql.Literal(password)).as_string()
            )
        ident = sql.Identifier(role).as_string()
        cursor.execute("SELECT current_database()")
        database = sql.Identifier(cursor.fetchone()[0]).as_string()
        cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {ident}")
        # The web role creates nothing, anywhere: no schema, no table, no temporary table.
        # (PUBLIC holds TEMPORARY on every new database, and CREATE on public before
        # PostgreSQL 15; a temporary table could shadow a name a SECURITY DEFINER function
        # forgot to qualify, see radiant/rls.py.)
        cursor.execute(f"REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM PUBLIC, {ident}")
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%'"
                       " AND nspname <> 'information_schema'")
        for (schema,) in cursor.fetchall():
            schema_ident = sql.Identifier(schema).as_string()
            cursor.execute(f"REVOKE CREATE ON SCHEMA {schema_ident} FROM PUBLIC, {ident}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {ident}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ident}")
        for table, privileges in web_tables():
            table_ident = sql.Identifier(table).as_string()
            cursor.execute(f"GRANT {privileges} ON {table_ident} TO {ident}")
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            if sequence and "INSERT" in privileges:
                cursor.execute(f"GRANT USAGE ON SEQUENCE {sequence} TO {ident}")
        for function in WEB_FUNCTIONS:
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {ident}")
        # The secret the context signature is checked against; the web role cannot read it.
        cursor.execute(
            "INSERT INTO radiant_rls_secret (id, secret) VALUES (1, %s)"
            " ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret",
            [settings.RLS_CONTEXT_SECRET],
        )
    logger.info("web role %s granted on %d tables", role, len(web_tables()))

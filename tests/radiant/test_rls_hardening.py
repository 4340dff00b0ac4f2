"""Attacks on row-level security from SQL running as the web role (PostgreSQL only).

The web role may be made to run any SQL (an injection, a compromised dependency): these tests
run the attacks themselves and pass only if each one fails.
"""

import hashlib
import re
import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from radiant import tenancy
from radiant.tenancy import tenant_scope
from tenants.models import ApiKey

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def web_connection() -> psycopg.Connection:
    """A connection of the web role's own, outside Django (another session). Autocommit:
    each statement sees pg_stat_activity afresh (a transaction keeps its first snapshot)."""
    params = connections[settings.TENANT_DB_ALIAS].get_connection_params()
    params.pop("cursor_factory", None)
    return psycopg.connect(**params, autocommit=True)


def owner_connection() -> psycopg.Connection:
    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    return psycopg.connect(**params)


def rows_of(conn, tenant_id) -> int:
    return conn.execute("SELECT count(*) FROM tenants_apikey WHERE tenant_id = %s", [tenant_id]).fetchone()[0]


def test_every_security_definer_function_qualifies_names_and_ends_its_path_with_pg_temp():
    with owner_connection() as conn:
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text, p.proconfig, p.prosrc FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        relations = [name for (name,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        )]

    names = {signature.split("(")[0] for signature, _, _ in functions}
    assert {"radiant_current_tenant", "radiant_api_key_lookup"} <= names
    for signature, config, body in functions:
        paths = [entry.split("=", 1)[1] for entry in config or () if entry.startswith("search_path=")]
        assert paths, f"{signature} sets no search_path"
        assert [part.strip() for part in paths[0].split(",")][-1] == "pg_temp", (signature, paths[0])
        for relation in relations:
            for match in re.finditer(rf"(?<![\w.]){re.escape(relation)}\b", body):
                before = body[max(0, match.start() - 7):match.start()]
                raise AssertionError(f"{signature} names {relation} without its schema: …{before}{relation}")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TEMPORARY TABLE radiant_rls_secret (id integer, secret bytea)",
        "CREATE TABLE public.planted (id integer)",
        "CREATE SCHEMA planted",
        "CREATE FUNCTION public.planted() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        "CREATE VIEW public.planted AS SELECT 1 AS one",
    ],
)
def test_web_role_can_create_nothing(statement):
    with web_connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_web_role_holds_no_create_or_temporary_privilege_anywhere():
    with web_connection() as conn:
        assert conn.execute(
            "SELECT has_database_privilege(current_database(), 'CREATE'),"
            " has_database_privilege(current_database(), 'TEMPORARY')"
        ).fetchone() == (False, False)
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(oid, 'CREATE')"
        ).fetchall()
    assert schemas == []


def test_a_temporary_table_cannot_shadow_the_secret_or_the_keys(tenant, other_tenant, api_client_for):
    """The attack that once worked: shadow radiant_rls_secret with a temporary table whose
    secret the attacker knows, sign the other tenant's id with it, read its rows; and shadow
    tenants_apikey so the key lookup accepts a planted key. The web role cannot even create
    the table; the owner (who can) shows that the functions would not read it anyway."""
    api_client_for(other_tenant)
    with web_connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TEMPORARY TABLE radiant_rls_secret (id integer, secret bytea)")

    with owner_connection() as conn:
        conn.execute("CREATE TEMPORARY TABLE radiant_rls_secret (id integer, secret bytea)")
        conn.execute("INSERT INTO radiant_rls_secret VALUES (1, 'known')")
        conn.execute(
            "CREATE TEMPORARY TABLE tenants_apikey AS SELECT * FROM public.tenants_apikey WITH NO DATA"
        )
        conn.execute(
            "INSERT INTO tenants_apikey (id, tenant_id, name, prefix, key_hash, created_at, updated_at)"
            " VALUES (999999, %s, 'planted', 'planted0', 'planted-hash', now(), now())",
            [other_tenant.id],
        )
        conn.execute("SET search_path = pg_temp, public")  # the attacker's session, shadows first
        with conn.transaction():
            (challenge,) = conn.execute("SELECT public.radiant_tenant_challenge()").fetchone()
            forged = hashlib.sha256(b"known" + f"{other_tenant.id}/{challenge}".encode() + b"known").hexdigest()
            conn.execute(tenancy._SET_CONTEXT_SQL, [str(other_tenant.id), forged])
            assert conn.execute("SELECT public.radiant_current_tenant()").fetchone()[0] is None
        assert conn.execute(
            "SELECT count(*) FROM public.radiant_api_key_lookup('planted0', 'planted-hash')"
        ).fetchone()[0] == 0


def harvest_while_traffic_runs(tenant, api_client_for):
    """Real requests of ``tenant`` run in threads while another web-role session reads what
    every session of the role shows in pg_stat_activity. Returns the statement texts seen."""
    client = api_client_for(tenant)
    done = threading.Event()
    seen: set[str] = set()
    errors = []

    def traffic():
        try:
            while not done.is_set():
                assert client.get("/api/v1/api-keys").status_code == 200
        except Exception as exc:  # reported below: the harvest must have seen real traffic
            errors.append(exc)
            done.set()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        with web_connection() as spy:
            for _ in range(20_000):
                for (query,) in spy.execute(
                    "SELECT query FROM pg_stat_activity"
                    " WHERE usename = current_user AND pid <> pg_backend_pid() AND datname = current_database()"
                ):
                    seen.add(query)
                if any("set_config" in query for query in seen) and any("challenge" in query for query in seen):
                    break
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    return seen


def test_what_other_sessions_show_carries_no_tenant_id_or_signature(make_tenant, api_client_for):
    tenant = make_tenant("busy", tier="enterprise")
    seen = harvest_while_traffic_runs(tenant, api_client_for)

    context_statements = [query for query in seen if "set_config" in query]
    assert context_statements, "the harvest saw no tenant context being set"
    for query in seen:
        assert str(tenant.id) not in query
        assert not re.search(r"[0-9a-f]{64}", query), query
    # Replayed as seen, in another transaction, each statement shows the spy nothing.
    with web_connection() as spy:
        for query in seen:
            if "$" in query or not query.lstrip().upper().startswith("SELECT"):
                continue
            with spy.transaction():
                try:
                    spy.execute(query)
                except psycopg.Error:
                    continue
                assert rows_of(spy, tenant.id) == 0


def test_a_signature_is_worthless_outside_its_own_transaction(tenant, api_client_for):
    """Whatever way a context leaks (a log, an injected SELECT of the settings), it cannot be
    replayed: not in a later transaction on the same connection, not on another one."""
    api_client_for(tenant)
    alias = settings.TENANT_DB_ALIAS
    with tenant_scope(tenant.id):
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('app.current_tenant_id'), current_setting('app.tenant_signature'),"
                " (SELECT count(*) FROM tenants_apikey)"
            )
            tenant_id, signature, visible = cursor.fetchone()
    assert visible == ApiKey.all_tenants.filter(tenant=tenant).count() > 0

    replay = tenancy._SET_CONTEXT_SQL
    with connections[alias].cursor() as cursor:  # the same connection, a later transaction
        cursor.execute("BEGIN")
        cursor.execute(replay, [tenant_id, signature])
        cursor.execute("SELECT count(*) FROM tenants_apikey WHERE tenant_id = %s", [tenant.id])
        assert cursor.fetchone()[0] == 0
        cursor.execute("ROLLBACK")
    with web_connection() as other:  # another connection
        with other.transaction():
            other.execute(replay, [tenant_id, signature])
            assert rows_of(other, tenant.id) == 0

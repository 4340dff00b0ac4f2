"""Row-level security on PostgreSQL: enforced by the database, not only by our queries."""

import uuid

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.db.utils import DatabaseError

from radiant import tenancy
from radiant.tenancy import TenantOwned, tenant_scope
from tenants.models import ApiKey, Membership, Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def tenant_owned_tables():
    """Every table that holds tenant rows: TenantOwned models, plus the tenants table itself."""
    tables = {m._meta.db_table for m in apps.get_models() if issubclass(m, TenantOwned)}
    return sorted(tables | {Tenant._meta.db_table})


def web_cursor():
    return connections[settings.TENANT_DB_ALIAS].cursor()


@pytest.fixture
def two_tenants_with_rows(tenant, other_tenant, api_client_for, django_user_model):
    user = django_user_model.objects.create(username="member")
    for t in (tenant, other_tenant):
        api_client_for(t)
        Membership.all_tenants.create(tenant=t, user=user)
    return tenant, other_tenant


def test_web_role_is_not_superuser_and_cannot_bypass_rls():
    with web_cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, is_super, bypass = cursor.fetchone()

    assert user == settings.TENANT_DB_ROLE
    assert (is_super, bypass) == (False, False)


def test_every_tenant_owned_table_has_rls_enabled_and_forced():
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
            [tenant_owned_tables()],
        )
        found = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}

    assert set(found) == set(tenant_owned_tables())
    assert all(flags == (True, True) for flags in found.values()), found


def test_raw_unfiltered_select_sees_only_the_scoped_tenant(two_tenants_with_rows):
    a, _b = two_tenants_with_rows
    for table in tenant_owned_tables():
        column = "id" if table == Tenant._meta.db_table else "tenant_id"
        with tenant_scope(a.id):
            with web_cursor() as cursor:
                cursor.execute(f"SELECT DISTINCT {column} FROM {table}")  # no WHERE at all
                seen = {row[0] for row in cursor.fetchall()}
        # Exactly a's rows, whether or not this fixture gave the table any (other apps' tables).
        with connections["default"].cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} = %s", [a.id])
            expected = {row[0] for row in cursor.fetchall()}
        assert seen == expected, table


def test_without_context_the_web_role_sees_nothing(two_tenants_with_rows):
    with web_cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenants_apikey")
        assert cursor.fetchone()[0] == 0


def test_web_role_cannot_write_another_tenants_rows(two_tenants_with_rows):
    a, b = two_tenants_with_rows
    with tenant_scope(a.id):
        with web_cursor() as cursor:
            cursor.execute("UPDATE tenants_apikey SET name = 'pwned' WHERE tenant_id = %s", [b.id])
            assert cursor.rowcount == 0
            with pytest.raises(DatabaseError, match="row-level security"):
                with transaction.atomic(using=settings.TENANT_DB_ALIAS):
                    cursor.execute(
                        "INSERT INTO tenants_apikey (tenant_id, name, prefix, key_hash, created_at, updated_at)"
                        " VALUES (%s, 'x', 'zzzzzzzz', 'h', now(), now())",
                        [b.id],
                    )
    assert not ApiKey.all_tenants.filter(name="pwned").exists()


@pytest.mark.parametrize(
    "attack",
    [
        "ALTER TABLE tenants_apikey DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE tenants_apikey NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_select ON tenants_apikey",
        "SET ROLE postgres",
        "ALTER ROLE CURRENT_USER BYPASSRLS",
        "SELECT secret FROM radiant_rls_secret",
        "CREATE OR REPLACE FUNCTION radiant_current_tenant() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'",
    ],
)
def test_web_role_cannot_lift_rls(two_tenants_with_rows, attack):
    a, _ = two_tenants_with_rows
    with tenant_scope(a.id):
        with pytest.raises(DatabaseError):
            with transaction.atomic(using=settings.TENANT_DB_ALIAS):
                with web_cursor() as cursor:
                    cursor.execute(attack)


def test_row_security_off_refuses_instead_of_bypassing(two_tenants_with_rows):
    a, _ = two_tenants_with_rows
    with tenant_scope(a.id):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic(using=settings.TENANT_DB_ALIAS):
                with web_cursor() as cursor:
                    cursor.execute("SET LOCAL row_security = off")
                    cursor.execute("SELECT count(*) FROM tenants_apikey")


def test_switching_tenant_by_sql_is_refused(two_tenants_with_rows):
    a, b = two_tenants_with_rows
    with tenant_scope(a.id):
        with web_cursor() as cursor:
            # An injected statement sets the other tenant's id (it cannot sign it) ...
            cursor.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(b.id)])
            cursor.execute("SELECT DISTINCT tenant_id FROM tenants_apikey")
            assert cursor.fetchall() == []
            # ... or replays tenant A's signature with B's id.
            cursor.execute(
                "SELECT set_config('app.tenant_signature', current_setting('app.tenant_signature'), true)"
            )
            cursor.execute("SELECT count(*) FROM tenants_apikey WHERE tenant_id = %s", [b.id])
            assert cursor.fetchone()[0] == 0


def test_orm_inside_scope_runs_as_web_role_and_operator_alias_is_refused(two_tenants_with_rows):
    a, _ = two_tenants_with_rows
    with tenant_scope(a.id):
        # Even an "unscoped" operator manager cannot cross tenants: the database says no.
        assert {k.tenant_id for k in ApiKey.all_tenants.all()} == {a.id}
        with pytest.raises(tenancy.OperatorDatabaseForbidden):
            list(ApiKey.all_tenants.using("default").all())


def test_scoped_manager_fails_closed_outside_a_scope(two_tenants_with_rows):
    with pytest.raises(tenancy.TenantContextError):
        list(ApiKey.objects.all())


def test_forged_signature_for_a_random_tenant_is_ignored(two_tenants_with_rows):
    a, _ = two_tenants_with_rows
    with web_cursor() as cursor:
        with transaction.atomic(using=settings.TENANT_DB_ALIAS):
            cursor.execute(tenancy._SET_CONTEXT_SQL, [str(a.id), "0" * 64])
            cursor.execute("SELECT radiant_current_tenant(), count(*) FROM tenants_apikey")
            assert cursor.fetchone() == (None, 0)
            other = uuid.uuid4()
            tenancy.set_context(cursor.connection, other)
            cursor.execute("SELECT radiant_current_tenant()")
            assert cursor.fetchone()[0] == other

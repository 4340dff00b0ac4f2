"""Audit records for every mutating path, delivered by a real Celery worker over Redis,
written directly when the broker is unreachable, and never for rolled-back work."""

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from audit.models import AuditLog
from audit.partitions import DEFAULT_PARTITION, partition_name, partitions
from billing import services
from billing.tasks import holds_expire_task
from radiant import tasks as radiant_tasks
from radiant.celery import app as celery_app
from radiant.tenancy import tenant_scope
from tenants.models import Tenant
from tests.billing.conftest import CALL, fund
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def logged(action, **filters):
    return AuditLog.objects.filter(action=action, **filters)


@pytest.fixture
def operator(django_user_model, client):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-not-used")
    client.force_login(user)
    return client


@pytest.fixture
def broker_unreachable():
    """Celery publishes to a port nothing listens on (the broker is down)."""
    from bench.harness import free_port

    conf = celery_app.conf
    saved = conf["broker_write_url"]  # the setting itself (None: writes follow broker_url)
    conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    celery_app.amqp._producer_pool = None
    celery_app._pool = None
    radiant_tasks.broker_reset()
    yield
    conf.broker_write_url = saved
    celery_app.amqp._producer_pool = None
    celery_app._pool = None
    radiant_tasks.broker_reset()


def exercise_every_path(tenant, api_client_for, operator, priced_model, *, worker=True):
    """One mutation through each entry point; returns what to look for."""
    fund(tenant, "5")  # a service call from operator code
    client = api_client_for(tenant)
    charged = client.post("/api/v1/usage", CALL, format="json", HTTP_X_REQUEST_ID="req-audit-1")
    assert charged.status_code == 201
    tier = tenant.tier
    changed = operator.post(
        f"/admin/tenants/tier/{tier.pk}/change/",
        {"name": tier.name, "rps": tier.rps, "burst": tier.burst + 1, "daily_quota": tier.daily_quota or ""},
    )
    assert changed.status_code == 302
    suspended = operator.post(
        "/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [tenant.pk]},
    )
    assert suspended.status_code == 302
    Tenant.objects.filter(pk=tenant.pk).update(name="Bulk Renamed")
    call_command("grant_credits", "--tenant", tenant.slug, "--amount", "2", "--reason", "goodwill", stdout=StringIO())
    with tenant_scope(tenant.id):
        services.hold_reserve(tenant_id=tenant.id, amount=Decimal("1"), ttl=timedelta(microseconds=1))
    # The periodic sweep: on the worker, or (no broker to deliver it) run where it is.
    holds_expire_task.delay() if worker else holds_expire_task.apply()
    return charged.json()["transaction"]["id"]


def expect_every_path(tenant, client_prefix, tx_id):
    assert wait_for(lambda: logged("credits.usage", object_id=tx_id).exists())
    usage = logged("credits.usage", object_id=tx_id).get()
    who = (usage.actor_type, usage.actor, usage.tenant_id, usage.request_id)
    assert who == ("api_key", client_prefix, tenant.id, "req-audit-1")
    assert usage.changes == {"balance": ["5.000000000", "4.992500000"]}
    assert wait_for(lambda: logged("tier.update", changes__burst=[200, 201]).exists())
    admin_edit = logged("tier.update", changes__burst=[200, 201]).get()
    assert (admin_edit.actor_type, admin_edit.actor, admin_edit.tenant_id) == ("operator", "ops", None)
    assert wait_for(lambda: logged("tenant.update", changes__status=["active", "suspended"], actor="ops").exists())
    assert wait_for(lambda: logged("tenant.update", changes__name=["Tenant-A", "Bulk Renamed"]).exists())
    assert wait_for(lambda: logged("credits.grant", actor_type="command", actor="grant_credits").exists())
    assert wait_for(lambda: logged("credithold.expired", actor_type="task", tenant_id=tenant.id).exists())


@pytest.mark.postgres
@pytest.mark.redis
def test_every_mutating_path_is_audited_through_the_worker(celery_worker, tenant, api_client_for, operator, priced_model):
    assert celery_worker is not None
    tx_id = exercise_every_path(tenant, api_client_for, operator, priced_model)
    prefix = next(iter(tenant_keys(tenant)))
    expect_every_path(tenant, prefix, tx_id)


def tenant_keys(tenant):
    from tenants.models import ApiKey

    return ApiKey.all_tenants.filter(tenant=tenant).values_list("prefix", flat=True)


@pytest.mark.postgres
@pytest.mark.redis
def test_with_the_broker_unreachable_every_record_is_written_directly(
    broker_unreachable, tenant, api_client_for, operator, priced_model
):
    before = radiant_tasks.fallback_count()
    tx_id = exercise_every_path(tenant, api_client_for, operator, priced_model, worker=False)
    expect_every_path(tenant, next(iter(tenant_keys(tenant))), tx_id)
    assert radiant_tasks.fallback_count() > before


def test_rolled_back_work_leaves_no_record(celery_worker, tenant):
    with pytest.raises(RuntimeError), transaction.atomic():
        tenant.name = "Never Happened"
        tenant.save()
        raise RuntimeError("rolled back")
    tenant.name = "Happened"
    tenant.save()

    # The committed change is delivered; the rolled-back one, sent before it, never is.
    assert wait_for(lambda: logged("tenant.update", changes__name=["Tenant-A", "Happened"]).exists())
    assert not logged("tenant.update", changes__name=["Tenant-A", "Never Happened"]).exists()


def test_secrets_never_reach_the_log(celery_worker, tenant, api_client_for):
    client = api_client_for(tenant)

    assert wait_for(lambda: logged("apikey.create", object_id=str(client.api_key.pk)).exists())
    row = logged("apikey.create", object_id=str(client.api_key.pk)).get()
    assert client.raw_key not in json.dumps(row.changes)
    assert row.changes["key_hash"] == ["***", "***"]
    assert row.changes["prefix"] == [None, client.api_key.prefix]


@pytest.mark.postgres
def test_a_row_for_a_month_without_partition_lands_in_default_and_create_partitions_moves_it():
    existing = partitions()
    last = max(existing)  # audit_logs_pYYYY_MM
    year, month = int(last[-7:-3]), int(last[-2:])
    future = date(year + (month + 2 > 12), (month + 2 - 1) % 12 + 1, 15)  # two months past the last one
    moment = timezone.make_aware(timezone.datetime(future.year, future.month, future.day, 12))
    row = AuditLog.objects.create(created_at=moment, actor_type="system", action="test.future")

    def where(pk):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT tableoid::regclass::text FROM audit_logs WHERE id = %s", [pk])
            return cursor.fetchone()[0]

    assert where(row.pk) == DEFAULT_PARTITION
    today = timezone.now().date()
    months = (future.year - today.year) * 12 + future.month - today.month
    out = StringIO()
    call_command("create_partitions", "--months", str(months), stdout=out)

    report = {p["partition"]: p for p in json.loads(out.getvalue())["partitions"]}
    assert report[partition_name(future)] == {"partition": partition_name(future), "created": True, "moved": 1}
    assert where(row.pk) == partition_name(future)
    assert AuditLog.objects.filter(pk=row.pk).count() == 1


def test_the_audit_viewer_is_read_only(operator):
    AuditLog.objects.create(actor_type="system", action="test.entry", changes={"x": [1, 2]})
    row = AuditLog.objects.get(action="test.entry")

    assert operator.get("/admin/audit/auditlog/?action=test.entry").status_code == 200
    assert operator.get(f"/admin/audit/auditlog/{row.pk}/change/").status_code == 200
    assert operator.get("/admin/audit/auditlog/add/").status_code == 403
    assert operator.post(f"/admin/audit/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()

"""Periodic operator jobs and their manage.py command (they run on Lambda as scheduled events)."""

import json
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import jobs as audit_jobs
from billing import jobs as billing_jobs
from radiant import jobs
from tenants import jobs as tenant_jobs
from tenants.models import ApiKey
from tenants.services import TenantError, api_key_create, api_key_purge

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _key(tenant, name, **times):
    key, _ = api_key_create(tenant=tenant, name=name)
    if times:
        ApiKey.all_tenants.filter(pk=key.pk).update(**times)
    return key


def test_purge_deletes_only_keys_revoked_or_expired_before_the_cutoff(tenant, other_tenant):
    now = timezone.now()
    _key(tenant, "old-revoked", revoked_at=now - timedelta(days=100))
    _key(other_tenant, "old-expired", expires_at=now - timedelta(days=100))
    _key(tenant, "recently-revoked", revoked_at=now - timedelta(days=10))
    _key(tenant, "expires-later", expires_at=now + timedelta(days=10))
    _key(other_tenant, "live")

    deleted = api_key_purge(before=now - timedelta(days=90))

    assert deleted == 2
    assert set(ApiKey.all_tenants.values_list("name", flat=True)) == {"recently-revoked", "expires-later", "live"}


def test_purge_refuses_a_future_or_naive_cutoff_and_deletes_nothing(tenant):
    _key(tenant, "revoked", revoked_at=timezone.now() - timedelta(days=1))

    with pytest.raises(TenantError, match="future"):
        api_key_purge(before=timezone.now() + timedelta(days=1))
    with pytest.raises(TenantError, match="timezone-aware"):
        api_key_purge(before=datetime(2020, 1, 1))

    assert ApiKey.all_tenants.count() == 1


def test_purge_job_uses_the_retention_setting(tenant, settings):
    settings.API_KEY_RETENTION_DAYS = 7
    _key(tenant, "revoked-8-days-ago", revoked_at=timezone.now() - timedelta(days=8))
    _key(tenant, "revoked-6-days-ago", revoked_at=timezone.now() - timedelta(days=6))

    result = tenant_jobs.purge_stale_api_keys({"detail-type": "Scheduled Event"}, None)

    assert result["deleted"] == 1
    assert list(ApiKey.all_tenants.values_list("name", flat=True)) == ["revoked-6-days-ago"]


def test_purged_key_still_cannot_authenticate(tenant, api_client_for):
    client = api_client_for(tenant)
    ApiKey.all_tenants.filter(pk=client.api_key.pk).update(revoked_at=timezone.now() - timedelta(days=200))
    tenant_jobs.purge_stale_api_keys()

    response = client.get("/api/v1/tenant")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_purge_api_keys_command_prints_json(tenant):
    _key(tenant, "old", revoked_at=timezone.now() - timedelta(days=40))
    out = StringIO()

    call_command("purge_api_keys", "--older-than-days", "30", stdout=out)

    result = json.loads(out.getvalue())
    assert result["deleted"] == 1
    assert datetime.fromisoformat(result["before"]) < timezone.now() - timedelta(days=29)


@pytest.mark.parametrize("days", ["-1", "36501", "99999999999"])
def test_purge_api_keys_command_rejects_bad_ages_and_deletes_nothing(tenant, days):
    _key(tenant, "old", revoked_at=timezone.now() - timedelta(days=400))

    with pytest.raises(CommandError, match="between 0 and 36500"):
        call_command("purge_api_keys", "--older-than-days", days)

    assert ApiKey.all_tenants.count() == 1


def test_clear_expired_sessions_job_keeps_live_sessions():
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    live, expired = SessionStore(), SessionStore()
    live.create()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))

    assert jobs.clear_expired_sessions() == {"job": "clear_expired_sessions", "deleted": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_tasks_bind_to_the_project_celery_app_though_radiant_loads_it_lazily():
    """``import radiant`` no longer loads Celery (Lambda cold start); a task must still never
    fall back to Celery's unconfigured default app (broker amqp://localhost)."""
    import subprocess
    import sys

    from deploy.stage import PROJECT_DIR

    code = (
        "import sys, django; django.setup(); "
        "assert 'celery' not in sys.modules, 'django.setup() imported celery'; "
        "from tenants.tasks import api_key_mark_used; from django.conf import settings; "
        "import radiant; "
        "print(api_key_mark_used.app is radiant.celery_app, api_key_mark_used.app.main, "
        "api_key_mark_used.app.conf.broker_url == settings.CELERY_BROKER_URL)"
    )
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "radiant.settings", "REDIS_URL": "redis://127.0.0.1:6399/0"}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)

    assert result.stdout.split() == ["True", "radiant", "True"], result.stderr


def test_billing_and_audit_jobs_run_as_scheduled_events(make_tenant):
    from decimal import Decimal

    from billing.models import CreditHold
    from billing.services import credits_grant, hold_reserve
    from radiant.tenancy import tenant_scope

    tenant = make_tenant("jobs")
    credits_grant(tenant=tenant, amount="3", reason="test", operator="pytest")
    with tenant_scope(tenant.id):
        hold = hold_reserve(tenant_id=tenant.id, amount=Decimal("2"), ttl=timedelta(microseconds=1))
    event = {"detail-type": "Scheduled Event"}

    assert billing_jobs.release_expired_holds(event, None) == {"job": "release_expired_holds", "released": 1}
    assert CreditHold.all_tenants.get(pk=hold.pk).status == "expired"
    assert billing_jobs.purge_idempotency_keys(event, None) == {"job": "purge_idempotency_keys", "deleted": 0}
    assert audit_jobs.ensure_audit_partitions(event, None)["job"] == "ensure_audit_partitions"

"""Celery tasks take a tenant id and run under that tenant's context, on a real worker."""


import pytest
from django.utils import timezone

from radiant import tenancy
from radiant.tenancy import tenant_scope
from tenants.models import ApiKey
from tenants.tasks import api_key_mark_used
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def last_used(key):
    return ApiKey.all_tenants.get(pk=key.pk).last_used_at


def test_api_request_records_key_use_through_the_worker(celery_worker, tenant, api_client_for):
    client = api_client_for(tenant)

    assert client.get("/api/v1/tenant").status_code == 200

    assert wait_for(lambda: last_used(client.api_key) is not None)


def test_task_runs_as_its_tenant_and_cannot_touch_another_tenants_rows(
    celery_worker, tenant, other_tenant, api_client_for
):
    key_a = api_client_for(tenant).api_key
    key_b = api_client_for(other_tenant).api_key
    at = timezone.now().isoformat()

    # Tenant A's task names B's key id: under A's context that row does not exist.
    api_key_mark_used.delay(tenant_id=str(tenant.id), key_id=key_b.id, at=at)
    api_key_mark_used.delay(tenant_id=str(tenant.id), key_id=key_a.id, at=at)

    assert wait_for(lambda: last_used(key_a) is not None)
    assert last_used(key_b) is None


def test_task_refuses_to_run_for_another_tenant_inside_a_scope(tenant, other_tenant):
    with tenant_scope(tenant.id):
        with pytest.raises(tenancy.TenantContextError):
            api_key_mark_used(tenant_id=str(other_tenant.id), key_id=1, at=timezone.now().isoformat())


@pytest.fixture
def broker_that_hangs_up():
    """A "broker" that accepts each connection and closes it at once; counts connections."""
    import socket
    import threading

    from radiant import tasks as radiant_tasks
    from radiant.celery import app as celery_app

    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            accepted.append(1)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    conf = celery_app.conf
    saved = conf["broker_write_url"]
    conf.broker_write_url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    celery_app.amqp._producer_pool = celery_app._pool = None
    radiant_tasks.broker_reset()
    yield accepted
    server.close()
    conf.broker_write_url = saved
    celery_app.amqp._producer_pool = celery_app._pool = None
    radiant_tasks.broker_reset()


@pytest.mark.redis
def test_a_publish_the_broker_refuses_is_given_up_at_once_and_runs_here(broker_that_hangs_up, tenant):
    """A request waits for one connection attempt, not for kombu's retries (seconds)."""
    from radiant import tasks as radiant_tasks

    before = radiant_tasks.fallback_count()
    with tenant_scope(tenant.pk):
        sent = radiant_tasks.send_or_run(
            api_key_mark_used, {"tenant_id": str(tenant.pk), "key_id": 0, "at": timezone.now().isoformat()}
        )

    assert sent is False
    assert radiant_tasks.fallback_count() == before + 1
    assert len(broker_that_hangs_up) == 1

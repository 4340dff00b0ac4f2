"""Tenant context never outlives its request: not on a persistent connection, not in the pool."""

import pytest
from django.db import connections

from tenants.models import ApiKey
from tests.conftest import own_tenant_alias

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.urls("tests.failing_urls"),
]


@pytest.fixture(params=["persistent", "pool"])
def web_alias(request, settings, transactional_db):
    """Route the tenant API through a connection that is reused across requests."""
    with own_tenant_alias(settings, request.param) as alias:
        yield alias


def finish_request(alias):
    """What the request_finished signal does in a server; returns the backend pid used."""
    connection = connections[alias]
    pid = connection.connection.info.backend_pid
    if connection.settings_dict["CONN_MAX_AGE"] == 0:
        connection.close()  # back to the pool
    return pid


def leftover_context(alias):
    """What a query with no tenant scope sees on that same connection afterwards."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.current_tenant_id', true),"
            " radiant_current_tenant(), (SELECT count(*) FROM tenants_apikey)"
        )
        row = cursor.fetchone()
    finish_request(alias)
    return row


def test_sequential_requests_of_two_tenants_on_one_connection(web_alias, tenant, other_tenant, api_client_for):
    client_a, client_b = api_client_for(tenant), api_client_for(other_tenant)

    first = client_a.get("/test/ok")
    pid_a = finish_request(web_alias)
    second = client_b.get("/test/ok")
    pid_b = finish_request(web_alias)

    assert pid_a == pid_b
    assert first.json() == {"keys": [client_a.api_key.prefix]}
    assert second.json() == {"keys": [client_b.api_key.prefix]}
    assert leftover_context(web_alias) in {("", None, 0), (None, None, 0)}


def test_request_failing_half_way_leaves_no_context(web_alias, tenant, other_tenant, api_client_for):
    client_a, client_b = api_client_for(tenant), api_client_for(other_tenant)
    client_a.raise_request_exception = False

    failed = client_a.get("/test/fail-after-query")
    pid_failed = finish_request(web_alias)
    assert failed.status_code == 500
    assert failed["Content-Type"] == "application/problem+json"

    assert leftover_context(web_alias) in {("", None, 0), (None, None, 0)}
    after = client_b.get("/test/ok")
    assert finish_request(web_alias) == pid_failed
    assert after.json() == {"keys": [client_b.api_key.prefix]}


@pytest.mark.parametrize("path", ["/test/fail-after-write", "/test/refuse-after-write"])
def test_writes_of_a_failed_request_are_rolled_back(web_alias, tenant, api_client_for, path):
    client = api_client_for(tenant)
    client.raise_request_exception = False

    response = client.post(path)
    finish_request(web_alias)

    assert response.status_code in (404, 500)
    assert list(ApiKey.all_tenants.values_list("name", flat=True)) == ["default"]

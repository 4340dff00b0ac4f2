"""Every tenant endpoint: another tenant's objects are 404s and absent from lists."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_api_key_list_shows_only_own_keys(tenant, other_tenant, api_client_for):
    client_a = api_client_for(tenant, name="a-key")
    api_client_for(other_tenant, name="b-key")

    response = client_a.get("/api/v1/api-keys")

    assert response.status_code == 200
    assert [k["name"] for k in response.json()["results"]] == ["a-key"]


def test_other_tenants_key_is_a_404_like_a_missing_one(tenant, other_tenant, api_client_for):
    client_a = api_client_for(tenant)
    client_b = api_client_for(other_tenant)

    own = client_a.get(f"/api/v1/api-keys/{client_a.api_key.prefix}")
    # The same request id on both, so the bodies may be compared byte for byte.
    others = client_a.get(f"/api/v1/api-keys/{client_b.api_key.prefix}", HTTP_X_REQUEST_ID="probe")
    missing = client_a.get("/api/v1/api-keys/zzzzzzzz", HTTP_X_REQUEST_ID="probe")

    assert own.status_code == 200 and own.json()["prefix"] == client_a.api_key.prefix
    assert others.status_code == missing.status_code == 404
    assert others.content == missing.content
    assert others["Content-Type"] == "application/problem+json"


def test_tenant_endpoint_describes_only_the_caller(tenant, other_tenant, api_client_for):
    assert api_client_for(tenant).get("/api/v1/tenant").json()["slug"] == tenant.slug
    assert api_client_for(other_tenant).get("/api/v1/tenant").json()["slug"] == other_tenant.slug

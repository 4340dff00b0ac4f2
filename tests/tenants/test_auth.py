"""Authentication errors are 401 problems that reveal nothing about other tenants."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from tenants.auth import principal_for
from tenants.models import Tenant
from tenants.services import api_key_revoke, tenant_set_status

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert set(body) >= {"type", "title", "status", "detail", "code"}
    return body


def get_tenant(client, header=None):
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client.get("/api/v1/tenant")


def test_missing_key(anon_client):
    body = assert_problem(anon_client.get("/api/v1/tenant"), 401, "not_authenticated")
    assert "credentials" in body["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Basic dXNlcjpwYXNz",
        "Token rad_abcdefgh_" + "x" * 40,
        "Bearer not-a-key",
        "Bearer rad_short_" + "x" * 40,
        "Bearer rad_abcdefgh_tooshort",
        "Bearer xyz_abcdefgh_" + "x" * 40,
        "Bearer rad_abc$efgh_" + "x" * 40,
    ],
)
def test_malformed_keys(anon_client, header):
    assert_problem(get_tenant(anon_client, header), 401, "not_authenticated")


def test_unknown_key(anon_client):
    body = assert_problem(get_tenant(anon_client, "Bearer rad_abcdefgh_" + "x" * 55), 401, "not_authenticated")
    assert body["detail"] == "Invalid API key."


def test_wrong_secret_for_another_tenants_prefix_looks_like_any_unknown_key(tenant, api_client_for, anon_client):
    real = api_client_for(tenant)
    forged = f"rad_{real.api_key.prefix}_" + "x" * 55
    unknown = "rad_zzzzzzzz_" + "x" * 55

    # The same request id on both, so the bodies may be compared byte for byte.
    forged_response = anon_client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {forged}", HTTP_X_REQUEST_ID="probe")
    unknown_response = anon_client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {unknown}", HTTP_X_REQUEST_ID="probe")

    assert forged_response.status_code == unknown_response.status_code == 401
    assert forged_response.content == unknown_response.content


def test_revoked_key(tenant, api_client_for):
    client = api_client_for(tenant)
    assert get_tenant(client).status_code == 200

    api_key_revoke(prefix=client.api_key.prefix)

    body = assert_problem(get_tenant(client), 401, "not_authenticated")
    assert "revoked" in body["detail"]


def test_expired_key(tenant, api_client_for):
    client = api_client_for(tenant, expires_at=timezone.now() + timedelta(seconds=60))
    assert get_tenant(client).status_code == 200
    key = client.api_key
    key.expires_at = timezone.now() - timedelta(seconds=1)  # an operator shortens it
    key.save()

    body = assert_problem(get_tenant(client), 401, "not_authenticated")
    assert "expired" in body["detail"]


def test_key_expires_on_time_even_while_its_auth_entry_is_cached(tenant, api_client_for):
    expires_at = timezone.now() + timedelta(hours=1)
    client = api_client_for(tenant, expires_at=expires_at)
    assert principal_for(client.raw_key).tenant_id == tenant.id  # cached now

    with pytest.raises(AuthenticationFailed, match="expired"):
        principal_for(client.raw_key, now=expires_at + timedelta(seconds=1))


def test_suspended_tenant_gets_403_and_reactivation_restores_access(tenant, api_client_for):
    client = api_client_for(tenant)

    tenant_set_status(tenant=tenant, status=Tenant.Status.SUSPENDED)
    assert_problem(get_tenant(client), 403, "tenant_suspended")

    tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE)
    assert get_tenant(client).status_code == 200


def test_401_carries_www_authenticate(anon_client):
    response = anon_client.get("/api/v1/tenant")
    assert response["WWW-Authenticate"] == "Bearer"


def test_keys_are_stored_hashed(tenant, api_client_for):
    client = api_client_for(tenant)
    key = type(client.api_key).all_tenants.get(pk=client.api_key.pk)
    assert client.raw_key not in (key.key_hash, key.prefix)
    assert client.raw_key.startswith(f"rad_{key.prefix}_")
    assert len(key.key_hash) == 64

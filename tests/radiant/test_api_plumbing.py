"""The API plumbing every endpoint shares: problems for bad requests, a base class hard to bypass."""

import pytest
from django.test import override_settings
from rest_framework.response import Response

from radiant import tenancy
from radiant.api import TenantAPIView

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_wrong_method_is_a_405_problem(tenant, api_client_for):
    response = api_client_for(tenant).put("/api/v1/tenant", {"name": "x"}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"


def test_unknown_api_path_is_a_404_problem(anon_client):
    response = anon_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/nothing", "/api/", "/api/v2/tenant", "/api/v1/"])
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_are_problems_in_development_too(anon_client, path, debug):
    """With DEBUG on (``make run``), never Django's HTML page listing the URL patterns."""
    with override_settings(DEBUG=debug):
        response = anon_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert b"urlpatterns" not in response.content and b"admin/" not in response.content


@pytest.mark.parametrize("header", ["Bearer " + "x" * 10_000, "Bearer rad_abcdefgh_" + "é" * 40, "Bearer \x00\x01"])
def test_hostile_authorization_headers_are_401s(anon_client, header):
    response = anon_client.get("/api/v1/tenant", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_unsupported_accept_is_a_406_problem(tenant, api_client_for):
    response = api_client_for(tenant).get("/api/v1/tenant", HTTP_ACCEPT="text/csv")
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


@pytest.mark.parametrize("attribute", ["get_queryset", "get_object", "initial", "dispatch", "queryset", "permission_classes"])
def test_endpoints_cannot_replace_tenant_resolution(attribute):
    with pytest.raises(TypeError, match=attribute):
        type("Sneaky", (TenantAPIView,), {attribute: lambda self: None, "__module__": __name__})


def test_plain_subclass_is_fine():
    class Fine(TenantAPIView):
        def get(self, request):
            return Response({})

    assert Fine.authentication_classes == TenantAPIView.authentication_classes


def test_tenant_scopes_do_not_nest(tenant, other_tenant):
    with tenancy.tenant_scope(tenant.id):
        with pytest.raises(tenancy.TenantContextError):
            with tenancy.tenant_scope(other_tenant.id):
                pass
        assert tenancy.current_tenant_id() == tenant.id
    assert tenancy.current_tenant_id() is None


def test_an_uncached_get_is_conditional_and_its_etag_follows_its_body(tenant, api_client_for):
    from billing.services import credits_grant

    client = api_client_for(tenant)
    first = client.get("/api/v1/credits")
    assert first["Cache-Control"] == "private, max-age=0, stale-while-revalidate=5"
    assert client.get("/api/v1/credits", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    credits_grant(tenant=tenant, amount="5", reason="test", operator="pytest")

    changed = client.get("/api/v1/credits", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert changed.json()["balance"] != first.json()["balance"]

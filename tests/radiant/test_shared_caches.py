"""No shared cache may store a dynamic response: every API and admin answer says ``private``.

CloudFront (and any proxy) honours ``private`` and ``no-store``; the API's own ETag rules
keep their ``max-age``/``stale-while-revalidate`` for the client's private cache.
"""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def directives(response):
    return {part.strip().split("=")[0]: part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_admin_pages_are_never_stored(client, admin_client):
    login = client.get("/admin/login/")
    index = admin_client.get("/admin/")
    changelist = admin_client.get("/admin/tenants/tenant/")

    for response in (login, index, changelist):
        assert response.status_code == 200
        assert {"private", "no-store"} <= directives(response).keys(), response.get("Cache-Control")
        assert "public" not in directives(response)


def test_admin_redirect_for_anonymous_callers_is_not_stored_either(client):
    response = client.get("/admin/tenants/tenant/")

    assert response.status_code == 302
    assert {"private", "no-store"} <= directives(response).keys()


def test_cacheable_api_answers_stay_private_and_keep_their_freshness(api_client_for, tenant):
    response = api_client_for(tenant).get("/api/v1/models")

    assert response.status_code == 200
    seen = directives(response)
    assert "private" in seen and "public" not in seen
    assert "max-age" in seen and "stale-while-revalidate" in seen  # the API's own rule, unchanged
    assert "no-store" not in seen  # ETag revalidation needs the client's private copy


def test_api_answers_without_a_cache_rule_are_not_stored(api_client_for, tenant):
    client = api_client_for(tenant)
    unauthenticated = APIClient().get("/api/v1/tenant")
    not_found = client.get("/api/v1/no-such-thing")
    tenant_answer = client.get("/api/v1/tenant")

    for response in (unauthenticated, not_found, tenant_answer):
        assert "private" in directives(response), (response.status_code, response.get("Cache-Control"))
    assert unauthenticated.status_code == 401 and "no-store" in directives(unauthenticated)
    assert not_found.status_code == 404 and "no-store" in directives(not_found)


def test_a_public_header_set_by_a_view_is_made_private(rf):
    from django.http import HttpResponse

    from radiant.shared_caches import PrivateResponsesMiddleware

    def view(request):
        response = HttpResponse("x")
        response["Cache-Control"] = "public, max-age=300"
        return response

    response = PrivateResponsesMiddleware(view)(rf.get("/api/v1/anything"))

    assert directives(response).keys() == {"private", "max-age"}
    assert directives(response)["max-age"] == "max-age=300"


def test_static_files_stay_cacheable_by_cloudfront(rf, settings):
    from django.http import HttpResponse

    from radiant.shared_caches import PrivateResponsesMiddleware

    def static(request):
        response = HttpResponse("body{}")
        response["Cache-Control"] = "max-age=315360000, public, immutable"
        return response

    response = PrivateResponsesMiddleware(static)(rf.get(f"{settings.STATIC_URL}admin/css/base.abc123.css"))

    assert "public" in directives(response) and "private" not in directives(response)


def test_it_is_the_outermost_middleware(settings):
    # Lambda's client-address middleware may precede it; nothing that sets headers may.
    first = [m for m in settings.MIDDLEWARE if m != "radiant.lambda_gateway.ApiGatewayClientIpMiddleware"][0]
    assert first == "radiant.shared_caches.PrivateResponsesMiddleware"

"""GET models and models/{slug}: what a tenant may use, filters, 404s, HTTP caching."""

import hashlib

import pytest

from models_catalog import services
from tests.helpers import capture_sql, feature_sql, make_model

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def slugs(response):
    assert response.status_code == 200, response.content
    return [model["slug"] for model in response.json()["results"]]


def test_list_has_global_and_own_usable_models_only(catalog, tenant, other_tenant, api_client_for):
    make_model("acme-finetune", tenant=tenant, provider="acme")
    make_model("acme-hidden", tenant=tenant, is_enabled=False)
    make_model("other-private", tenant=other_tenant)
    services.model_opt_out_set(tenant=tenant, model=catalog["embed-v3"], switched_off=True)

    mine = api_client_for(tenant).get("/api/v1/models")
    theirs = api_client_for(other_tenant).get("/api/v1/models")

    assert slugs(mine) == ["acme-finetune", "claude-3.5-sonnet", "gpt-4o", "old-model"]
    assert slugs(theirs) == ["claude-3.5-sonnet", "embed-v3", "gpt-4o", "old-model", "other-private"]


def test_list_item_carries_prices_as_exact_decimal_strings(catalog, tenant, api_client_for):
    results = api_client_for(tenant).get("/api/v1/models").json()["results"]

    claude = next(model for model in results if model["slug"] == "claude-3.5-sonnet")
    assert claude == {
        "slug": "claude-3.5-sonnet",
        "display_name": "Claude-3.5-Sonnet",
        "provider": "anthropic",
        "category": "chat",
        "status": "active",
        "input_cost_per_1k": "0.003000",
        "output_cost_per_1k": "0.015000",
        "context_window": 200000,
        "owner": "global",
    }


def test_filters_by_category_and_status(catalog, tenant, api_client_for):
    client = api_client_for(tenant)

    assert slugs(client.get("/api/v1/models?category=embedding")) == ["embed-v3"]
    assert slugs(client.get("/api/v1/models?status=deprecated")) == ["old-model"]
    assert slugs(client.get("/api/v1/models?category=chat&status=active")) == ["claude-3.5-sonnet", "gpt-4o"]
    assert slugs(client.get("/api/v1/models?category=image")) == []


def test_invalid_filter_is_a_validation_problem(catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    cases = [
        ("category=spaceship", "category"),
        ("category=", "category"),
        ("status=disabled", "status"),  # disabled models are never listed
        ("status=ACTIVE", "status"),
        ("colour=red", "colour"),  # an unknown filter is a mistake, not a no-op
    ]
    for query, field in cases:
        response = client.get(f"/api/v1/models?{query}")

        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "validation_error"
        assert field in body["errors"], query


def test_detail_shows_metadata(catalog, tenant, api_client_for):
    catalog["gpt-4o"].metadata = {"modalities": ["text", "image"]}
    catalog["gpt-4o"].save()

    response = api_client_for(tenant).get("/api/v1/models/gpt-4o")

    assert response.status_code == 200
    assert response.json()["metadata"] == {"modalities": ["text", "image"]}
    assert response.json()["input_cost_per_1k"] == "0.002500"


def test_detail_of_a_model_the_tenant_cannot_use_is_404(catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    for slug in ["retired", "switched-off", "no-such-model", "list", "UPPER", "bad%20slug", "x" * 101]:
        response = client.get(f"/api/v1/models/{slug}")

        assert response.status_code == 404, slug
        assert response.json()["code"] == "not_found"


def test_other_tenants_private_model_is_invisible_cached_or_not(catalog, tenant, other_tenant, api_client_for):
    make_model("secret-model", tenant=other_tenant)
    owner, stranger = api_client_for(other_tenant), api_client_for(tenant)

    for _ in range(2):  # cold, then warm for both tenants
        assert "secret-model" in slugs(owner.get("/api/v1/models"))
        assert owner.get("/api/v1/models/secret-model").status_code == 200
        assert "secret-model" not in slugs(stranger.get("/api/v1/models"))
        assert stranger.get("/api/v1/models/secret-model").status_code == 404

    # Each tenant has entries of its own: both stay warm side by side.
    for client in (owner, stranger):
        with capture_sql() as queries:
            client.get("/api/v1/models")
        assert feature_sql(queries) == []


def test_switched_off_model_is_404_for_that_tenant_only(catalog, tenant, other_tenant, api_client_for):
    services.model_opt_out_set(tenant=tenant, model=catalog["gpt-4o"], switched_off=True)

    assert api_client_for(tenant).get("/api/v1/models/gpt-4o").status_code == 404
    assert api_client_for(other_tenant).get("/api/v1/models/gpt-4o").status_code == 200

    services.model_opt_out_set(tenant=tenant, model=catalog["gpt-4o"], switched_off=False)
    assert api_client_for(tenant).get("/api/v1/models/gpt-4o").status_code == 200


def test_unauthenticated_and_suspended_get_problems(catalog, tenant, api_client_for, anon_client):
    assert anon_client.get("/api/v1/models").status_code == 401
    client = api_client_for(tenant)
    tenant.status = "suspended"
    tenant.save()
    response = client.get("/api/v1/models")
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"


# --- HTTP caching -------------------------------------------------------------------------


def test_get_carries_strong_etag_of_the_body_and_cache_control(catalog, tenant, api_client_for):
    response = api_client_for(tenant).get("/api/v1/models")

    etag = response["ETag"]
    assert etag == '"%s"' % hashlib.blake2b(response.content, digest_size=16).hexdigest()
    assert response["Cache-Control"] == "private, max-age=30, stale-while-revalidate=60"
    assert response["Content-Type"] == "application/json"
    assert "Authorization" in response["Vary"]


def test_if_none_match_with_current_etag_is_304_without_body(catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    etag = client.get("/api/v1/models/gpt-4o")["ETag"]

    for form in ["{etag}", "W/{etag}", '"other", {etag}', "*"]:
        response = client.get("/api/v1/models/gpt-4o", HTTP_IF_NONE_MATCH=form.format(etag=etag))

        assert response.status_code == 304, form
        assert response.content == b""
        assert response["ETag"] == etag
        assert response["Cache-Control"].startswith("private, max-age=")


def test_if_none_match_with_old_etag_gets_the_new_body(catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    old = client.get("/api/v1/models")["ETag"]
    make_model("new-model")

    response = client.get("/api/v1/models", HTTP_IF_NONE_MATCH=old)

    assert response.status_code == 200
    assert response["ETag"] != old
    assert "new-model" in slugs(response)


def test_filtered_lists_are_cached_separately(catalog, tenant, api_client_for):
    client = api_client_for(tenant)

    full = client.get("/api/v1/models")
    embedding = client.get("/api/v1/models?category=embedding")
    full_again = client.get("/api/v1/models")

    assert full["ETag"] != embedding["ETag"]
    assert full_again.content == full.content

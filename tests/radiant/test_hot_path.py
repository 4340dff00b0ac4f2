"""The hot read path: a warm GET runs no SQL and makes one round trip to Redis,
and nothing a process remembers to get there outlives a change to a key, a tenant or a tier."""

import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from radiant import cache_keys, invalidation
from radiant.middleware import MATCHES_KEPT, ApiLane
from tenants import auth
from tenants.models import ApiKey
from tenants.services import api_key_revoke
from tests.helpers import make_model, record_redis_round_trips
from tests.querycount import captured_queries

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

MODELS = "/api/v1/models"


@pytest.fixture
def catalog(tiers):
    make_model("gpt-4o")
    make_model("claude-3.5-sonnet", provider="anthropic")


def warm(client, url=MODELS):
    """Two GETs: the first fills the caches, the second is served from them."""
    assert client.get(url).status_code == 200
    response = client.get(url)
    assert response.status_code == 200
    return response


def auth_lookups(queries):
    return [q["sql"] for q in queries if "radiant_api_key_lookup" in q["sql"] or "tenants_apikey" in q["sql"]]


# --- no SQL, and revocation on the next request ------------------------


def test_warm_get_models_runs_no_sql_on_any_database_alias(catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    before = warm(client)

    with captured_queries() as queries:  # every alias: the operator's and the web role's
        response = client.get(MODELS)

    assert response.status_code == 200
    assert response.content == before.content
    assert {m["slug"] for m in response.json()["results"]} == {"gpt-4o", "claude-3.5-sonnet"}
    assert queries == []


def _revoke_with_the_service(key):
    api_key_revoke(prefix=key.prefix)


def _revoke_in_bulk(key):
    ApiKey.all_tenants.filter(pk=key.pk).update(revoked_at=timezone.now())


def _revoke_with_the_command(key):
    call_command("revoke_api_key", "--prefix", key.prefix, stdout=open("/dev/null", "w"))


def _delete(key):
    ApiKey.all_tenants.filter(pk=key.pk).delete()


@pytest.mark.parametrize("revoke", [_revoke_with_the_service, _revoke_in_bulk, _revoke_with_the_command, _delete])
def test_a_revoked_key_fails_on_the_next_get_models_with_its_auth_cached(catalog, tenant, api_client_for, revoke):
    client, colleague = api_client_for(tenant), api_client_for(tenant)
    warm(client), warm(colleague)
    if settings.REDIS_URL:  # this process remembers the key, on top of Redis's entry for it
        assert auth.api_key_hash(client.raw_key) in auth._remembered

    revoke(client.api_key)

    response = client.get(MODELS)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert colleague.get(MODELS).status_code == 200  # the tenant's other key still works


def test_a_key_moved_to_another_tenant_acts_for_that_tenant_on_the_next_request(tenant, other_tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/tenant")

    key = ApiKey.all_tenants.get(pk=client.api_key.pk)
    key.tenant = other_tenant  # only the ORM can do this (the admin shows it read-only)
    key.save()

    assert client.get("/api/v1/tenant").json()["slug"] == other_tenant.slug


# --- one round trip, and what is remembered is confirmed by it ---------------------------


@pytest.mark.redis
@pytest.mark.parametrize("url", [MODELS, "/api/v1/tenant"])
def test_a_warm_get_makes_one_round_trip_to_redis(catalog, tenant, api_client_for, url, not_near_midnight):
    client = api_client_for(tenant)
    before = warm(client, url)

    with record_redis_round_trips() as trips:
        response = client.get(url)

    assert response.status_code == 200
    assert len(trips) == 1, trips  # key confirmed, rate limit counted, payload read: one write, one read
    assert b"EVALSHA" in trips[0]
    # ... and it was counted (the daily count: the bucket refills between requests)
    assert int(response["X-RateLimit-Daily-Remaining"]) == int(before["X-RateLimit-Daily-Remaining"]) - 1
    if url == MODELS:
        assert f"models:{{{tenant.id}}}:list".encode() in trips[0]


@pytest.mark.redis
def test_a_stale_remembered_key_costs_its_tenant_one_request_not_two(make_tenant, api_client_for, not_near_midnight):
    tenant = make_tenant(tier="free", rps=100, burst=100, daily=100)
    client = api_client_for(tenant)
    first, second = client.get("/api/v1/tenant"), client.get("/api/v1/tenant")
    assert (first["X-RateLimit-Daily-Remaining"], second["X-RateLimit-Daily-Remaining"]) == ("99", "98")

    tenant.name = "Renamed"
    tenant.save()  # replaces the tenant's auth generation: what this process remembers is stale

    third = client.get("/api/v1/tenant")
    assert third.status_code == 200
    assert third.json()["name"] == "Renamed"
    assert third["X-RateLimit-Daily-Remaining"] == "97"  # the stale attempt counted nothing


@pytest.mark.redis
def test_a_process_that_remembers_a_key_obeys_a_change_committed_by_another(tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/tenant")

    # Another process revokes the key: this one sees no signal, only what that process's
    # commit does to Redis.
    with connections["default"].cursor() as cursor:
        cursor.execute("UPDATE tenants_apikey SET revoked_at = now() WHERE id = %s", [client.api_key.pk])
    invalidation.bump(cache_keys.auth_generation(tenant.id))

    response = client.get("/api/v1/tenant")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


@pytest.mark.redis
def test_remembered_keys_expire_with_their_cache_entry(tenant, api_client_for, monkeypatch):
    client = api_client_for(tenant)
    warm(client, "/api/v1/tenant")
    later = time.time() + auth.AUTH_CACHE_TTL + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)

    with captured_queries() as queries:
        assert client.get("/api/v1/tenant").status_code == 200

    assert auth_lookups(queries)  # read again from the database: the safety net holds here too


@pytest.mark.redis
def test_a_dropped_redis_connection_is_replaced_and_the_request_still_served_warm(
    catalog, tenant, api_client_for, private_redis
):
    client = api_client_for(tenant)
    before = warm(client)

    private_redis.drop_clients()  # the connection this thread keeps is closed by the server

    with captured_queries() as queries:
        response = client.get(MODELS)
    assert response.status_code == 200
    assert response.content == before.content
    assert queries == []  # retried on a new connection: no fallback to the database


@pytest.mark.redis
def test_the_hot_path_carries_on_when_redis_restarts(
    catalog, make_tenant, api_client_for, private_redis, not_near_midnight
):
    client = api_client_for(make_tenant(tier="free"))  # 1,000 requests a day
    assert warm(client)["X-RateLimit-Daily-Remaining"] == "998"

    private_redis.restart()  # an empty server: no script, no entries, no counters

    response = client.get(MODELS)
    assert response.status_code == 200
    assert response["X-RateLimit-Daily-Remaining"] == "999"  # counted afresh, by the reloaded script
    assert client.get(MODELS)["X-RateLimit-Daily-Remaining"] == "998"


# --- what the API lane and the negotiation shortcut leave as they were ----------------------


def test_api_responses_keep_security_headers_a_length_and_no_cookies(catalog, tenant, api_client_for):
    response = warm(api_client_for(tenant))

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert int(response["Content-Length"]) == len(response.content)
    assert not response.cookies
    # The admin still gets the browser middleware (a CSRF cookie on its login form).
    assert "csrftoken" in Client().get("/admin/login/").cookies


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; indent=2", "text/html, */*"])
def test_clients_accept_headers_get_the_same_json(catalog, tenant, api_client_for, accept):
    client = api_client_for(tenant)
    reference = warm(client)
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = client.get(MODELS, **extra)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == reference.json()
    assert client.get(MODELS, HTTP_ACCEPT="text/csv").status_code == 406


def test_the_lane_remembers_a_bounded_number_of_paths(db, settings):
    settings.RATELIMIT_ENABLED = False  # anonymous requests: the per-address limit is not under test
    lane = ApiLane(lambda request: HttpResponse("not the lane"))
    factory = RequestFactory()

    statuses = {lane(factory.get(f"/api/v1/models/m-{i}")).status_code for i in range(MATCHES_KEPT + 20)}

    assert statuses == {401}  # every one resolved to the detail view, which wants a key
    assert len(lane.handler._matches) <= MATCHES_KEPT
    assert lane(factory.get("/admin/")).content == b"not the lane"

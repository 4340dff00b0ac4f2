"""The response cache: warm reads cost nothing, changes show on the next request, no stampede,
and the API keeps answering from the database when Redis is gone."""

import logging
import os
import threading
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections, transaction

from bench.harness import free_port
from configuration.models import ConfigEntry
from models_catalog import selectors as catalog_selectors
from models_catalog.models import AIModel
from radiant import cache as response_cache
from radiant import cache_keys, redis_wire
from tests.helpers import (
    capture_sql,
    feature_sql,
    make_model,
    record_cache_calls,
    record_redis_round_trips,
    warm,
)
from tests.redis_servers import cache_settings

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

FEATURE_KEY_PARTS = ("models:", "config:", "i18n:", "version:", "lock:")

WARM_URLS = [
    "/api/v1/models",
    "/api/v1/models?category=chat&status=active",
    "/api/v1/models/gpt-4o",
    "/api/v1/config",
    "/api/v1/config/ui.theme",
    "/api/v1/i18n/de",
]


@pytest.fixture
def reference_data(catalog, config_entries, languages):
    return catalog


def names(response):
    assert response.status_code == 200, response.content
    return {model["slug"]: model["display_name"] for model in response.json()["results"]}


# --- 1. a warm request: no SQL, one cache round trip ---------------------------------------


def test_warm_get_runs_no_sql_and_reads_the_cache_once(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    for url in WARM_URLS:
        with capture_sql() as cold_queries:
            cold = client.get(url)
        assert cold.status_code == 200, url
        assert feature_sql(cold_queries), url  # the first request did go to the database

        with capture_sql() as queries, record_cache_calls() as calls:
            warm = client.get(url)

        assert warm.status_code == 200
        assert warm.content == cold.content
        assert queries == [], url  # no SQL at all: authentication is cached too
        mine = [call for call in calls if any(part in key for key in call[1] for part in FEATURE_KEY_PARTS)]
        assert len(mine) == 1, (url, mine)
        operation, keys = mine[0]
        assert operation == "get_many"
        assert keys[0].split(":")[0] in ("models", "config", "i18n")  # the payload, with its versions
        # (and the key's last-use gate, read in the same MGET)
        assert [key for key in keys[1:] if not key.startswith("auth:")] == [k for k in keys[1:] if k.startswith("version:")]


@pytest.mark.redis
def test_warm_get_is_one_redis_round_trip(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    for url in WARM_URLS:
        client.get(url)

        with record_redis_round_trips() as trips:
            assert client.get(url).status_code == 200

        mine = [trip for trip in trips if any(part.encode() in trip for part in FEATURE_KEY_PARTS)]
        assert len(mine) == 1, (url, mine)
        assert b"MGET" in mine[0]


def test_304_is_answered_from_the_cache_too(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    etag = client.get("/api/v1/models")["ETag"]

    with capture_sql() as queries:
        response = client.get("/api/v1/models", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert feature_sql(queries) == []


# --- 2. every write path reaches the next GET ---------------------------------------------
# (The admin paths are in test_admin.py.)


def test_bulk_queryset_update_shows_on_next_get(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")

    AIModel.all_tenants.filter(provider="openai").update(display_name="Renamed")

    assert names(client.get("/api/v1/models"))["gpt-4o"] == "Renamed"


def test_bulk_create_and_delete_show_on_next_get(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")

    AIModel.all_tenants.bulk_create([AIModel(
        slug="bulk-model", display_name="Bulk", provider="x", category="code",
        input_cost_per_1k="0.001", output_cost_per_1k="0.002", context_window=1000,
    )])
    assert "bulk-model" in names(client.get("/api/v1/models"))

    AIModel.all_tenants.filter(slug="bulk-model").delete()
    assert "bulk-model" not in names(client.get("/api/v1/models"))
    assert client.get("/api/v1/models/bulk-model").status_code == 404


def test_a_private_model_added_for_a_tenant_shows_for_it_alone(reference_data, tenant, other_tenant, api_client_for):
    mine, theirs = api_client_for(tenant), api_client_for(other_tenant)
    warm(mine, "/api/v1/models"), warm(theirs, "/api/v1/models")

    make_model("tenant-a-tuned", tenant=tenant)

    assert "tenant-a-tuned" in names(mine.get("/api/v1/models"))
    assert "tenant-a-tuned" not in names(theirs.get("/api/v1/models"))
    assert theirs.get("/api/v1/models/tenant-a-tuned").status_code == 404


def test_api_put_and_delete_show_on_next_get(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/config")
    warm(client, "/api/v1/config/ui.theme")

    client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")
    assert client.get("/api/v1/config/ui.theme").json()["value"] == "dark"
    assert {i["key"]: i["value"] for i in client.get("/api/v1/config").json()["results"]}["ui.theme"] == "dark"

    client.delete("/api/v1/config/ui.theme")
    assert client.get("/api/v1/config/ui.theme").json()["value"] == "system"


def test_a_global_config_change_reaches_every_tenant(reference_data, tenant, other_tenant, api_client_for):
    clients = [api_client_for(tenant), api_client_for(other_tenant)]
    for client in clients:
        warm(client, "/api/v1/config/chat.max_tokens")

    entry = ConfigEntry.objects.get(key="chat.max_tokens")
    entry.value = 2048
    entry.save()

    for client in clients:
        assert client.get("/api/v1/config/chat.max_tokens").json()["value"] == 2048


def test_a_management_command_change_shows_on_next_get(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")
    warm(client, "/api/v1/i18n/de")

    call_command("seed_demo", stdout=open("/dev/null", "w"), stderr=open("/dev/null", "w"))

    assert "gemini-1.5-pro" in names(client.get("/api/v1/models"))
    assert client.get("/api/v1/i18n/de").json()["translations"]["common.cancel"] == "Abbrechen"


def test_a_rolled_back_change_leaves_the_cache_alone(reference_data, tenant, api_client_for):
    client = api_client_for(tenant)
    before = warm(client, "/api/v1/models")

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            AIModel.all_tenants.filter(slug="gpt-4o").update(display_name="Never")
            raise RuntimeError("abort")

    with capture_sql() as queries:
        after = client.get("/api/v1/models")
    assert after.content == before.content
    assert feature_sql(queries) == []


@pytest.mark.redis
def test_invalidation_is_one_write_whatever_the_number_of_tenants(reference_data, make_tenant, api_client_for):
    tenants = [make_tenant() for _ in range(6)]
    clients = [api_client_for(t) for t in tenants]
    for client in clients:
        warm(client, "/api/v1/models")

    with record_redis_round_trips() as trips:
        AIModel.all_tenants.filter(slug="gpt-4o").update(display_name="GPT-4o (2024-08)")

    assert len(trips) == 1  # one pipeline replacing the catalog's version token
    assert b"version:models:global" in trips[0]
    assert not any(command in trips[0] for command in (b"KEYS", b"SCAN", b"DEL"))
    for client in clients:
        assert names(client.get("/api/v1/models"))["gpt-4o"] == "GPT-4o (2024-08)"


def test_a_lost_version_key_never_brings_back_a_stale_entry(reference_data, tenant, api_client_for):
    """Tokens are random, not counters: a recreated version key cannot match an old entry."""
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")
    with connections["default"].cursor() as cursor:  # a change the cache was not told about
        cursor.execute("UPDATE ai_models SET display_name = %s WHERE slug = %s", ["Behind", "gpt-4o"])

    cache.delete(cache_keys.models_version())  # evicted, or Redis restarted without it

    assert names(client.get("/api/v1/models"))["gpt-4o"] == "Behind"


# --- 3. no stampede when a hot key expires --------------------------------------------------

BURST = 12
# RADIANT_REPEAT=50 runs each stampede test 50 times in a row (a race shows as a failure).
ROUNDS = range(int(os.environ.get("RADIANT_REPEAT", "1")))


def _clients(api_client_for, tenant, count):
    """``count`` clients sharing one API key (so only the first request records its use)."""
    first = api_client_for(tenant)
    clients = [first]
    for _ in range(count - 1):
        client = first.__class__()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {first.raw_key}")
        clients.append(client)
    return clients


def _burst(clients, url, on_response=lambda response: None):
    """Every client GETs ``url`` at once (threads behind a barrier); returns the responses."""
    barrier = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def run(index):
        try:
            barrier.wait(timeout=10)
            responses[index] = clients[index].get(url)
            on_response(responses[index])
        finally:
            connections.close_all()
            redis_wire.release()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def _count_rebuilds(monkeypatch, hold):
    """Count calls of the list selector (one per rebuild); ``hold()`` runs inside each."""
    rebuilds = []
    lock = threading.Lock()
    original = catalog_selectors.model_list

    def counted(**filters):
        with lock:
            rebuilds.append(threading.current_thread().name)
        hold()
        return original(**filters)

    monkeypatch.setattr(catalog_selectors, "model_list", counted)
    return rebuilds


@pytest.mark.parametrize("round_", ROUNDS)
def test_expired_hot_key_is_rebuilt_once_while_the_others_serve_the_stale_copy(
    reference_data, tenant, api_client_for, monkeypatch, round_
):
    clients = _clients(api_client_for, tenant, BURST)
    old = warm(clients[0], "/api/v1/models").content
    with connections["default"].cursor() as cursor:  # so the rebuilt body can be told apart
        cursor.execute("UPDATE ai_models SET display_name = %s WHERE slug = %s", ["Rebuilt", "gpt-4o"])
    # Time passes: the entry is past its TTL, within its grace period.
    real_now = time.time
    monkeypatch.setattr(response_cache, "_now", lambda: real_now() + cache_keys.MODELS_TTL + 1)

    # The rebuilding request holds on until every other request has been answered: were the
    # others waiting for the rebuild instead of serving the stale copy, this would time out.
    answered, others_done = [], threading.Event()
    counter = threading.Lock()

    def on_response(response):
        with counter:
            answered.append(response)
            if len(answered) == BURST - 1:
                others_done.set()

    rebuilds = _count_rebuilds(monkeypatch, lambda: others_done.wait(timeout=30))
    responses = _burst(clients, "/api/v1/models", on_response)

    assert len(rebuilds) == 1
    assert others_done.is_set()
    assert all(response.status_code == 200 for response in responses)
    bodies = [response.content for response in responses]
    assert bodies.count(old) == BURST - 1  # the stale copy, served while one request refreshed it
    (rebuilt,) = [response for response in responses if response.content != old]
    assert names(rebuilt)["gpt-4o"] == "Rebuilt"
    # The refreshed entry is what the next request gets, from the cache.
    with capture_sql() as queries:
        assert names(clients[0].get("/api/v1/models"))["gpt-4o"] == "Rebuilt"
    assert feature_sql(queries) == []


@pytest.mark.parametrize("round_", ROUNDS)
def test_invalidated_hot_key_is_rebuilt_once_and_nobody_gets_the_old_copy(
    reference_data, tenant, api_client_for, monkeypatch, round_
):
    clients = _clients(api_client_for, tenant, BURST)
    warm(clients[0], "/api/v1/models")
    AIModel.all_tenants.filter(slug="gpt-4o").update(display_name="Updated")
    # A waiting request would build the answer itself after WAIT_BUDGET: not while this
    # test holds the rebuild, however slow the machine.
    monkeypatch.setattr(response_cache, "WAIT_BUDGET", 60.0)

    # The rebuild holds on until every other request is waiting for it (none may have
    # found a usable entry: the only one was built under the replaced version).
    waiting, all_waiting = [], threading.Event()
    counter = threading.Lock()
    original_wait = response_cache._wait

    def wait(plan):
        with counter:
            waiting.append(plan.key)
            if len(waiting) == BURST - 1:
                all_waiting.set()
        return original_wait(plan)

    monkeypatch.setattr(response_cache, "_wait", wait)
    rebuilds = _count_rebuilds(monkeypatch, lambda: all_waiting.wait(timeout=30))
    responses = _burst(clients, "/api/v1/models")

    assert len(rebuilds) == 1
    assert all_waiting.is_set()
    assert [names(response)["gpt-4o"] for response in responses] == ["Updated"] * BURST


# --- 4. Redis down or unreachable: answers from the database -------------------------------


def _exercise_every_endpoint(client):
    """The endpoints answer correctly, writes included, with the cache unusable."""
    assert set(names(client.get("/api/v1/models"))) == {"claude-3.5-sonnet", "embed-v3", "gpt-4o", "old-model"}
    assert client.get("/api/v1/models/gpt-4o").json()["input_cost_per_1k"] == "0.002500"
    assert client.get("/api/v1/models/retired").status_code == 404
    assert client.get("/api/v1/i18n/de").json()["translations"]["common.cancel"] == "Cancel"
    response = client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")
    assert response.status_code == 200
    assert client.get("/api/v1/config/ui.theme").json()["value"] == "dark"
    assert client.put("/api/v1/config/ui.theme", {"value": 3}, format="json").status_code == 400
    AIModel.all_tenants.filter(slug="gpt-4o").update(display_name="Changed while down")
    assert names(client.get("/api/v1/models"))["gpt-4o"] == "Changed while down"
    etag = client.get("/api/v1/config")["ETag"]
    assert client.get("/api/v1/config", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_unreachable_redis_answers_from_the_database(reference_data, tenant, api_client_for, settings, caplog):
    client = api_client_for(tenant)
    settings.CACHES = cache_settings(free_port())  # nothing listens there
    caplog.set_level(logging.WARNING, logger="radiant.cache")

    _exercise_every_endpoint(client)

    assert any("cache unavailable" in record.getMessage() for record in caplog.records)
    assert any("invalidation failed" in record.getMessage() for record in caplog.records)


@pytest.mark.redis
def test_redis_stopped_mid_flight_answers_from_the_database(
    reference_data, tenant, api_client_for, private_redis, caplog
):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")  # served from the private Redis

    private_redis.stop()
    caplog.set_level(logging.WARNING, logger="radiant.cache")

    with capture_sql() as queries:
        response = client.get("/api/v1/models")
    assert response.status_code == 200
    assert feature_sql(queries)  # from the database now
    _exercise_every_endpoint(client)
    assert any("cache unavailable" in record.getMessage() for record in caplog.records)

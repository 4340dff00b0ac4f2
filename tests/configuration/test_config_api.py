"""GET config, config/{key}; PUT/DELETE config/{key}: merged view, validation, isolation."""

import json

import pytest

from configuration.models import ConfigEntry, ConfigOverride
from tests.helpers import capture_sql, feature_sql
from tests.querycount import captured_queries

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def merged(client):
    response = client.get("/api/v1/config")
    assert response.status_code == 200, response.content
    return {item["key"]: item for item in response.json()["results"]}


def test_config_lists_every_entry_with_global_values(config_entries, tenant, api_client_for):
    entries = merged(api_client_for(tenant))

    assert sorted(entries) == sorted(config_entries)
    assert entries["chat.max_tokens"] == {
        "key": "chat.max_tokens", "value": 4096, "type": "integer", "source": "global",
        "overridable": True, "description": "chat.max_tokens setting",
    }
    assert entries["moderation.enabled"]["overridable"] is False


VALID_PUTS = [
    ("ui.theme", "dark"),
    ("chat.default_model", ""),
    ("chat.max_tokens", 1),
    ("chat.max_tokens", 32768),
    ("chat.temperature", 1.25),
    ("chat.temperature", 2),
    ("features.streaming", False),
    ("webhooks.retry", {"attempts": 0}),
]


def test_put_sets_an_override_only_this_tenant_sees(config_entries, tenant, other_tenant, api_client_for):
    client, other = api_client_for(tenant), api_client_for(other_tenant)
    merged(client), merged(other)  # both warm

    for key, value in VALID_PUTS:
        response = client.put(f"/api/v1/config/{key}", {"value": value}, format="json")

        assert response.status_code == 200, response.content
        assert response.json()["value"] == value
        assert response.json()["source"] == "tenant"
        assert client.get(f"/api/v1/config/{key}").json()["value"] == value
        assert merged(client)[key]["value"] == value
        # The other tenant still sees the global value, cached or not.
        for _ in range(2):
            assert other.get(f"/api/v1/config/{key}").json()["source"] == "global"
            assert merged(other)[key]["value"] == config_entries[key].value


def test_put_twice_replaces_and_delete_restores_global(config_entries, tenant, api_client_for):
    client = api_client_for(tenant)

    client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")
    client.put("/api/v1/config/ui.theme", {"value": "light"}, format="json")
    assert client.get("/api/v1/config/ui.theme").json()["value"] == "light"
    assert ConfigOverride.all_tenants.filter(tenant=tenant).count() == 1

    assert client.delete("/api/v1/config/ui.theme").status_code == 204
    item = client.get("/api/v1/config/ui.theme").json()
    assert (item["value"], item["source"]) == ("system", "global")
    assert client.delete("/api/v1/config/ui.theme").status_code == 204  # idempotent


def test_get_unknown_key_is_404(config_entries, tenant, api_client_for):
    client = api_client_for(tenant)
    for key in ["no.such.key", "all", "UPPER", "a" * 101]:
        response = client.get(f"/api/v1/config/{key}")
        assert response.status_code == 404, key
        assert response.json()["code"] == "not_found"


def test_delete_of_unknown_or_platform_key_is_refused(config_entries, tenant, api_client_for):
    client = api_client_for(tenant)
    assert client.delete("/api/v1/config/no.such.key").status_code == 404
    response = client.delete("/api/v1/config/moderation.enabled")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_an_override_stops_counting_when_the_operator_makes_the_key_platform_only(
    config_entries, tenant, api_client_for
):
    client = api_client_for(tenant)
    client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")
    entry = config_entries["ui.theme"]
    entry.is_overridable = False
    entry.save()

    item = client.get("/api/v1/config/ui.theme").json()

    assert (item["value"], item["source"]) == ("system", "global")


# --- bad input changes nothing -------------------------------------------------------------

BAD_PUTS = [
    # (key, raw body, content type, status, code, field with an error or None)
    ("chat.max_tokens", {"value": "many"}, None, 400, "validation_error", "value"),
    ("chat.max_tokens", {"value": 4.5}, None, 400, "validation_error", "value"),
    ("chat.max_tokens", {"value": True}, None, 400, "validation_error", "value"),
    ("chat.max_tokens", {"value": 0}, None, 400, "validation_error", "value"),
    ("chat.max_tokens", {"value": -5}, None, 400, "validation_error", "value"),
    ("chat.max_tokens", {"value": 10**30}, None, 400, "validation_error", "value"),
    ("chat.temperature", {"value": 2.5}, None, 400, "validation_error", "value"),
    ("chat.temperature", {"value": "0.5"}, None, 400, "validation_error", "value"),
    ("features.streaming", {"value": "true"}, None, 400, "validation_error", "value"),
    ("features.streaming", {"value": 1}, None, 400, "validation_error", "value"),
    ("ui.theme", {"value": "purple"}, None, 400, "validation_error", "value"),
    ("ui.theme", {"value": None}, None, 400, "validation_error", "value"),
    ("ui.theme", {"value": ["dark"]}, None, 400, "validation_error", "value"),
    ("webhooks.retry", {"value": {"attempts": -1}}, None, 400, "validation_error", "value"),
    ("webhooks.retry", {"value": {"attempts": 1, "extra": 2}}, None, 400, "validation_error", "value"),
    ("chat.default_model", {"value": "x" * 101}, None, 400, "validation_error", "value"),
    ("ui.theme", {"value": "dark", "scope": "all"}, None, 400, "validation_error", "scope"),  # unknown field
    ("ui.theme", {}, None, 400, "validation_error", "value"),
    ("ui.theme", ["dark"], None, 400, "validation_error", None),
    ("ui.theme", "dark", None, 400, "validation_error", None),
    ("ui.theme", b'{"value": "dark"', "application/json", 400, "validation_error", None),  # malformed
    ("ui.theme", b'{"value": NaN}', "application/json", 400, "validation_error", None),
    ("ui.theme", b'{"value": "\xff\xfe"}', "application/json", 400, "validation_error", None),  # bad UTF-8
    ("ui.theme", b"value=dark", "application/x-www-form-urlencoded", 415, "unsupported_media_type", None),
    # oversize: a value over the 8 KiB limit, and a body over the request limit
    ("webhooks.retry", {"value": {"attempts": 1, "pad": "x" * 9000}}, None, 400, "validation_error", "value"),
    ("ui.theme", b'{"value": "' + b"x" * 70_000 + b'"}', "application/json", 413, "payload_too_large", None),
    ("no.such.key", {"value": 1}, None, 404, "not_found", None),
    ("moderation.enabled", {"value": False}, None, 403, "permission_denied", None),
]


def test_bad_put_is_a_problem_and_changes_nothing(config_entries, tenant, api_client_for):
    client = api_client_for(tenant)
    client.put("/api/v1/config/chat.max_tokens", {"value": 100}, format="json")  # an existing override
    before = client.get("/api/v1/config")
    overrides_before = list(ConfigOverride.all_tenants.values_list("entry__key", "value"))

    for key, body, content_type, status, code, field in BAD_PUTS:
        case = f"{key} {body!r:.60}"
        if content_type is None:
            response = client.put(f"/api/v1/config/{key}", json.dumps(body), content_type="application/json")
        else:
            response = client.put(f"/api/v1/config/{key}", body, content_type=content_type)

        assert response.status_code == status, (case, response.content)
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert (problem["code"], problem["status"]) == (code, status), case
        if field:
            assert problem["errors"][field][0], case  # a message saying why
        # Nothing changed: not the rows, and not the cache (the warm list is still served).
        assert list(ConfigOverride.all_tenants.values_list("entry__key", "value")) == overrides_before, case
        with capture_sql() as queries:
            after = client.get("/api/v1/config")
        assert after.content == before.content, case
        assert after["ETag"] == before["ETag"]
        assert feature_sql(queries) == [], case


def test_validation_messages_say_what_is_wrong(config_entries, tenant, api_client_for):
    client = api_client_for(tenant)

    def error(key, value):
        return client.put(f"/api/v1/config/{key}", {"value": value}, format="json").json()["errors"]["value"][0]

    assert error("chat.max_tokens", "many") == "Expected an integer, got a string."
    assert error("chat.max_tokens", 40000) == "Must be at most 32768."
    assert error("ui.theme", "purple") == 'Must be one of: "light", "dark", "system".'
    assert error("ui.theme", None) == "A value is required; null is not allowed."
    assert "too large" in error("chat.default_model", "x" * 9000)
    assert error("webhooks.retry", {"attempts": "3"}).startswith("Does not match the schema at attempts:")


@pytest.mark.postgres
def test_a_put_is_one_service_call_of_a_few_statements(config_entries, tenant, api_client_for):
    """The override and its entry in one query, the write, the commit: no repeated SELECT of
    the entry and no savepoint for an update (authentication is warm: its rows are cached)."""
    client = api_client_for(tenant)
    client.put("/api/v1/config/ui.theme", {"value": "dark"}, format="json")  # exists from now on

    with captured_queries() as queries:
        response = client.put("/api/v1/config/ui.theme", {"value": "light"}, format="json")

    assert response.status_code == 200 and response.json()["value"] == "light"
    statements = [q["sql"] for q in queries]
    assert not any("SAVEPOINT" in sql for sql in statements), statements
    entry_table = f'"{ConfigEntry._meta.db_table}"'
    assert sum(sql.startswith("SELECT") and entry_table in sql for sql in statements) == 1, statements
    assert len(statements) <= 6, statements

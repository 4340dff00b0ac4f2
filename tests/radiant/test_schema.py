"""The OpenAPI schema tells the truth: every response an operation gives, in one style."""

import re

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, ops in schema["paths"].items():
        for method, operation in ops.items():
            yield path, method, operation


def test_every_operation_documents_its_problems_and_the_request_id(schema):
    assert set(schema["components"]["schemas"]["Problem"]["required"]) >= {"type", "title", "status", "code", "request_id"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "406", "414", "429", "503"} | ({"404"} if "{" in path else set())
        if method == "put":
            expected |= {"400", "413", "415"}
        assert expected <= set(responses), (method, path)
        for code, response in responses.items():
            assert response["headers"]["X-Request-ID"]["required"] is True, (method, path, code)
            if code[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (method, path, code)
        assert responses["429"]["headers"]["Retry-After"]["required"] is True
        assert "X-RateLimit-Remaining" in responses[min(c for c in responses if c[0] == "2")]["headers"]


def test_every_get_documents_and_gives_etag_cache_control_and_304(schema, tenant, api_client_for):
    client = api_client_for(tenant)
    gets = [(path, operation) for path, method, operation in operations(schema) if method == "get"]
    assert {path for path, _ in gets} >= {"/api/v1/tenant", "/api/v1/api-keys", "/api/v1/credits",
                                         "/api/v1/credits/transactions", "/api/v1/models", "/api/v1/config"}
    for path, operation in gets:
        ok = operation["responses"]["200"]["headers"]
        assert ok["ETag"]["required"] is True and ok["Cache-Control"]["required"] is True, path
        assert "304" in operation["responses"], path
        assert any(p["name"] == "If-None-Match" for p in operation["parameters"]), path
        if "{" in path:
            continue
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"].startswith("private, max-age="), path
        again = client.get(path, HTTP_IF_NONE_MATCH=response["ETag"])
        assert again.status_code == 304, path
        assert again["ETag"] == response["ETag"] and not again.content, path


def test_one_operation_id_style_and_public_component_names(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9_]+_(list|get|set|clear|create)", i) for i in ids), ids
    names = set(schema["components"]["schemas"])
    assert not [n for n in names if n.endswith(("Input", "Output", "Serializer"))], names


def test_no_internal_docstrings(schema):
    text = str(schema)
    for internal in ("TenantAPIView", "tenant_scope", "Subclasses", "hot path", "selectors", "issue"):
        assert internal not in text, internal


def test_api_keys_list_is_documented_as_it_returns(schema, tenant, api_client_for):
    ok = schema["paths"]["/api/v1/api-keys"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][ok["$ref"].rsplit("/", 1)[1]]
    body = api_client_for(tenant).get("/api/v1/api-keys").json()

    assert component["type"] == "object" and set(component["properties"]) == set(body) == {"results", "next"}


def test_no_null_where_null_is_refused(schema, config_entries, tenant, api_client_for):
    value = schema["components"]["schemas"]["ConfigValue"]["properties"]["value"]
    response = api_client_for(tenant).put("/api/v1/config/chat.max_tokens", {"value": None}, format="json")

    assert not value.get("nullable")
    assert response.status_code == 400 and "value" in response.json()["errors"]

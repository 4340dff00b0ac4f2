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


def test_cached_reads_document_etag_and_304_and_others_do_not(schema, tenant, api_client_for):
    client = api_client_for(tenant)
    for path, method, operation in operations(schema):
        if method != "get" or "{" in path:
            continue
        response = client.get(path)
        documented = "304" in operation["responses"]
        assert documented == response.has_header("ETag"), path
        if documented:
            assert operation["responses"]["200"]["headers"]["ETag"]["required"] is True
            assert client.get(path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


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

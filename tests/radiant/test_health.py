import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_healthz_does_no_io(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_and_cache(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.postgres
def test_readyz_fails_when_the_rls_secret_is_out_of_sync(client, settings):
    settings.RLS_CONTEXT_SECRET = b"rotated-in-the-app-but-not-in-the-database"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/tenant" in paths and "/api/v1/api-keys/{prefix}" in paths
    assert client.get("/api/docs/").status_code == 200

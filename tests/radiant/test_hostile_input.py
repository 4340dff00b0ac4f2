"""Input that once gave a 500 gets a 4xx problem and changes nothing: a NUL in a JSON string,
deep nesting, a NUL in the path or query, a body shorter than its Content-Length, a Host the
deployment does not serve."""

import json
import os
import socket
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.harness import gunicorn
from configuration.models import ConfigEntry, ConfigOverride

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def theme(tiers):
    return ConfigEntry.objects.create(key="ui.theme", value_type="json", value={"mode": "light"}, is_overridable=True)


@pytest.fixture
def client_a(tenant, api_client_for):
    return api_client_for(tenant)


def is_problem(response, status):
    return response.status_code == status and response["Content-Type"] == "application/problem+json"


def nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        '{"value": {"mode": "da\\u0000rk"}}',  # a NUL inside a string value
        '{"value": {"mo\\u0000de": "dark"}}',  # a NUL inside a key
        '{"value": ' + nested(1_000) + "}",
        '{"value": ' + nested(30_000) + "}",
        '{"value": ' + nested(40) + "}",  # past the API's own depth limit
    ],
    ids=["nul-in-value", "nul-in-key", "depth-1000", "depth-30000", "depth-40"],
)
def test_unstorable_json_is_a_400_and_changes_nothing(theme, client_a, body):
    response = client_a.generic("PUT", "/api/v1/config/ui.theme", body, content_type="application/json")

    assert is_problem(response, 400), response.content
    assert response.json()["code"] == "validation_error"
    assert not ConfigOverride.all_tenants.exists()
    assert client_a.get("/api/v1/config/ui.theme").json()["value"] == {"mode": "light"}


def test_nesting_within_the_limit_is_accepted(tiers, client_a):
    ConfigEntry.objects.create(key="ui.layout", value_type="json", value=[], is_overridable=True)
    response = client_a.put("/api/v1/config/ui.layout", {"value": json.loads(nested(20))}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/api-keys/abc%00def",
        "/api/v1/models/gpt%00",
        "/api/v1/config/ui.theme%00",
        "/api/v1/i18n/de%00",
        "/api/v1/models?category=%00chat",
    ],
)
def test_a_nul_in_the_path_or_query_is_a_400(theme, client_a, path):
    assert is_problem(client_a.get(path), 400)
    response = client_a.generic("PUT", path, '{"value": {}}', content_type="application/json")
    assert response.status_code == 400
    assert not ConfigOverride.all_tenants.exists()


def test_an_overlong_url_is_a_414_problem(theme, client_a):
    cursor = "%F1%A8%B9%A4" * 400  # 4,800 characters once encoded
    response = client_a.get(f"/api/v1/models?cursor={cursor}")
    assert is_problem(response, 414)
    assert response.json()["code"] == "uri_too_long"
    response = client_a.generic("PUT", "/api/v1/config/ui.theme?x=" + "a" * 4100, '{"value": {}}',
                                content_type="application/json")
    assert is_problem(response, 414)
    assert not ConfigOverride.all_tenants.exists()


def test_an_unknown_host_is_refused_on_the_api_as_elsewhere(client_a):
    response = client_a.get("/api/v1/tenant", HTTP_HOST="evil.example")
    assert is_problem(response, 400)
    assert client_a.get("/admin/login/", HTTP_HOST="evil.example").status_code == 400


@pytest.fixture(scope="module")
def live_url(django_db_setup):
    """gunicorn (sync workers, as deployed behind a load balancer) on the test database, with a
    short body timeout so the test is quick."""
    from django.conf import settings

    env = {"DJANGO_DEBUG": "0", "LOG_LEVEL": "ERROR", "REQUEST_BODY_TIMEOUT": "1"}
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + settings.DATABASES["default"]["NAME"]))
    with gunicorn(env, workers=1, timeout=60) as url:
        yield url


def send_raw(url, request: bytes, *, wait: float) -> bytes:
    """Send ``request`` and keep the connection open (sending nothing more) for up to
    ``wait`` seconds; return what the server answered."""
    host = urlsplit(url)
    with socket.create_connection((host.hostname, host.port), timeout=wait) as sock:
        sock.sendall(request)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received


def test_a_body_shorter_than_its_content_length_is_a_400_not_a_worker_timeout(live_url):
    request = (
        b"PUT /api/v1/config/ui.theme HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"value":'  # and then nothing: the client stalls with the connection open
    )
    answer = send_raw(live_url, request, wait=20)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "bad_request"

"""The app behind API Gateway, served by Zappa's real Lambda handler, in this process.

Each test loads a stage of the project's zappa_settings.json through Zappa's own CLI code,
writes the ``zappa_settings.py`` that ``zappa package`` would put in the archive, and drives
``zappa.handler.LambdaHandler`` with the events API Gateway and EventBridge send. Nothing
here talks to AWS.
"""

import gzip
import json
import logging
import os
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import Resolver404, clear_script_prefix, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from deploy.stage import load_stage
from tests.lambda_events import API_HOST, response_body, response_cookies, rest_event, scheduled_event

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BASE = f"https://{API_HOST}/dev"


def _split(value):
    return [item.strip() for item in value.split(",") if item.strip()]


@pytest.fixture
def lambda_handler(tmp_path, monkeypatch, settings):
    """start(stage) -> Zappa's LambdaHandler for that stage (reset afterwards, as Zappa's tests do)."""
    from zappa.handler import LambdaHandler

    saved_environ = dict(os.environ)
    root_level = logging.getLogger().level
    modules = []

    def start(stage="dev"):
        cli = load_stage(stage)
        # The stage's Lambda environment configures what settings read per request.
        environment = cli.aws_environment_variables
        settings.ALLOWED_HOSTS = _split(environment["ALLOWED_HOSTS"])
        settings.CSRF_TRUSTED_ORIGINS = _split(environment["CSRF_TRUSTED_ORIGINS"])
        module = f"zappa_settings_{stage}"
        (tmp_path / f"{module}.py").write_text(cli.get_zappa_settings_string())
        monkeypatch.syspath_prepend(str(tmp_path))
        modules.append(module)
        return LambdaHandler(module), cli

    yield start

    LambdaHandler._LambdaHandler__instance = None
    LambdaHandler.settings = None
    LambdaHandler.settings_name = None
    for module in modules:
        sys.modules.pop(module, None)
    os.environ.clear()
    os.environ.update(saved_environ)
    logging.getLogger().setLevel(root_level)
    clear_script_prefix()  # the handler set "/dev/" for this thread


@pytest.fixture
def raw_key(tenant):
    from tenants.services import api_key_create

    return api_key_create(tenant=tenant)[1]


def test_get_tenant_with_api_key_returns_tenant_json(lambda_handler, tenant, raw_key):
    handler, _ = lambda_handler("dev")

    response = handler.handler(rest_event("GET", f"{BASE}/api/v1/tenant", headers={"Authorization": f"Bearer {raw_key}"}), None)

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert not response.get("isBase64Encoded")  # JSON goes to API Gateway as text
    assert json.loads(response_body(response)) == {
        "id": str(tenant.id),
        "slug": "tenant-a",
        "name": "Tenant-A",
        "status": "active",
        "tier": "professional",
        "limits": {"rps": 100, "burst": 200, "daily_quota": 50000},
    }


def _tenant_get_routes():
    """Tenant GET endpoints that exist in this build (others join as their issues land)."""
    candidates = ["/api/v1/tenant", "/api/v1/models", "/api/v1/config", "/api/v1/credits"]
    routes = []
    for path in candidates:
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if match.route.startswith("api/v1/"):  # not the catch-all that answers unknown /api/ paths
            routes.append(path)
    return routes


@pytest.mark.parametrize("path", _tenant_get_routes())
def test_api_get_through_lambda_equals_direct_wsgi(lambda_handler, tenant, raw_key, path):
    """Through API Gateway + Zappa a tenant sees what the app answers directly: status, body,
    content type, and the rate-limit headers whenever the app sends them."""
    handler, _ = lambda_handler("dev")
    direct = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw_key}", HTTP_HOST=API_HOST).get(path, secure=True)

    response = handler.handler(rest_event("GET", f"{BASE}{path}", headers={"Authorization": f"Bearer {raw_key}"}), None)

    assert response["statusCode"] == direct.status_code == 200
    assert json.loads(response_body(response)) == direct.json()
    assert response["headers"]["Content-Type"] == direct["Content-Type"]
    direct_limits = {name for name in direct.headers if name.lower().startswith("x-ratelimit-")}
    assert direct_limits <= set(response["headers"])


def test_bad_api_key_is_a_401_problem_as_text(lambda_handler, tenant):
    handler, _ = lambda_handler("dev")
    bad_key = "rad_abcdefgh_" + "x" * 55

    response = handler.handler(rest_event("GET", f"{BASE}/api/v1/tenant", headers={"Authorization": f"Bearer {bad_key}"}), None)

    assert response["statusCode"] == 401
    assert response["headers"]["Content-Type"] == "application/problem+json"
    # additional_text_mimetypes: problem+json is not base64-encoded as if it were binary.
    assert not response.get("isBase64Encoded")
    problem = json.loads(response["body"])
    assert problem["code"] == "not_authenticated"
    assert problem["status"] == 401
    assert response["headers"]["WWW-Authenticate"] == "Bearer"


def test_unknown_api_path_is_a_404_problem_as_text(lambda_handler):
    handler, _ = lambda_handler("dev")

    response = handler.handler(rest_event("GET", f"{BASE}/api/v1/no-such-thing"), None)

    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert not response.get("isBase64Encoded")
    assert json.loads(response["body"])["code"] == "not_found"


def test_openapi_schema_is_served_as_text(lambda_handler):
    handler, _ = lambda_handler("dev")

    response = handler.handler(rest_event("GET", f"{BASE}/api/schema/", headers={"Accept": "*/*"}), None)

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("application/vnd.oai.openapi")
    assert not response.get("isBase64Encoded")
    assert "/api/v1/tenant" in response["body"]


def test_admin_login_page_links_and_css_carry_the_stage_prefix(lambda_handler):
    handler, _ = lambda_handler("dev")

    redirect = handler.handler(rest_event("GET", f"{BASE}/admin/", headers={"Accept": "text/html"}), None)
    assert redirect["statusCode"] == 302
    assert redirect["headers"]["Location"] == "/dev/admin/login/?next=/dev/admin/"

    page = handler.handler(rest_event("GET", f"{BASE}/admin/login/?next=/dev/admin/", headers={"Accept": "text/html"}), None)
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    html = page["body"]
    assert 'action="/dev/admin/login/?next=%2Fdev%2Fadmin%2F"' in html
    assert 'href="/dev/static/admin/css/base.css"' in html
    # The stage prefix does not hide the admin from the no-shared-cache rule.
    assert {"private", "no-store"} <= {d.strip() for d in page["headers"]["Cache-Control"].split(",")}

    css = handler.handler(rest_event("GET", f"{BASE}/static/admin/css/base.css", headers={"Accept": "text/css"}), None)
    assert css["statusCode"] == 200
    assert css["headers"]["Content-Type"].startswith("text/css")
    assert b"font-family" in response_body(css)


def test_admin_login_form_post_signs_in_through_the_handler(lambda_handler, django_user_model):
    """A request body (base64-encoded by API Gateway), cookies and CSRF under HTTPS and the stage."""
    django_user_model.objects.create_superuser("ops", "ops@example.com", "s3cret-pass")
    handler, _ = lambda_handler("dev")
    login_url = f"{BASE}/admin/login/?next=/dev/admin/"

    page = handler.handler(rest_event("GET", login_url, headers={"Accept": "text/html"}), None)
    csrf_cookie = response_cookies(page)["csrftoken"]
    token = page["body"].split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

    form = f"csrfmiddlewaretoken={token}&username=ops&password=s3cret-pass&next=/dev/admin/"
    posted = handler.handler(
        rest_event(
            "POST", login_url, body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf_cookie}",
                "Origin": f"https://{API_HOST}",
                "Referer": login_url,
            },
        ),
        None,
    )
    assert posted["statusCode"] == 302, posted.get("body", "")[:500]
    assert posted["headers"]["Location"] == "/dev/admin/"
    session = response_cookies(posted)["sessionid"]

    index = handler.handler(
        rest_event("GET", f"{BASE}/admin/", headers={
            "Accept": "text/html", "Cookie": f"csrftoken={csrf_cookie}; sessionid={session}",
        }),
        None,
    )
    assert index["statusCode"] == 200
    assert 'href="/dev/admin/tenants/tenant/"' in index["body"]


def test_collected_static_files_are_served_compressed_and_base64(lambda_handler, settings, tmp_path):
    """What a deployed stage does: collectstatic (compressed storage), WhiteNoise from STATIC_ROOT,
    gzip to clients that accept it, base64 to API Gateway because the body is binary."""
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.WHITENOISE_USE_FINDERS = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "radiant.staticfiles.CompressedStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    handler, _ = lambda_handler("dev")

    response = handler.handler(
        rest_event("GET", f"{BASE}/static/admin/css/base.css", headers={"Accept-Encoding": "gzip", "Accept": "text/css"}),
        None,
    )

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Encoding"] == "gzip"
    assert response["isBase64Encoded"] is True
    assert b"font-family" in gzip.decompress(response_body(response))


def test_client_ip_is_the_api_gateway_source_not_a_forwarded_claim(rf):
    """Zappa's environ takes a spoofable X-Forwarded-For entry; the middleware replaces it."""
    from django.core.handlers.wsgi import WSGIRequest
    from zappa.wsgi import create_wsgi_request

    from radiant.lambda_gateway import ApiGatewayClientIpMiddleware

    # A regional endpoint: the client sent "X-Forwarded-For: 198.51.100.66", API Gateway appended what it saw.
    event = rest_event("GET", f"{BASE}/api/v1/tenant", source_ip="203.0.113.7",
                       headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.7"})
    environ = create_wsgi_request(event, script_name="/dev", binary_support=True)
    environ["lambda.event"] = event
    assert environ["REMOTE_ADDR"] == "198.51.100.66"  # what Zappa alone would give the app

    seen = {}
    middleware = ApiGatewayClientIpMiddleware(lambda request: seen.setdefault("ip", request.META["REMOTE_ADDR"]))
    middleware(WSGIRequest(environ))

    assert seen["ip"] == "203.0.113.7"


def test_bad_keys_are_limited_per_api_gateway_source_ip(lambda_handler, settings):
    """Failed-key budgets follow the event's source IP, whatever X-Forwarded-For claims."""
    settings.RATELIMIT_IP_BURST, settings.RATELIMIT_IP_RPS = 2, 0.001
    handler, _ = lambda_handler("dev")
    bad = {"Authorization": "Bearer rad_abcdefgh_" + "x" * 55, "X-Forwarded-For": "198.51.100.66"}

    def attempt(source_ip):
        event = rest_event("GET", f"{BASE}/api/v1/tenant", headers=bad, source_ip=source_ip)
        return handler.handler(event, None)["statusCode"]

    assert [attempt("203.0.113.7") for _ in range(3)] == [401, 401, 429]
    assert attempt("203.0.113.8") == 401  # another client, same forged header: its own budget


def test_scheduled_events_run_the_periodic_jobs(lambda_handler, tenant, django_user_model):
    """Each ``events`` entry of the stage, delivered as EventBridge delivers it (rule named by Zappa)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    from tenants.models import ApiKey
    from tenants.services import api_key_create

    now = timezone.now()
    expired, live = SessionStore(), SessionStore()
    expired.create()
    live.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=now - timedelta(minutes=1))
    old_revoked, _ = api_key_create(tenant=tenant, name="old-revoked")
    old_expired, _ = api_key_create(tenant=tenant, name="old-expired")
    recent_revoked, _ = api_key_create(tenant=tenant, name="recent-revoked")
    api_key_create(tenant=tenant, name="in-use")
    ApiKey.all_tenants.filter(pk=old_revoked.pk).update(revoked_at=now - timedelta(days=91))
    ApiKey.all_tenants.filter(pk=old_expired.pk).update(expires_at=now - timedelta(days=91))
    ApiKey.all_tenants.filter(pk=recent_revoked.pk).update(revoked_at=now - timedelta(days=2))

    handler, cli = lambda_handler("dev")
    results = {}
    for event in cli.stage_config["events"]:
        rule = cli.zappa.get_scheduled_event_name(event, event["function"], cli.lambda_name)
        results[event["function"]] = handler.handler(scheduled_event(rule), None)

    assert results["radiant.jobs.clear_expired_sessions"] == {"job": "clear_expired_sessions", "deleted": 1}
    assert results["tenants.jobs.purge_stale_api_keys"]["deleted"] == 2
    assert set(Session.objects.values_list("session_key", flat=True)) == {live.session_key}
    assert set(ApiKey.all_tenants.values_list("name", flat=True)) == {"recent-revoked", "in-use"}


def test_the_migrations_function_schedules_the_same_jobs(lambda_handler, tenant):
    """production_migrations carries the jobs in production; its rule names reach the same functions."""
    from tenants.models import ApiKey
    from tenants.services import api_key_create

    key, _ = api_key_create(tenant=tenant, name="ancient")
    ApiKey.all_tenants.filter(pk=key.pk).update(revoked_at=timezone.now() - timedelta(days=400))
    handler, cli = lambda_handler("production_migrations")
    event = next(e for e in cli.stage_config["events"] if e["function"] == "tenants.jobs.purge_stale_api_keys")
    rule = cli.zappa.get_scheduled_event_name(event, event["function"], cli.lambda_name)

    result = handler.handler(scheduled_event(rule), None)

    assert result["deleted"] == 1
    assert not ApiKey.all_tenants.filter(pk=key.pk).exists()


def test_zappa_manage_event_runs_an_operator_command(lambda_handler, tenant):
    """``zappa manage <stage> "purge_api_keys --older-than-days 30"`` sends this event."""
    from tenants.models import ApiKey
    from tenants.services import api_key_create

    key, _ = api_key_create(tenant=tenant, name="revoked-long-ago")
    ApiKey.all_tenants.filter(pk=key.pk).update(revoked_at=timezone.now() - timedelta(days=31))
    handler, _ = lambda_handler("production_migrations")

    assert handler.handler({"manage": "purge_api_keys --older-than-days 30"}, None) == {}

    assert not ApiKey.all_tenants.filter(pk=key.pk).exists()


def test_get_models_with_api_key_returns_the_tenants_catalog(lambda_handler, tenant, other_tenant, raw_key):
    from tests.helpers import make_model

    make_model("gpt-4o")
    make_model("embed-v3", category="embedding")
    make_model("acme-private", tenant=tenant)
    make_model("someone-elses", tenant=other_tenant)
    handler, _ = lambda_handler("dev")
    auth = {"Authorization": f"Bearer {raw_key}"}

    listed = handler.handler(rest_event("GET", f"{BASE}/api/v1/models", headers=auth), None)
    chat = handler.handler(rest_event("GET", f"{BASE}/api/v1/models?category=chat", headers=auth), None)

    assert listed["statusCode"] == 200
    assert not listed.get("isBase64Encoded")
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(listed["headers"])
    body = json.loads(response_body(listed))
    assert [m["slug"] for m in body["results"]] == ["acme-private", "embed-v3", "gpt-4o"]
    assert next(m for m in body["results"] if m["slug"] == "acme-private")["owner"] == "tenant"
    assert [m["slug"] for m in json.loads(response_body(chat))["results"]] == ["acme-private", "gpt-4o"]
    # HTTP caching survives the trip: the ETag comes back, and revalidation is a bodiless 304.
    etag = listed["headers"]["ETag"]
    again = handler.handler(rest_event("GET", f"{BASE}/api/v1/models", headers={**auth, "If-None-Match": etag}), None)
    assert again["statusCode"] == 304
    assert not again.get("body")


def test_put_config_json_body_sets_the_tenants_override(lambda_handler, tenant, raw_key):
    """API Gateway (binary support on) hands Lambda the JSON body base64-encoded; Zappa decodes it."""
    from configuration.models import ConfigEntry

    ConfigEntry.objects.create(key="ui.theme", value_type="string", value="system", is_overridable=True,
                               description="theme", choices=["light", "dark", "system"])
    handler, _ = lambda_handler("dev")
    auth = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}

    put = handler.handler(rest_event("PUT", f"{BASE}/api/v1/config/ui.theme", headers=auth, body='{"value": "dark"}'), None)
    got = handler.handler(rest_event("GET", f"{BASE}/api/v1/config/ui.theme", headers=auth), None)

    assert put["statusCode"] == 200, put.get("body")
    assert json.loads(response_body(put))["value"] == "dark"
    assert json.loads(response_body(got))["source"] == "tenant"
    assert json.loads(response_body(got))["value"] == "dark"


@pytest.mark.parametrize("body", ['{"value": ', b'{"value": "\xff"}', '{"value": "neon"}', '{"value": "dark", "x": 1}'])
def test_bad_put_through_the_handler_is_a_400_problem_and_changes_nothing(lambda_handler, tenant, raw_key, body):
    from configuration.models import ConfigEntry, ConfigOverride

    ConfigEntry.objects.create(key="ui.theme", value_type="string", value="system", is_overridable=True,
                               description="theme", choices=["light", "dark", "system"])
    handler, _ = lambda_handler("dev")
    auth = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}

    response = handler.handler(rest_event("PUT", f"{BASE}/api/v1/config/ui.theme", headers=auth, body=body), None)

    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert not response.get("isBase64Encoded")
    assert json.loads(response["body"])["code"] == "validation_error"
    assert not ConfigOverride.all_tenants.exists()

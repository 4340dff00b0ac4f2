"""The admin in a real browser (Debian's Chromium driven by Playwright): an operator signs in,
issues an API key that works, sees it once, and revokes it."""

import json
import re
import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def page(browser):
    return browser.new_page()


def api_status(base_url, key):
    request = urllib.request.Request(f"{base_url}/api/v1/tenant", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_operator_issues_and_revokes_a_key_in_the_admin(page, live_server, tenant, django_user_model):
    django_user_model.objects.create_superuser("operator", "op@example.com", "correct horse")
    stylesheets = []
    page.on("response", lambda r: stylesheets.append(r.status) if r.url.endswith(".css") else None)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert stylesheets and all(status in (200, 304) for status in stylesheets)

    page.goto(f"{live_server.url}/admin/tenants/apikey/add/")
    page.click("#id_tenant + .select2 .select2-selection")  # the tenant autocomplete
    page.fill(".select2-search__field", tenant.slug)
    page.click(f".select2-results__option:has-text('{tenant.slug}')")
    page.fill("#id_name", "browser-key")
    page.click("input[name=_save]")
    raw = re.search(r"rad_[a-z0-9]{8}_[\w-]{55}", page.inner_text("#new-api-key")).group(0)
    assert all(raw not in cookie["value"] for cookie in page.context.cookies())

    status, body = api_status(live_server.url, raw)
    assert (status, body["slug"]) == (200, tenant.slug)

    page.goto(f"{live_server.url}/admin/tenants/apikey/")
    assert raw not in page.content()  # shown once, never again
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "revoke")
    page.click("button[name=index]")
    assert "Revoked 1 API key" in page.inner_text("ul.messagelist")

    status, body = api_status(live_server.url, raw)
    assert (status, body["code"]) == (401, "not_authenticated")

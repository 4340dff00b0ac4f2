"""/api/docs/ in a real browser, offline: Swagger UI comes from our own static files (the
pinned drf-spectacular-sidecar), loads the schema and shows every operation, with no
request failing and nothing logged as an error."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_api_docs_render_every_operation_offline(live_server, browser):
    failed, errors, outside = [], [], []
    page = browser.new_page()

    def route(route):  # offline: anything not served by the app fails, and is noted
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()

    assert outside == [] and failed == [] and errors == []
    for path in ("/api/v1/tenant", "/api/v1/api-keys", "/api/v1/models", "/api/v1/config/{key}", "/api/v1/i18n/{language}"):
        assert any(shown.replace("\u200b", "") == path for shown in paths), (path, paths)

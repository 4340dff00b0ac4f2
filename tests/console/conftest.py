"""The console in a real browser: Debian's Chromium driven by Playwright against the live
server, signed in as an operator or a support user (Django groups, not superusers).

Every page a test opens is watched: a console error, an uncaught exception, a failed
request or a response of 400 or more fails the test when it ends (a test that expects a
refusal says so with ``page.expect_refusals``). Screenshots of the main pages are written to
``RADIANT_SCREENSHOTS`` (default ``artifacts/screenshots``, git-ignored)."""

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.billing.conftest import priced_model  # noqa: F401  (a fixture)

VIEWPORT = {"width": 1366, "height": 768}  # the laptop screen the console must fit
PASSWORD = "a long test passphrase"
SCREENSHOTS = Path(os.environ.get("RADIANT_SCREENSHOTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))


class Watched:
    """A signed-in page and what went wrong on it."""

    def __init__(self, page, base_url):
        self.page, self.base_url = page, base_url
        self.problems, self.allowed = [], set()
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

        def offline(route):  # nothing but the app itself may be asked for anything
            if route.request.url.startswith(base_url):
                route.continue_()
            else:
                self.problems.append(f"outside request: {route.request.url}")
                route.abort()

        page.route("**/*", offline)

    def _failed(self, request):
        # ERR_ABORTED: the browser dropped a request of a page it was leaving (a favicon,
        # mostly); requests the app failed show as responses, ones sent elsewhere as outside.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _response(self, response):
        path = response.url[len(self.base_url):]
        if response.status >= 400 and (response.status, path) not in self.allowed:
            self.problems.append(f"{response.status} {response.url}")

    def expect_refusals(self, *pairs):
        """``(status, path)`` responses this test provokes on purpose."""
        self.allowed.update(pairs)

    def open(self, path, *, screenshot=None):
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)
        return response

    def sign_in(self, username):
        self.open("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#user-tools")
        return self

    def csrf_post(self, path, data):
        """A form POST with this session's cookie and CSRF token, as a forged form would send it."""
        token = next(c["value"] for c in self.page.context.cookies() if c["name"] == "csrftoken")
        return self.page.request.post(
            self.base_url + path, form=data, headers={"X-CSRFToken": token, "Referer": self.base_url + path},
            max_redirects=0,
        )

    def fits(self) -> bool:
        """No horizontal scrolling: neither the page nor a changelist's table is wider than its box."""
        return self.page.evaluate(
            """() => {
                const page = document.documentElement.scrollWidth <= window.innerWidth;
                const results = document.querySelector('#changelist .results');
                return page && (!results || results.scrollWidth <= results.clientWidth);
            }"""
        )


@pytest.fixture
def console(browser, live_server):
    """``console(user)`` -> a Watched page signed in as ``user``; problems fail the test."""
    opened = []

    def open_as(user):
        watched = Watched(browser.new_context(viewport=VIEWPORT).new_page(), live_server.url)
        opened.append(watched)
        return watched.sign_in(user.username)

    yield open_as
    problems = [p for watched in opened for p in watched.problems]
    for watched in opened:
        watched.page.context.close()
    assert problems == []


def _staff(django_user_model, username, group):
    from django.contrib.auth.models import Group

    from console.roles import roles_ensure

    roles_ensure()
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator_user(django_user_model, tiers):
    return _staff(django_user_model, "olivia", "Operator")


@pytest.fixture
def support_user(django_user_model, tiers):
    return _staff(django_user_model, "sam", "Support")


def api_call(base_url, key, path="tenant", *, method="GET", body=None):
    """(status, headers, JSON body) of one API call."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base_url}/api/v1/{path}", data=data, method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())

"""The tenant API's own lane through the middleware stack (the hot read path).

Every request to ``/api/v1/`` is authenticated by API key, never by cookie. The middleware
that exists for browsers (static files, sessions, Django's user, messages, CSRF) has nothing
to do for it, yet costs each API request about as much as Django's own request handling
does. ``ApiLane`` sits right after ``SecurityMiddleware``: for ``/api/v1/`` requests it runs
the middleware that follows it in ``MIDDLEWARE`` *except* the browser-only classes below,
and then the view; every other path (admin, docs, health) goes through the full stack
unchanged.

Why skipping these changes nothing a client of the API sees:

- sessions and ``AuthenticationMiddleware``: the API does not read ``request.session``
  and DRF sets ``request.user`` from the API key (no cookie can authenticate an API call);
- CSRF: DRF views are ``csrf_exempt``, and without sessions there is no cookie
  authentication for a forged request to ride on;
- messages, WhiteNoise: nothing to show, no static files under ``/api/v1/``;
- ``CommonMiddleware``: its slash redirect can never fire there (no ``/api/v1/`` route ends
  in a slash, so appending one never makes a path valid) but it resolves the URL once more
  per request to find that out; ``PREPEND_WWW`` and ``DISALLOWED_USER_AGENTS`` are not used.
  The one thing it does for API responses, ``Content-Length``, the lane does itself.

Middleware not listed (security headers, X-Frame-Options, whatever a deployment inserts,
such as the Lambda client-address middleware) runs for API requests as before, in order.
"""

from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import UnreadablePostError
from django.urls import get_resolver, set_urlconf
from django.utils.module_loading import import_string

from radiant.problems import json_problem

API_PREFIX = "/api/v1/"
MATCHES_KEPT = 512

BROWSER_ONLY = frozenset({
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",  # guards the admin's sign-in; API keys have their own limit
})


class _Lane(BaseHandler):
    """Django's request handling (URL resolution, the view, exception handling) wrapped in
    the given middleware, built like ``BaseHandler.load_middleware`` does (synchronous)."""

    def __init__(self, middleware_paths):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(middleware_paths):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self.chain = handler
        self._matches = {}

    def resolve_request(self, request):
        """``BaseHandler.resolve_request``, remembering the match of each path: resolving
        walks every pattern in front of ours (admin, docs, ...) on every request. Keyed by
        the resolver, so a changed urlconf starts afresh; misses (404) are not kept; bounded
        (paths carry client input)."""
        urlconf = getattr(request, "urlconf", None)
        if urlconf is not None:
            set_urlconf(urlconf)
        resolver = get_resolver(urlconf)
        key = (resolver, request.path_info)
        match = self._matches.get(key)
        if match is None:
            match = resolver.resolve(request.path_info)
            if len(self._matches) >= MATCHES_KEPT:
                self._matches.clear()
            self._matches[key] = match
        request.resolver_match = match
        return match


class ApiLane:
    """For ``/api/v1/`` requests, the rest of the stack without the browser-only middleware."""

    def __init__(self, get_response):
        self.get_response = get_response
        paths = list(settings.MIDDLEWARE)
        after_me = paths[paths.index(f"{__name__}.{type(self).__name__}") + 1:]
        self.handler = _Lane([path for path in after_me if path not in BROWSER_ONLY])
        self.lane = self.handler.chain

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        response = refuse_malformed(request) or self.lane(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response


_HOSTS_KEPT = 64
_allowed_hosts: set[tuple] = set()


@receiver(setting_changed)
def _hosts_changed(*, setting, **kwargs):
    if setting in ("ALLOWED_HOSTS", "USE_X_FORWARDED_HOST", "DEBUG"):
        _allowed_hosts.clear()


def _host_allowed(request) -> bool:
    """``request.get_host()`` succeeds: the Host (or trusted forwarded host) is one the
    deployment serves. The answer depends on those headers alone, so a host found good is
    remembered (a few: clients send the deployment's names; bad ones are never kept)."""
    meta = request.META
    seen = (meta.get("HTTP_HOST"), meta.get("HTTP_X_FORWARDED_HOST"), meta.get("SERVER_NAME"), meta.get("SERVER_PORT"))
    if seen in _allowed_hosts:
        return True
    try:
        request.get_host()
    except DisallowedHost:
        return False
    if len(_allowed_hosts) >= _HOSTS_KEPT:
        _allowed_hosts.clear()
    _allowed_hosts.add(seen)
    return True


def refuse_malformed(request):
    """A 400 problem for what the API lane cannot serve safely, before any view runs (the
    skipped ``CommonMiddleware`` would not have checked it either), or None.

    - the Host header, validated against ``ALLOWED_HOSTS`` as on every other path;
    - a URL (path and query) longer than ``MAX_URL_LENGTH``: a 414 problem from the app, so
      a client sees the API's error format rather than whatever page the server in front
      would show for a request line past its own limit;
    - a NUL character in the path or query string: no resource is named so, and PostgreSQL
      cannot even compare one with a text column;
    - a body that ends before its ``Content-Length``: read here, with a time limit on the
      socket where the server exposes it (gunicorn), so a client that stops sending costs a
      worker ``REQUEST_BODY_TIMEOUT`` seconds and gets a 400, not a worker timeout and a 500.
    """
    if not _host_allowed(request):
        return json_problem(request, 400, "bad_request", "Bad request", "Invalid Host header.")
    if len(request.path) + len(request.META.get("QUERY_STRING", "")) > settings.MAX_URL_LENGTH:
        return json_problem(
            request, 414, "uri_too_long", "URI too long",
            f"The URL is longer than {settings.MAX_URL_LENGTH} characters.",
        )
    if "\x00" in request.path or "\x00" in unquote(request.META.get("QUERY_STRING", "")):
        return json_problem(request, 400, "bad_request", "Bad request", "The URL contains a NUL character.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return json_problem(request, 400, "bad_request", "Bad request", "Invalid Content-Length header.")
    if 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        sock = request.META.get("gunicorn.socket")
        previous = sock.gettimeout() if sock is not None else None
        try:
            if sock is not None:
                sock.settimeout(settings.REQUEST_BODY_TIMEOUT)
            request.body  # noqa: B018 - read now, under the time limit; views reuse it
        except UnreadablePostError:
            return json_problem(
                request, 400, "bad_request", "Bad request",
                "The request body ended before its Content-Length, or arrived too slowly.",
            )
        finally:
            if sock is not None:
                try:
                    sock.settimeout(previous)
                except OSError:
                    pass
    return None

"""The base class every tenant endpoint uses, and the per-request context it hands around.

A request to a ``TenantAPIView`` goes, in ``dispatch``:

1. **admission** (``_admit``), once: the API key is authenticated, the tenant's rate limit
   counted, and a cached GET's response read, in **one round trip to Redis** when the key
   is known: the authenticator (DRF's ``DEFAULT_AUTHENTICATION_CLASSES``; tenants/auth.py)
   offers the key's row from process memory, then from its Redis entry, then from the
   database; ``radiant.ratelimit.check`` counts the request only if the row's generation is
   still current (a plain key and value to confirm), and reads the keys of the view's
   ``cache_plan`` in the same write. A key that fails costs its client address a token.
   Then a suspended tenant is refused (403, after the count, so it carries the headers);
2. the handler runs inside ``tenant_scope(tenant)`` (radiant/tenancy.py): tenant-owned
   managers filter by it and, on PostgreSQL, every query runs as the RLS-bound web role. The
   scope ends (commit, or rollback if the request failed) before the response leaves; a read
   that met a dropped database connection runs once more on a fresh one;
3. the response: a GET's ``Response`` becomes JSON bytes with ``ETag``, ``Cache-Control``
   and 304 (radiant/conditional.py), and every response carries the rate-limit headers.

What a handler uses (the whole surface; everything else is sealed):

- ``self.context``: the ``Context`` of the request: ``tenant`` (the principal: ``tenant_id``,
  ``slug``, ``tier``, ``limits``, ``key_prefix``), ``tenant_id``, ``request_id``, ``query``
  (the validated ``query_input``);
- ``query_input``: the GET's query-string serializer (a ``radiant.inputs.StrictInput``, or a
  ``radiant.pagination.PageInput`` for a list): validated once, before the handler, into
  ``context.query``; bad input is a 400 after authentication and the rate limit;
- ``pagination = CursorPagination(...)`` and ``self.paginate(queryset, serialize)``;
- a GET returns ``Response(data)``: the base class renders it, with ``ETag``,
  ``Cache-Control`` (``http``, a ``radiant.conditional.HttpPolicy``) and 304;
- a **cached** GET declares what its response depends on once, in ``cache_plan(tenant_id,
  **url_kwargs)`` (a ``radiant.cache.Plan`` from its app's ``caching.py``; raise there what
  bad input deserves), and its handler returns ``self.serve(make)``: the entry read with the
  admission, or ``make()`` (the selector and serializer) rendered on a miss;
- ``throttle_scope``: the rate-limit bucket (``default``: the tenant's whole API).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from radiant import cache, conditional, metrics, ratelimit
from radiant import pagination as _pagination
from radiant.client_ip import client_ip
from radiant.inputs import query_input
from radiant.problems import DatabaseUnavailable, Problem, TenantSuspended, unavailable_response
from radiant.request_context import current_request_id
from radiant.tenancy import tenant_db, tenant_scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READS = frozenset({"GET", "HEAD"})
_ALLOWED: dict[type, list[str]] = {}  # see TenantAPIView.allowed_methods
_SHARED: dict[tuple[type, str], list] = {}  # see TenantAPIView._shared


class Context:
    """What the base class knows about the request it answers: who is calling, what the
    limiter said, the validated query, the cache plan and what was read for it."""

    __slots__ = ("_deferred", "_planned_for", "decision", "plan", "query", "request_id", "tenant", "values")

    def __init__(self, request_id: str | None):
        self.request_id = request_id or ""
        self.tenant = None  # the principal, once admitted
        self.decision = None  # radiant.ratelimit.Decision: the tenant's, or the address's
        self.query: dict = {}
        self.plan: cache.Plan | None = None
        self.values: dict | None = None  # the cache keys read with the admission
        self._planned_for = None
        self._deferred: Exception | None = None  # bad input, reported after admission

    @property
    def tenant_id(self):
        return self.tenant.tenant_id


class _RetryOnFreshConnection(Exception):
    """A read met a dropped database connection; TenantAPIView runs it once more."""


def _discard_broken_connections():
    """Close the connections a dropped backend left unusable (a pool discards them)."""
    for connection in {*connections.all(initialized_only=True), connections[tenant_db()]}:
        connection.close_if_unusable_or_obsolete()


_BAD_INPUT = (exceptions.APIException, Problem)


class TenantAPIView(APIView):
    """Base class for every tenant endpoint. Owns admission and tenant scope; hard to bypass
    (subclasses that override the sealed names, or declare class-level querysets, are refused)."""

    permission_classes: list = []  # a tenant's status is checked by the admission itself
    throttle_classes: list = []  # rate limits: the admission, once per request
    throttle_scope = ratelimit.DEFAULT_SCOPE
    query_input: type | None = None
    http: conditional.HttpPolicy = conditional.REVALIDATE
    pagination: _pagination.CursorPagination | None = None

    _sealed = (
        "dispatch", "initial", "perform_authentication", "check_permissions", "check_throttles",
        "get_authenticators", "get_permissions", "get_throttles", "handle_exception", "finalize_response",
        "get_queryset", "get_object", "queryset", "authentication_classes", "permission_classes",
        "throttle_classes",
    )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in cls._sealed if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: tenant endpoints get the "
                "tenant from TenantAPIView; use selectors for data"
            )

    # --- what handlers use ------------------------------------------------------------------

    context: Context

    @property
    def tenant(self):
        """The calling tenant (its principal): ``self.context.tenant``."""
        return self.context.tenant

    def cache_plan(self, tenant_id, **kwargs) -> cache.Plan | None:
        """The ``radiant.cache.Plan`` of this GET's response for ``tenant_id`` (its text), or
        None (not cached). Called before the tenant is confirmed and before any database
        access: it must not touch the database. ``self.context.query`` is validated by then."""
        return None

    def serve(self, make: Callable[[], Any]) -> HttpResponse:
        """A cached GET's response: the entry read with the admission when usable, else
        ``make()`` rendered and stored; 304 when the client has it already."""
        plan = self.context.plan
        if plan is None:
            raise TypeError(f"{type(self).__name__}.serve() needs a cache_plan")
        payload = cache.fetch(plan, make, self.context.values)
        return conditional.respond(self.request, payload, plan.http)

    def paginate(self, queryset, serialize) -> dict:
        """The ``{"results", "next"}`` envelope of the page the request asks for: rows of
        ``queryset`` (run in the tenant scope, so already the tenant's), serialized by
        ``serialize``."""
        if self.pagination is None:
            raise TypeError(f"{type(self).__name__} has no pagination ordering")
        page = self.pagination.request_of(self.context.query)
        return _pagination.paginate(self.request, self.pagination, queryset, serialize, page)

    def page_key(self) -> str:
        """For a cached list's plan: what its cache key must add for the page asked for."""
        return self.pagination.cache_part(self.request, self.pagination.request_of(self.context.query))

    def _shared(self, kind: str, classes) -> list:
        """Instances of the view's renderers, parsers and authenticators, made once per view
        class: DRF makes new ones for every request, yet they keep no state of their own."""
        key = (type(self), kind)
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = [cls() for cls in classes]
        return found

    def get_renderers(self):
        return self._shared("renderers", self.renderer_classes)

    def get_parsers(self):
        return self._shared("parsers", self.parser_classes)

    def get_authenticators(self):
        return self._shared("authenticators", self.authentication_classes)

    @property
    def allowed_methods(self):
        """DRF's ``Allow`` header list, worked out once per view class (every response
        carries it; Django finds it with a ``hasattr`` per HTTP method each time)."""
        cls = type(self)
        if cls not in _ALLOWED:
            _ALLOWED[cls] = super().allowed_methods
        return _ALLOWED[cls]

    # --- the request ----------------------------------------------------------------------

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        self.context = Context(current_request_id())
        try:
            self.initial(request, *args, **kwargs)
            response = self._handle(request, args, kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self._admit(request, kwargs)
        except DatabaseUnavailable:  # a cold key's lookup met a dropped connection: nothing was counted
            _discard_broken_connections()
            self._admit(request, kwargs)
        context = self.context
        if context.tenant.status != "active":
            raise TenantSuspended("This tenant is suspended. Contact support to reactivate it.")
        if context._deferred is not None:
            raise context._deferred

    def _admit(self, request, kwargs):
        context = self.context
        authenticator = self.get_authenticators()[0]
        if request.method in _READS:
            self._validate_query()
        try:
            key = authenticator.credentials(request)
            for known in authenticator.candidates(key):
                principal = known.principal
                outcome = ratelimit.check(
                    ratelimit.tenant_limit(principal.tenant_id, principal.limits, self.throttle_scope),
                    confirm=known.confirmation,
                    read=(self._reads(principal.tenant, known.touch_key, kwargs),),
                )
                if outcome.unreachable:
                    if known.confirmation is not None:  # nothing remembered is trusted unconfirmed
                        known = authenticator.load(key, cache_it=False)
                    break
                if known.confirmation is None or outcome.confirmed:
                    break
            values = outcome.values
            context.values = values
            context.decision = outcome.decision
            principal = authenticator.accept(
                key, known, touch_due=values is not None and known.touch_key not in values
            )
        except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed):
            self._charge_address(request)
            raise
        context.tenant = request.user = principal
        metrics.admitted(principal, context.decision)
        if context.decision is not None and not context.decision.allowed:
            raise ratelimit.refusal(context.decision)

    def _validate_query(self):
        """A GET's query string, validated once (a list's ``PageInput`` by default); bad
        input is reported after the admission, so a 401 or a 429 comes first."""
        serializer = self.query_input or (_pagination.PageInput if self.pagination is not None else None)
        if serializer is not None:
            try:
                self.context.query = query_input(serializer, self.request)
            except _BAD_INPUT as exc:
                self.context._deferred = exc

    def _reads(self, tenant_id, touch_key, kwargs) -> tuple:
        """The keys to read with the admission for ``tenant_id``: the key's last-use gate,
        and a GET's cached response (its plan, made once per tenant)."""
        context = self.context
        if self.request.method not in _READS or context._deferred is not None:
            return (touch_key,)
        if context._planned_for != tenant_id:
            context._planned_for = tenant_id
            try:
                context.plan = self.cache_plan(tenant_id, **kwargs)
            except _BAD_INPUT as exc:
                context.plan, context._deferred = None, exc
        if context.plan is None:
            return (touch_key,)
        return (*context.plan.keys, touch_key)

    def _charge_address(self, request):
        """A request that did not authenticate costs its client address one token."""
        limit = ratelimit.address_limit(client_ip(request))
        if limit is None:
            return
        decision = ratelimit.check(limit).decision
        if decision is None:
            return
        self.context.decision = decision
        metrics.address_limited(decision)
        if not decision.allowed:
            raise ratelimit.address_refusal(decision)

    # --- the handler, in the tenant's scope -----------------------------------------------
    # A read that meets a dropped connection (a failover, a terminated backend, a proxy
    # restart) is run once more on a fresh one; what still fails, and any write that fails
    # so, is a 503 with Retry-After: the write was rolled back, never half-done.

    def _handle(self, request, args, kwargs):
        retry = request.method in SAFE_METHODS
        try:
            return self._in_scope(request, args, kwargs, retry)
        except _RetryOnFreshConnection:
            _discard_broken_connections()
            try:
                return self._in_scope(request, args, kwargs, False)
            except DatabaseUnavailable:  # the scope's commit or rollback
                return unavailable_response()
        except DatabaseUnavailable:
            return unavailable_response()

    def _in_scope(self, request, args, kwargs, retry):
        if request.method.lower() in self.http_method_names:
            handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
        else:
            handler = self.http_method_not_allowed
        scope = tenant_scope(self.context.tenant_id)
        scope.__enter__()
        try:
            try:
                response = handler(request, *args, **kwargs)
            except Exception as exc:
                if isinstance(exc, DatabaseUnavailable) and retry:
                    raise _RetryOnFreshConnection from exc
                response = super().handle_exception(exc)  # rolls the scope back (problems.py)
        except BaseException:
            scope.__exit__(*sys.exc_info())
            raise
        try:
            scope.__exit__(None, None, None)
        except DatabaseUnavailable:
            # The commit did not happen: whatever the handler answered is not true.
            if retry:
                raise _RetryOnFreshConnection from None
            raise
        return response

    def handle_exception(self, exc):
        if isinstance(exc, DatabaseUnavailable):
            return unavailable_response()
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        if type(response) is Response and response.status_code == 200 and request.method in _READS:
            response = conditional.respond(request, conditional.render(response.data), self.http)
        response = super().finalize_response(request, response, *args, **kwargs)
        decision = self.context.decision
        if decision is not None:
            for name, value in decision.headers().items():
                response.headers[name] = value
        return response



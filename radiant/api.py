"""The base class every tenant endpoint uses."""

import sys

from django.db import connections
from rest_framework.views import APIView

from radiant import pagination as _pagination
from radiant.auth import ApiKeyAuthentication, IsTenant
from radiant.problems import DatabaseUnavailable, unavailable_response
from radiant.tenancy import tenant_db, tenant_scope
from radiant.throttling import TenantRateThrottle
from radiant.throttling import apply_headers as apply_ratelimit_headers


_ALLOWED: dict[type, list[str]] = {}  # see TenantAPIView.allowed_methods
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _RetryOnFreshConnection(Exception):
    """A read met a dropped database connection; TenantAPIView runs it once more."""


def _discard_broken_connections():
    """Close the connections a dropped backend left unusable (a pool discards them)."""
    for connection in {*connections.all(initialized_only=True), connections[tenant_db()]}:
        connection.close_if_unusable_or_obsolete()


class TenantAPIView(APIView):
    """Base class for every tenant endpoint. Owns tenant resolution; hard to bypass.

    After authentication, permission and throttling checks, the rest of the request runs in
    ``tenant_scope(tenant)``: tenant-owned managers filter by it and, on PostgreSQL, every
    query runs as the RLS-bound web role with the tenant's signed context. The scope ends
    (commit, or rollback if the request failed) before the response leaves.

    Subclasses implement handlers (``get``, ``put``, …) and may not replace the methods that
    establish the tenant or declare class-level querysets (evaluated once, for nobody).
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsTenant]

    _sealed = (
        "dispatch", "initial", "perform_authentication", "check_permissions",
        "get_authenticators", "get_permissions", "handle_exception",
        "get_queryset", "get_object", "queryset",
        "authentication_classes", "permission_classes",
    )

    # --- rate limits (radiant/throttling.py) ---------------------------------
    # The tenant's token bucket and daily quota, checked before the permission check so
    # every authenticated response (a suspended tenant's 403 too) carries the headers.
    throttle_classes = [TenantRateThrottle]
    _sealed += ("throttle_classes", "get_throttles", "check_throttles", "finalize_response")

    def check_permissions(self, request):
        self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request):
        if getattr(self, "_throttles_checked", False):
            return  # DRF's initial() calls it again after the permission check
        self._throttles_checked = True
        super().check_throttles(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        apply_ratelimit_headers(request, response)
        return response

    # --- the hot read path (radiant/cache.py, radiant/throttling.py) -----------
    def cache_plan(self, request, tenant_id):
        """The ``radiant.cache.Plan`` a cached GET handler will serve for ``tenant_id``, or
        None.

        Override it in an endpoint whose GET handler returns ``radiant.cache.serve(request,
        plan, ...)`` with the same plan: the round trip to Redis that checks the key and
        the tenant's rate limit then reads the response's cache keys too, and the handler
        serves from those values. Runs while the request is authenticated (use
        ``tenant_id``, not ``self.tenant``), before the permission check and the tenant
        scope: it must not touch the database. Raise what the handler would raise for bad
        input (it is ignored here, and reported by the handler).
        """
        return None

    @property
    def allowed_methods(self):
        """DRF's ``Allow`` header list, worked out once per view class (every response
        carries it; Django finds it with a ``hasattr`` per HTTP method each time)."""
        cls = type(self)
        if cls not in _ALLOWED:
            _ALLOWED[cls] = super().allowed_methods
        return _ALLOWED[cls]

    def planned(self, request):
        """This request's ``cache_plan`` for the calling tenant, computed once per request
        (a GET handler calls it instead of building the plan again)."""
        tenant_id = self.tenant.tenant_id
        planned = request.__dict__.get("_radiant_cache_plan")  # (tenant, plan): see radiant.throttling
        if planned is not None and planned[1] is not None and planned[0] == str(tenant_id):
            return planned[1]
        return self.cache_plan(request, tenant_id)

    # --- lists ----------------------------------------------------------------------------
    pagination: "_pagination.CursorPagination | None" = None
    """A list endpoint's ``radiant.pagination.CursorPagination`` (its ordering)."""

    def paginate(self, request, queryset, serialize, query=None) -> dict:
        """The ``{"results", "next"}`` envelope of the page ``request`` asks for: rows of
        ``queryset`` (run in the tenant scope, so already the tenant's), serialized by ``serialize``.
        ``query``: the list's validated filters (a ``PageInput`` subclass), if it has any."""
        if self.pagination is None:
            raise TypeError(f"{type(self).__name__} has no pagination ordering")
        return _pagination.paginate(request, self.pagination, queryset, serialize, query)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in cls._sealed if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: tenant endpoints get the "
                "tenant from TenantAPIView; use selectors for data"
            )

    @property
    def tenant(self):
        """The calling tenant (a TenantPrincipal)."""
        return self.request.user

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._scope = tenant_scope(request.user.tenant_id)
        self._scope.__enter__()
        if request.auth.touch_due:
            from tenants.services import api_key_touch

            api_key_touch(tenant_id=request.user.tenant_id, key_id=request.user.key_id, key_hash=request.auth.key_hash)

    # --- dropped database connections ---------------------------------------------------
    # A read that meets a dropped connection (a failover, a terminated backend, a proxy
    # restart) is run once more on a fresh one; what still fails, and any write that
    # fails so, is a 503 with Retry-After: the write was rolled back, never half-done.

    def handle_exception(self, exc):
        if isinstance(exc, DatabaseUnavailable) and self._may_retry:
            raise _RetryOnFreshConnection from exc
        return super().handle_exception(exc)

    def dispatch(self, request, *args, **kwargs):
        self._may_retry = request.method in SAFE_METHODS
        try:
            return self._dispatch_in_scope(request, *args, **kwargs)
        except _RetryOnFreshConnection:
            _discard_broken_connections()
            self._may_retry = False
            try:
                return self._dispatch_in_scope(request, *args, **kwargs)
            except DatabaseUnavailable:  # the scope's commit or rollback
                return unavailable_response()
        except DatabaseUnavailable:
            return unavailable_response()

    def _dispatch_in_scope(self, request, *args, **kwargs):
        self._scope = None
        try:
            response = super().dispatch(request, *args, **kwargs)
        except BaseException:
            if self._scope is not None:
                self._scope.__exit__(*sys.exc_info())
            raise
        if self._scope is not None:
            try:
                self._scope.__exit__(None, None, None)
            except DatabaseUnavailable:
                # The commit did not happen: whatever the handler answered is not true.
                if self._may_retry:
                    raise _RetryOnFreshConnection from None
                raise
        return response

"""One structured log line per request, and the request's metrics (DESIGN.md §11).

``RequestLogMiddleware`` runs inside the request id's middleware (so the id is known) and
around everything else (the tenant API's lane, every view). Meanwhile it keeps a
``radiant.metrics.RequestStats`` current (code reports cache hits, SQL, charges, ... into
it) and, when the response is ready, writes one JSON line (``"logger": "radiant.request"``,
``"event": "request"``) and hands the same numbers to the request's metrics backend. The
line's fields:

=================  =====================================================================
``level``          ``ERROR`` for a 5xx, ``INFO`` otherwise
``request_id``     the request's id (the client's ``X-Request-ID`` when sane, else made)
``method``         HTTP method
``route``          the URL pattern that matched (``/api/v1/models/<slug:slug>``), never the
                   raw path; ``<unmatched>`` for a 404 no pattern matched
``status``         response status
``duration_ms``    from the first middleware in to the response out (a streamed body's
                   transfer is not included)
``tenant``,        the calling tenant's id and slug, its tier, the API key's visible prefix
``tenant_slug``,   (never the key) — absent when the request did not authenticate
``tier``,
``key_prefix``
``db_queries``,    SQL statements the request sent, and their time
``db_ms``
``cache_hits``,    response-cache entries served / built from the database
``cache_misses``
``throttle``,      the limiter's decision (``allowed``, ``rate_limited``,
``throttle_scope`` ``daily_quota_exceeded``, ``fail_open``) and whose budget (``tenant`` or
                   ``ip``); absent when no limit applied
``client_ip``      only for requests limited per address (no valid key)
``redis_errors``   only when a Redis call failed
``charge``         only for charges: the credits debited, exact (a decimal string)
=================  =====================================================================

Nothing else from the request is logged: no headers, no query string, no body, so no
``Authorization`` value can reach a log. ``REQUEST_LOG=0`` and ``METRICS_ENABLED=0`` switch
the line and the metrics off (with both off the middleware removes itself).

The line is laid out as the JSON formatter lays out every other record (``level``,
``logger``: ``radiant.request``, the fields, ``timestamp``; radiant/logformat.py), serialized
by the same library (orjson), and written by this module in one ``write`` to the process's
stderr, where the console handler writes the other records: whole lines, so they interleave
line by line. It does not go through ``logging``: under gunicorn a record and a handler per
request (or structlog's bound logger) cost 4–6 % of a warm ``GET models``'s throughput on
their own, the direct write about 1 % (docs/PERFORMANCE.md). ``write_lines_to`` sends the
lines elsewhere (the tests collect them).

The rest is kept to the bone too: one small object per request, dictionary lookups for the
labels, no I/O besides the line itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from radiant import metrics
from radiant.client_ip import client_ip
from radiant.request_context import current_request_id

LOGGER = "radiant.request"  # the ``logger`` field: what a log query filters on

UNMATCHED = "<unmatched>"
_ROUTES_KEPT = 2048
_routes: dict[str, str] = {}


def route_template(request) -> str:
    """The URL pattern the request matched, as a bounded label."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    route = match.route
    label = _routes.get(route)
    if label is None:
        label = "/" + route
        if len(_routes) < _ROUTES_KEPT:  # patterns come from the urlconf: a few dozen
            _routes[route] = label
    return label


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.log = settings.REQUEST_LOG
        self.metrics = settings.METRICS_ENABLED
        if not (self.log or self.metrics):
            raise MiddlewareNotUsed
        for connection in connections.all(initialized_only=True):  # opened before this module was loaded
            time_queries(connection)

    def __call__(self, request):
        started = time.perf_counter()
        stats, token = metrics.request_started()
        try:
            response = self.get_response(request)
        finally:
            metrics.request_ended(token)
        seconds = time.perf_counter() - started
        route = route_template(request)
        status = response.status_code
        principal = stats.principal
        throttle, throttle_scope = stats.throttle, stats.throttle_scope
        if throttle is None and stats.fail_open:
            throttle, throttle_scope = "fail_open", "tenant" if principal is not None else "ip"
        tier = principal.tier if principal is not None else "none"
        rid = current_request_id()
        if self.log:
            line = {
                "level": "ERROR" if status >= 500 else "INFO",
                "logger": LOGGER,
                "event": "request",
                "request_id": rid,
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "db_queries": stats.queries,
                "db_ms": round(stats.query_ns / 1e6, 3),
                "cache_hits": stats.cache_hits,
                "cache_misses": stats.cache_misses,
            }
            if principal is not None:
                line["tenant"] = principal.tenant
                line["tenant_slug"] = principal.slug
                line["tier"] = tier
                line["key_prefix"] = principal.key_prefix
            if throttle is not None:
                line["throttle"] = throttle
                line["throttle_scope"] = throttle_scope
                if principal is None:
                    line["client_ip"] = client_ip(request)
            if stats.redis_errors:
                line["redis_errors"] = stats.redis_errors
            if stats.charged is not None:
                line["charge"] = str(stats.charged)
            line["timestamp"] = datetime.fromtimestamp(time.time(), tz=UTC)
            _write(orjson.dumps(line, default=str) + b"\n")
        if self.metrics:
            metrics.request_backend(request).request(
                route=route, method=request.method, status=status, tier=tier, seconds=seconds,
                throttle_scope=throttle_scope, throttle=throttle, stats=stats, request_id=rid,
                function_name=getattr(request.META.get("lambda.context"), "function_name", None),
            )
        return response


# --- where the lines go --------------------------------------------------------------------------


def _write_stderr(line: bytes) -> None:
    try:
        while line:  # a pipe or file takes a line this size whole; a short write is retried
            line = line[os.write(2, line):]
    except OSError:  # a log that cannot be written must not fail the request it describes
        pass


_write: Callable[[bytes], None] = _write_stderr


def write_lines_to(write: Callable[[bytes], None] | None) -> Callable[[bytes], None]:
    """Send each request line (one JSON object and a newline, as bytes) to ``write`` instead
    of stderr (``None``: back to stderr). Returns the previous destination."""
    global _write
    previous, _write = _write, write or _write_stderr
    return previous


# --- SQL time per request ------------------------------------------------------------------------


def _timed(execute, sql, params, many, context):
    started = time.perf_counter_ns()
    try:
        return execute(sql, params, many, context)
    finally:
        metrics.query(time.perf_counter_ns() - started)


def time_queries(connection) -> None:
    """Make ``connection`` time its statements for the current request (a warm cached read
    sends none, so it pays nothing)."""
    if _timed not in connection.execute_wrappers:
        connection.execute_wrappers.append(_timed)


@receiver(connection_created)
def _connection_created(sender, connection, **kwargs):
    time_queries(connection)

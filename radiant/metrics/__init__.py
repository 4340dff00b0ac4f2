"""Operational metrics: one small API, Prometheus under gunicorn, CloudWatch EMF on Lambda.

Code that sees something worth counting calls one function here (``metrics.cache_hit()``,
``metrics.credits_charged(amount)``, ...). Inside a request the value is added to that
request's ``RequestStats`` (its log line shows it, see ``radiant.request_log``) and reaches
the backend once, when the request ends, together with the request's duration, route and
status. Outside a request (Celery tasks, periodic jobs, commands) it goes to the backend at
once. Which backend:

- **Prometheus** (gunicorn, ``runserver``, tests): ``prometheus_client`` metrics, read by
  ``GET /metrics`` (``metrics_view``; a bearer token tenants never hold). Under gunicorn
  with several workers, multiprocess mode: every worker writes its values to files in
  ``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds them up (``radiant/gunicorn_conf.py`` sets
  the directory up and marks exited workers dead). A worker sums its requests and writes
  them at most once a second (``radiant/metrics/prometheus.py``): a scrape shows another
  worker's requests within a second. ``prometheus_client`` is imported on first use, after
  the fork, never on Lambda.
- **CloudWatch EMF** (a request that arrived through Zappa's Lambda handler, or code running
  on Lambda): each request ends with Embedded Metric Format lines on stdout, written by
  Powertools for AWS Lambda; CloudWatch turns them into metrics in namespace ``RADIANT``.
- **off** (``METRICS_ENABLED=0``): nothing is counted (benchmarks compare on and off).

Every label value is bounded: route templates (never a raw path or an id), status classes,
tiers (operator-defined, a handful), HTTP methods Django knows, components named in code.

Names (Prometheus / EMF; EMF dimensions ``service``, ``stage``):

======================================================  =======================  ==========================
Prometheus                                              EMF                      what
======================================================  =======================  ==========================
radiant_http_request_duration_seconds{route,method,     Latency (ms), Requests;  each request; the EMF pair
  status_class} (histogram)                             also by route and        also per route template
                                                        status_class             and status class
radiant_http_requests_by_tier_total{tier,status_class}  Requests, Status4xx,     requests per tier (``none``:
                                                        Status5xx                unauthenticated)
radiant_ratelimit_decisions_total{scope,outcome}        RateLimited,             tenant or client-address
                                                        DailyQuotaExceeded       limiter: allowed,
                                                                                 rate_limited,
                                                                                 daily_quota_exceeded,
                                                                                 fail_open
radiant_ratelimit_fail_open_admissions_total            FailOpenAdmissions       admitted unchecked: Redis
                                                                                 unreachable
radiant_redis_errors_total{component}                   RedisErrors              cache / ratelimit calls that
                                                                                 failed
radiant_cache_hits_total, radiant_cache_misses_total    CacheHits, CacheMisses   response cache (ratio =
                                                                                 hits / (hits + misses))
radiant_db_queries_total, radiant_db_query_seconds_total  DbQueries, DbTime (ms)  SQL sent by requests
radiant_db_pool_connections{alias,state}                (none: RDS Proxy pools)  psycopg pool: size, idle,
  (gauge, live workers summed)                                                   waiting, max
radiant_credits_charged_total                           CreditsCharged           credits debited by charges
radiant_insufficient_credits_total                      InsufficientCredits      402 insufficient_credits
radiant_credit_holds_open (gauge)                       HoldsOpen                open holds, when known
radiant_audit_fallbacks_total                           AuditFallbacks           audit rows written directly:
                                                                                 broker unreachable
radiant_audit_default_partition_rows (gauge)            AuditDefaultPartitionRows rows in the default audit
                                                                                 partition
(none: a process's first request)                       ColdStart                first request of a Lambda
                                                                                 container
======================================================  =======================  ==========================
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal

from django.conf import settings
from django.http import Http404, HttpResponse

NAMESPACE = "RADIANT"

# Seconds; the seed's targets (50, 200, 500 ms) and alarm thresholds (1 s, 3 s) are bounds.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class RequestStats:
    """What one request did, for its log line and its metrics (one per request)."""

    __slots__ = (
        "audit_fallbacks",
        "cache_hits",
        "cache_misses",
        "charged",
        "fail_open",
        "holds_open",
        "insufficient_credits",
        "principal",
        "queries",
        "query_ns",
        "redis_errors",
        "throttle",
        "throttle_scope",
    )

    def __init__(self):
        self.queries = self.query_ns = self.cache_hits = self.cache_misses = 0
        self.redis_errors = self.fail_open = self.insufficient_credits = self.audit_fallbacks = 0
        self.charged = None  # Decimal: credits this request charged
        self.holds_open = None
        self.principal = None  # who the request authenticated as (tenant, tier, key prefix)
        self.throttle = None  # the limiter's outcome: allowed, rate_limited, daily_quota_exceeded
        self.throttle_scope = None  # whose budget: tenant or ip


_current: ContextVar[RequestStats | None] = ContextVar("radiant_request_stats", default=None)
current = _current.get


def request_started() -> tuple[RequestStats, object]:
    """A new ``RequestStats`` made current; returns it and the token for ``request_ended``."""
    stats = RequestStats()
    return stats, _current.set(stats)


def request_ended(token) -> None:
    _current.reset(token)


# --- what code reports ----------------------------------------------------------------------
#
# Each function is cheap inside a request (an attribute increment on the current stats);
# the hot path calls cache_hit() once.


def admitted(principal, decision) -> None:
    """The tenant API authenticated ``principal`` and its limiter said ``decision`` (None:
    not checked)."""
    stats = _current.get()
    if stats is not None:
        stats.principal = principal
        if decision is not None:
            stats.throttle, stats.throttle_scope = decision.outcome, "tenant"


def address_limited(decision) -> None:
    """A request that did not authenticate was counted against its client address."""
    stats = _current.get()
    if stats is not None:
        stats.throttle, stats.throttle_scope = decision.outcome, "ip"


def cache_hit() -> None:
    stats = _current.get()
    if stats is not None:
        stats.cache_hits += 1
    else:
        _backend().count("cache_hits")


def cache_miss() -> None:
    stats = _current.get()
    if stats is not None:
        stats.cache_misses += 1
    else:
        _backend().count("cache_misses")


def redis_error(component: str) -> None:
    """A call to Redis failed (``component``: ``cache`` or ``ratelimit``)."""
    stats = _current.get()
    if stats is not None:
        stats.redis_errors += 1
    _backend().count("redis_errors", component=component)  # rare: straight to the backend, with its label


def fail_open_admission() -> None:
    """The limiter was unreachable and the request was admitted unchecked."""
    stats = _current.get()
    if stats is not None:
        stats.fail_open += 1
    else:
        _backend().count("fail_open")


def credits_charged(amount: Decimal) -> None:
    """A charge debited ``amount`` credits (the request's log line shows it exactly)."""
    stats = _current.get()
    if stats is not None:
        stats.charged = amount if stats.charged is None else stats.charged + amount
    else:
        _backend().count("credits_charged", amount=float(amount))


def insufficient_credits() -> None:
    """A charge or hold was refused with 402 ``insufficient_credits``."""
    stats = _current.get()
    if stats is not None:
        stats.insufficient_credits += 1
    else:
        _backend().count("insufficient_credits")


def audit_fallback() -> None:
    """An audit record was written directly because the broker was unreachable."""
    stats = _current.get()
    if stats is not None:
        stats.audit_fallbacks += 1
    else:
        _backend().count("audit_fallbacks")


def holds_open(count: int) -> None:
    """The number of open credit holds (all tenants), whenever code has just counted it."""
    stats = _current.get()
    if stats is not None:
        stats.holds_open = count
    else:
        _backend().gauge("holds_open", count)


def audit_default_partition_rows(count: int) -> None:
    """Rows in the default audit partition (should be 0: a month's partition is missing)."""
    _backend().gauge("audit_default_partition_rows", count)


def query(duration_ns: int) -> None:
    """One SQL statement of the current request took ``duration_ns``."""
    stats = _current.get()
    if stats is not None:
        stats.queries += 1
        stats.query_ns += duration_ns


_on_scrape: list[Callable[[], None]] = []


def on_scrape(hook: Callable[[], None]) -> None:
    """Run ``hook`` before each scrape of ``/metrics`` (e.g. to report a count kept in the
    database with ``holds_open``). Registered once, at import or app-ready time."""
    if hook not in _on_scrape:
        _on_scrape.append(hook)


# --- backends ------------------------------------------------------------------------------------


def on_lambda() -> bool:
    """This process runs inside AWS Lambda (Zappa sets SERVERTYPE; Lambda sets the name)."""
    return os.environ.get("SERVERTYPE") == "AWS Lambda" or "AWS_LAMBDA_FUNCTION_NAME" in os.environ


class _Off:
    def count(self, name, amount=1, **labels):
        pass

    def gauge(self, name, value, **labels):
        pass

    def request(self, **kwargs):
        pass


_lock = threading.Lock()
_backends: dict[str, object] = {}


def backend(kind: str):
    """The process's backend of ``kind`` (``prometheus``, ``emf``), made on first use."""
    found = _backends.get(kind)
    if found is None:
        with _lock:
            found = _backends.get(kind)
            if found is None:
                # Each backend's library loads on first use: prometheus_client after
                # gunicorn's fork, Powertools only on Lambda.
                if kind == "prometheus":
                    from radiant.metrics.prometheus import Prometheus as found_class
                else:
                    from radiant.metrics.emf import Emf as found_class
                found = found_class()
                _backends[kind] = found
    return found


def _backend():
    if not settings.METRICS_ENABLED:
        return _OFF
    return backend("emf" if on_lambda() else "prometheus")


_OFF = _Off()


def flush() -> None:
    """Write the requests this process has summed but not yet written (a worker exiting)."""
    found = _backends.get("prometheus")
    if found is not None:
        found.flush()


def request_backend(request):
    """Where a request's metrics go: EMF for a request Zappa's Lambda handler made."""
    if "lambda.context" in request.META:
        return backend("emf")
    return backend("prometheus")


# --- the scrape endpoint --------------------------------------------------------------------------


def exposition() -> tuple[bytes, str]:
    """The Prometheus text of every worker (multiprocess mode) or of this process."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    prometheus = backend("prometheus")
    prometheus.flush()  # this process's latest requests (the others' are at most a second old)
    for hook in _on_scrape:
        hook()
    prometheus.pool_stats()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus.registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_view(request):
    """``GET /metrics`` for Prometheus: ``Authorization: Bearer <METRICS_TOKEN>``.

    Tenants cannot reach it: it is not on the tenant API (``/api/``), it takes no API key
    (a key is not the token), it does not exist when ``METRICS_TOKEN`` is unset, and never
    through API Gateway (on Lambda the metrics are EMF lines).
    """
    token = settings.METRICS_TOKEN
    if not token or "lambda.context" in request.META:
        raise Http404
    scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), token.encode()):
        response = HttpResponse("metrics: bearer token required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response

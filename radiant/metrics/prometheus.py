"""The Prometheus backend: ``prometheus_client`` metrics, multiprocess mode under gunicorn
(radiant/gunicorn_conf.py). Imported on first use, after the fork, never on Lambda."""

from __future__ import annotations

from radiant.metrics import DURATION_BUCKETS, METHODS, STATUS_CLASSES


class Prometheus:
    """The Prometheus metrics of this process (multiprocess mode when the directory is set)."""

    def __init__(self, registry=None):
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        registry = REGISTRY if registry is None else registry
        self.registry = registry
        self.duration = Histogram(
            "radiant_http_request_duration_seconds", "Request duration, by route template, method and status class.",
            ["route", "method", "status_class"], buckets=DURATION_BUCKETS, registry=registry,
        )
        self.by_tier = Counter(
            "radiant_http_requests_by_tier", "Requests by the caller's tier (none: unauthenticated) and status class.",
            ["tier", "status_class"], registry=registry,
        )
        self.throttle = Counter(
            "radiant_ratelimit_decisions", "Rate-limit decisions, by scope (tenant, ip) and outcome.",
            ["scope", "outcome"], registry=registry,
        )
        counters = {
            "fail_open": ("radiant_ratelimit_fail_open_admissions", "Requests admitted unchecked: limiter unreachable."),
            "cache_hits": ("radiant_cache_hits", "Responses served from the response cache."),
            "cache_misses": ("radiant_cache_misses", "Responses built from the database (no usable cache entry)."),
            "db_queries": ("radiant_db_queries", "SQL statements sent by requests."),
            "db_seconds": ("radiant_db_query_seconds", "Time requests spent in SQL statements."),
            "credits_charged": ("radiant_credits_charged", "Credits debited by charges."),
            "insufficient_credits": ("radiant_insufficient_credits", "Charges and holds refused: 402 insufficient_credits."),
            "audit_fallbacks": ("radiant_audit_fallbacks", "Audit records written directly: broker unreachable."),
        }
        self.counters = {key: Counter(name, doc, registry=registry) for key, (name, doc) in counters.items()}
        self.redis_errors = Counter(
            "radiant_redis_errors", "Calls to Redis that failed, by component.", ["component"], registry=registry,
        )
        self.pool = Gauge(
            "radiant_db_pool_connections", "psycopg pool connections (size, idle, waiting, max), live workers summed.",
            ["alias", "state"], multiprocess_mode="livesum", registry=registry,
        )
        self.gauges = {
            "holds_open": Gauge(
                "radiant_credit_holds_open", "Open credit holds, as last counted.",
                multiprocess_mode="mostrecent", registry=registry,
            ),
            "audit_default_partition_rows": Gauge(
                "radiant_audit_default_partition_rows", "Rows in the default audit partition, as last counted.",
                multiprocess_mode="mostrecent", registry=registry,
            ),
        }
        # Label children looked up once: labels() validates and locks on every call.
        self._children: dict[tuple, tuple] = {}

    def count(self, name, amount=1, **labels):
        if name == "redis_errors":
            self.redis_errors.labels(labels["component"]).inc(amount)
        else:
            self.counters[name].inc(amount)

    def gauge(self, name, value, **labels):
        self.gauges[name].set(value)

    def request(self, *, route, method, status, tier, seconds, throttle_scope, throttle, stats, **_):
        status_class = STATUS_CLASSES[status // 100 - 1] if 100 <= status < 600 else "5xx"
        if method not in METHODS:
            method = "other"
        key = (route, method, status_class, tier, throttle_scope, throttle)
        children = self._children.get(key)
        if children is None:
            if len(self._children) > 10_000:  # bounded labels make this unreachable; never grow forever
                self._children.clear()
            children = (
                self.duration.labels(route, method, status_class),
                self.by_tier.labels(tier, status_class),
                self.throttle.labels(throttle_scope, throttle) if throttle else None,
            )
            self._children[key] = children
        duration, by_tier, decision = children
        duration.observe(seconds)
        by_tier.inc()
        if decision is not None:
            decision.inc()
        if stats.cache_hits:
            self.counters["cache_hits"].inc(stats.cache_hits)
        if stats.cache_misses:
            self.counters["cache_misses"].inc(stats.cache_misses)
        if stats.queries:
            self.counters["db_queries"].inc(stats.queries)
            self.counters["db_seconds"].inc(stats.query_ns / 1e9)
            self.pool_stats()
        if stats.fail_open:
            self.counters["fail_open"].inc(stats.fail_open)
        if stats.charged is not None:
            self.counters["credits_charged"].inc(float(stats.charged))
        if stats.insufficient_credits:
            self.counters["insufficient_credits"].inc(stats.insufficient_credits)
        if stats.audit_fallbacks:
            self.counters["audit_fallbacks"].inc(stats.audit_fallbacks)
        if stats.holds_open is not None:
            self.gauges["holds_open"].set(stats.holds_open)

    def pool_stats(self):
        """This worker's psycopg pools, as gauges (summed over live workers on a scrape)."""
        from django.db import connections

        for alias in connections:
            connection = connections[alias]
            pools = getattr(type(connection), "_connection_pools", None)  # Django's pools, one per alias
            pool = pools.get(alias) if pools else None
            if pool is None:
                continue
            pool_stats = pool.get_stats()
            for state, field in (("size", "pool_size"), ("idle", "pool_available"), ("waiting", "requests_waiting"),
                                 ("max", "pool_max")):
                self.pool.labels(alias, state).set(pool_stats.get(field, 0))

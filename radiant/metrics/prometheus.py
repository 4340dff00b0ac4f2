"""The Prometheus backend: ``prometheus_client`` metrics, multiprocess mode under gunicorn
(radiant/gunicorn_conf.py). Imported on first use, after the fork, never on Lambda.

What requests add is summed in this process and written to the metrics at most once a
``FLUSH_SECONDS``: by the request that finds the last write older than that, by a
background thread when no request comes, before every scrape this process serves, and when
the process exits. Writing each request's five values at once cost about 1 % of a warm
``GET models``'s throughput: in multiprocess mode every value is a lock, a ``getpid``
system call and a write into the worker's ``mmap``'d file (docs/PERFORMANCE.md). So a
scrape may miss at most the last second of another worker's requests, which the next one
shows; Prometheus scrapes every 15 s or more. A worker killed outright (gunicorn's timeout
sends SIGKILL) loses at most that second. Counts outside a request, gauges and the rare
labelled counters are written at once.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from bisect import bisect_left

from radiant.metrics import DURATION_BUCKETS, METHODS, STATUS_CLASSES

FLUSH_SECONDS = 1.0


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
        # Requests not written yet: {labels: [requests, seconds, [observations per bucket]]}
        # and {counter: amount}; the lock is for threaded servers.
        self._pending: dict[tuple, list] = {}
        self._pending_counts: dict[str, float] = {}
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()
        self._flusher: threading.Thread | None = None
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._forked)

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
        bucket = bisect_left(DURATION_BUCKETS, seconds)  # the histogram's: the first bound >= seconds
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = [0, 0.0, [0] * (len(DURATION_BUCKETS) + 1)]  # + Inf
            pending[0] += 1
            pending[1] += seconds
            pending[2][bucket] += 1
            counts = self._pending_counts
            for name, amount in (
                ("cache_hits", stats.cache_hits), ("cache_misses", stats.cache_misses), ("db_queries", stats.queries),
                ("fail_open", stats.fail_open), ("insufficient_credits", stats.insufficient_credits),
                ("audit_fallbacks", stats.audit_fallbacks),
            ):
                if amount:
                    counts[name] = counts.get(name, 0) + amount
            if stats.queries:
                counts["db_seconds"] = counts.get("db_seconds", 0.0) + stats.query_ns / 1e9
            if stats.charged is not None:
                counts["credits_charged"] = counts.get("credits_charged", 0.0) + float(stats.charged)
        if stats.queries:
            self.pool_stats()
        if stats.holds_open is not None:
            self.gauges["holds_open"].set(stats.holds_open)
        if self._flusher is None:
            self._start_flusher()
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self):
        """Write what requests added since the last flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
            counts, self._pending_counts = self._pending_counts, {}
            self._flushed_at = time.monotonic()
        for key, (requests, seconds, buckets) in pending.items():
            duration, by_tier, decision = self._children_of(key)
            # Histogram.observe, for many observations at once (prometheus_client has no
            # public call for it): the sum, then each bucket's count.
            duration._sum.inc(seconds)
            for index, observed in enumerate(buckets):
                if observed:
                    duration._buckets[index].inc(observed)
            by_tier.inc(requests)
            if decision is not None:
                decision.inc(requests)
        for name, amount in counts.items():
            self.counters[name].inc(amount)

    def _children_of(self, key):
        children = self._children.get(key)
        if children is None:
            if len(self._children) > 10_000:  # bounded labels make this unreachable; never grow forever
                self._children.clear()
            route, method, status_class, tier, throttle_scope, throttle = key
            children = (
                self.duration.labels(route, method, status_class),
                self.by_tier.labels(tier, status_class),
                self.throttle.labels(throttle_scope, throttle) if throttle else None,
            )
            self._children[key] = children
        return children

    def _start_flusher(self):
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_while_idle, name="metrics-flush", daemon=True)
        self._flusher.start()

    def _flush_while_idle(self):
        """The last second's requests of a worker that gets no more are written all the same."""
        while True:
            time.sleep(FLUSH_SECONDS)
            if self._pending and time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
                self.flush()

    def _forked(self):
        # A child has no flusher thread, and the parent's pending requests are the parent's.
        self._lock = threading.Lock()
        self._pending, self._pending_counts = {}, {}
        self._flusher = None

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

"""The CloudWatch Embedded Metric Format backend: EMF lines on stdout, written by Powertools
for AWS Lambda, for requests that arrived through Zappa's handler and code running on Lambda."""

from __future__ import annotations

import os
import threading

from radiant.metrics import NAMESPACE, STATUS_CLASSES


class Emf:
    """CloudWatch Embedded Metric Format lines on stdout, written by Powertools."""

    def __init__(self):
        from aws_lambda_powertools.metrics import Metrics, MetricUnit

        self.unit = MetricUnit
        self.service = os.environ.get("POWERTOOLS_SERVICE_NAME") or "radiant"
        self.stage = os.environ.get("STAGE") or os.environ.get("RADIANT_ENV") or "unknown"
        self.metrics = Metrics(namespace=NAMESPACE, service=self.service)
        self.cold = True
        self.lock = threading.Lock()  # Powertools keeps one metric set per process

    def _flush(self, add, metadata=(), dimensions=()):
        """One EMF line: ``add`` (name, unit, value) under dimensions service, stage and
        ``dimensions``; ``metadata`` as properties (searchable, not dimensions)."""
        with self.lock:
            metrics = self.metrics
            metrics.add_dimension("stage", self.stage)
            for name, value in dimensions:
                metrics.add_dimension(name, value)
            for name, unit, value in add:
                metrics.add_metric(name=name, unit=unit, value=value)
            for key, value in metadata:
                metrics.add_metadata(key=key, value=value)
            metrics.flush_metrics()

    def count(self, name, amount=1, **labels):
        emf_name, unit = _EMF_COUNTERS[name]
        self._flush([(emf_name, getattr(self.unit, unit), amount)])

    def gauge(self, name, value, **labels):
        self._flush([(_EMF_GAUGES[name], self.unit.Count, value)])

    def request(self, *, route, method, status, tier, seconds, throttle_scope, throttle, stats, request_id=None,
                function_name=None):
        unit = self.unit
        status_class = STATUS_CLASSES[status // 100 - 1] if 100 <= status < 600 else "5xx"
        latency_ms = seconds * 1000
        add = [("Requests", unit.Count, 1), ("Latency", unit.Milliseconds, latency_ms)]
        if status_class == "4xx":
            add.append(("Status4xx", unit.Count, 1))
        elif status_class == "5xx":
            add.append(("Status5xx", unit.Count, 1))
        if throttle == "rate_limited":
            add.append(("RateLimited", unit.Count, 1))
        elif throttle == "daily_quota_exceeded":
            add.append(("DailyQuotaExceeded", unit.Count, 1))
        for field, name, metric_unit in _EMF_REQUEST_FIELDS:
            value = getattr(stats, field)
            if value:
                add.append((name, getattr(unit, metric_unit), float(value) / 1e6 if field == "query_ns" else float(value)))
        if stats.holds_open is not None:
            add.append(("HoldsOpen", unit.Count, stats.holds_open))
        if self.cold:
            self.cold = False
            add.append(("ColdStart", unit.Count, 1))
        metadata = [("route", route), ("method", method), ("status", status), ("tier", tier)]
        if request_id:
            metadata.append(("request_id", request_id))
        if function_name:
            metadata.append(("function_name", function_name))
        self._flush(add, metadata)
        # Latency by route and status class: its own line, so that only these two metrics
        # (not every counter) are multiplied by route x status class in CloudWatch.
        self._flush(
            [("Requests", unit.Count, 1), ("Latency", unit.Milliseconds, latency_ms)],
            dimensions=[("route", route), ("status_class", status_class)],
        )


_EMF_COUNTERS = {
    "cache_hits": ("CacheHits", "Count"),
    "cache_misses": ("CacheMisses", "Count"),
    "redis_errors": ("RedisErrors", "Count"),
    "fail_open": ("FailOpenAdmissions", "Count"),
    "credits_charged": ("CreditsCharged", "Count"),
    "insufficient_credits": ("InsufficientCredits", "Count"),
    "audit_fallbacks": ("AuditFallbacks", "Count"),
}
_EMF_GAUGES = {"holds_open": "HoldsOpen", "audit_default_partition_rows": "AuditDefaultPartitionRows"}
_EMF_REQUEST_FIELDS = (
    ("cache_hits", "CacheHits", "Count"),
    ("cache_misses", "CacheMisses", "Count"),
    ("redis_errors", "RedisErrors", "Count"),
    ("fail_open", "FailOpenAdmissions", "Count"),
    ("queries", "DbQueries", "Count"),
    ("query_ns", "DbTime", "Milliseconds"),
    ("charged", "CreditsCharged", "Count"),
    ("insufficient_credits", "InsufficientCredits", "Count"),
    ("audit_fallbacks", "AuditFallbacks", "Count"),
)

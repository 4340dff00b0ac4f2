"""What an unreachable broker costs a request: ``POST usage`` with the broker up and down.

    python -m bench.audit_fallback [--duration 6] [--connections 16]   (make bench-audit)

Every charge writes an audit record after commit. With the broker up it is published to
Redis; with it down (``CELERY_BROKER_URL`` pointing at a port nothing listens on) the
publish fails and the record is written directly to the database. The same gunicorn
settings serve both runs; the report is each run's p50/p95/p99 and the difference of the
p99s, which is what the broker being down adds to a request (goal: at most 50 ms).
It also counts the audit rows the down run wrote, which must match its charges.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench import usage
from bench.harness import ensure_database, free_port, gunicorn, run_wrk
from bench.run import app_environment, prepare, services_from_environment


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    args = parser.parse_args(argv)

    services = services_from_environment()
    ensure_database(services["DATABASE_URL"])
    env = app_environment(services)
    prepare(env)
    from bench import run as bench_run

    keys = bench_run.USAGE_KEYS
    _name, path, lua = usage.targets(keys)[1]  # spread over 50 tenants
    dead = f"redis://127.0.0.1:{free_port()}/0"
    from django.db import connections

    from audit.models import AuditLog

    results = {}
    for label, broker in (("broker up", services["REDIS_URL"]), ("broker down", dead)):
        before = AuditLog.objects.filter(action="credits.usage").count()
        connections.close_all()
        with gunicorn({**env, "CELERY_BROKER_URL": broker}, workers=args.workers, args=("--keep-alive", "2")) as url:
            run_wrk(url + path, connections=args.connections, duration=args.warmup, lua=lua)
            result = run_wrk(url + path, connections=args.connections, duration=args.duration, lua=lua, percentiles=True)
        written = AuditLog.objects.filter(action="credits.usage").count() - before
        results[label] = result
        print(
            f"{label:<12} {result.rps:>7.0f} req/s  p50 {result.latency_p50_ms:.2f}  p95 {result.latency_p95_ms:.2f}  "
            f"p99 {result.latency_p99_ms:.2f} ms  non-2xx {result.non_2xx + result.socket_errors}  "
            f"audit rows written directly: {written}" + (" (the rest queued for a worker)" if label == "broker up" else ""),
            flush=True,
        )
    delay = results["broker down"].latency_p99_ms - results["broker up"].latency_p99_ms
    print(f"\np99 added by an unreachable broker: {delay:+.2f} ms (goal <= 50 ms): {'MET' if delay <= 50 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

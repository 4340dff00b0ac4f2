"""What rate limiting costs per request: the same authenticated endpoint served with the
limiter on and off, in one run, as a throughput ratio (goal: ≤ 10 % cost).

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.throttle_overhead

Two gunicorns (2 sync workers each, DEBUG off) serve the app on PostgreSQL + Redis, one
with RATELIMIT_ENABLED=1, one with 0. wrk drives GET /api/v1/tenant with a valid key at 16
connections, alternating between the two servers for several rounds so drift on a shared
machine hits both alike. The tenant's limits are set far above what the run can reach (and
include a daily quota, so both keys are written on every request): nothing is refused, and
what is measured is the check itself (the address pre-check and the tenant script).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from bench.harness import ROOT, ensure_database, gunicorn, run_wrk

SLUG = "bench-throttle"


def _require_services():
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database.startswith(("postgres://", "postgresql://")) or not redis.startswith("redis://"):
        sys.exit("set DATABASE_URL=postgres://... and REDIS_URL=redis://... (the benchmark measures the services mode)")
    return database


def _prepare() -> str:
    """Migrate, and a tenant with limits the run cannot reach; returns a fresh raw key."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "radiant.settings")
    import django

    django.setup()
    from tenants.models import Tenant
    from tenants.services import api_key_create, tenant_create, tier_seed

    tier_seed()
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = tenant_create(slug=SLUG, name="Benchmark", tier="enterprise")
    tenant.rps_override = tenant.burst_override = 1_000_000_000
    tenant.daily_quota_override = 1_000_000_000_000
    tenant.status = Tenant.Status.ACTIVE
    tenant.save()
    _, raw = api_key_create(tenant=tenant, name="bench")
    return raw


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=6, help="wrk runs per mode, alternating")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--path", default="/api/v1/tenant")
    args = parser.parse_args(argv)

    database = _require_services()
    ensure_database(database)
    raw_key = _prepare()
    headers = {"Authorization": f"Bearer {raw_key}"}
    base_env = {"DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING"}

    results = {"off": [], "on": []}
    with gunicorn({**base_env, "RATELIMIT_ENABLED": "0"}, workers=args.workers) as url_off, \
            gunicorn({**base_env, "RATELIMIT_ENABLED": "1"}, workers=args.workers) as url_on:
        urls = {"off": url_off + args.path, "on": url_on + args.path}
        for mode in ("off", "on"):  # warm up: imports, pools, the script cache
            run_wrk(urls[mode], connections=args.connections, duration=1, headers=headers)
        for round_ in range(args.rounds):
            order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
            for mode in order:
                result = run_wrk(urls[mode], connections=args.connections, duration=args.duration, headers=headers)
                results[mode].append(result)
                print(
                    f"round {round_ + 1} throttling {mode:>3}: {result.rps:8.1f} req/s  "
                    f"p50 {result.latency_p50_ms:6.2f} ms  p99 {result.latency_p99_ms:6.2f} ms  "
                    f"non-2xx {result.non_2xx}  socket errors {result.socket_errors}",
                    flush=True,
                )

    median = {mode: statistics.median(r.rps for r in runs) for mode, runs in results.items()}
    ratio = median["on"] / median["off"]
    # Each round ran both back to back: its ratio cancels drift in what else the machine does.
    paired = statistics.median(on.rps / off.rps for on, off in zip(results["on"], results["off"]))
    bad = sum(r.non_2xx + r.socket_errors for runs in results.values() for r in runs)
    print(
        f"\nthrottling off: {median['off']:.1f} req/s (median of {args.rounds})\n"
        f"throttling on:  {median['on']:.1f} req/s (median of {args.rounds})\n"
        f"ratio on/off:   {ratio:.3f} of medians, {paired:.3f} median of per-round ratios\n"
        f"throttle cost:  {100 * (1 - paired):.1f}% of throughput (goal <= 10%)"
    )
    if bad:
        print(f"WARNING: {bad} non-2xx responses or socket errors; the numbers above are suspect")
    print(json.dumps({
        "benchmark": "throttle_overhead", "path": args.path, "connections": args.connections,
        "workers": args.workers, "duration_s": args.duration, "rounds": args.rounds,
        "rps_off": round(median["off"], 1), "rps_on": round(median["on"], 1), "ratio": round(ratio, 4),
        "paired_ratio": round(paired, 4),
        "errors": bad,
    }))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())

"""``make bench``: the hot read path under load, as a ratio to a bare Django floor.

    python -m bench.run [--duration 8] [--warmup 2] [--out bench-results/latest.json]

What it does, in one run (under two minutes here):

1. Uses the PostgreSQL and Redis of ``DATABASE_URL`` / ``REDIS_URL``; when they are not set,
   a database and a Redis DB of its own (``BENCH_DATABASE_URL`` / ``BENCH_REDIS_URL``
   defaults below), and says so. Creates the database if missing and migrates it.
2. Seeds the demo reference data (catalog, configuration, translations) and a benchmark
   tenant whose own limits the run cannot reach (rps and burst of a billion, no daily
   quota): every request is checked and counted by the limiter, none is refused. Creates a
   fresh API key for it.
3. Starts two gunicorns with identical server settings (``--workers``, ``--worker-class``,
   ``--threads``, ``--keep-alive``): RADIANT with production-like settings (DEBUG off,
   pooled PostgreSQL connections, Redis cache and throttles, WARNING logs), and the floor,
   a bare Django project answering one JSON view (``bench/floor.py``). Default: sync
   workers, one more than the machine has cores (a worker waiting for Redis should not
   leave a core idle; on this 2-core machine 3 workers serve the floor as fast as 2 do, see
   docs/PERFORMANCE.md). Sync workers close the connection after each response.
4. Checks each endpoint once (200, JSON, rate-limit headers present: the throttle is on),
   which also warms the caches; then, for each target, a ``--warmup`` wrk run that is
   thrown away and a measured run, 16 connections. The floor is measured before and after
   every endpoint, and each endpoint's ratio is to the mean of those two floor runs: on a
   machine shared with other work, load that comes and goes during the run hits an
   endpoint and its own reference alike.
5. Prints the table (RPS, p50/p95/p99, non-2xx, ratio to the floor) and writes it as JSON.

wrk runs on the same machine as the servers, PostgreSQL and Redis: absolute numbers depend
on what else the machine does; the ratios are what to compare between runs.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench import gateway, usage
from bench.harness import ROOT, WRK, ensure_database, gunicorn, run_wrk

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/radiant_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
SLUG = "bench"
USAGE_KEYS: dict = {}  # filled by prepare(): the usage targets' tenants' keys
GATEWAY_KEY = ""  # filled by prepare(): the gateway target's tenant's key
HUGE = 1_000_000_000

# The goal for GET models, and the seed's targets (DESIGN.md §10).
GOAL_RATIO, GOAL_P99_MS = 0.5, 10.0
SEED_RPS, SEED_P50_MS, SEED_P95_MS, SEED_P99_MS, SEED_ERROR_RATE = 2000, 50, 200, 500, 0.001


def services_from_environment() -> dict[str, str]:
    database = os.environ.get("DATABASE_URL") or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis = os.environ.get("REDIS_URL") or os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        print(f"DATABASE_URL/REDIS_URL not both set: using the benchmark's own {database} and {redis}")
    if not database.startswith(("postgres://", "postgresql://")) or not redis.startswith("redis://"):
        sys.exit("the benchmark measures the services mode: DATABASE_URL=postgres://... REDIS_URL=redis://...")
    return {"DATABASE_URL": database, "REDIS_URL": redis}


def app_environment(services: dict[str, str]) -> dict[str, str]:
    """Production-like settings: what the served app, migrate and the seeding all use (the
    RLS context secret derives from the secret key, so they must agree)."""
    return {
        **services,
        "RADIANT_ENV": "production",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-not-a-secret-" + "x" * 32),
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": "1",
        "DJANGO_SETTINGS_MODULE": "radiant.settings",
        # TLS ends in front of the app (CloudFront, API Gateway); wrk speaks plain HTTP here.
        "SECURE_SSL_REDIRECT": "0",
    }


def prepare(env: dict[str, str], upstream_url: str | None = None) -> tuple[str, str]:
    """Migrate, seed reference data and the benchmark tenant; returns (raw key, language)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, check=True, env={**os.environ, **env},
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    from configuration.seed import config_seed
    from localization.models import Language
    from localization.seed import i18n_seed
    from models_catalog.seed import catalog_seed
    from tenants.models import ApiKey, Tenant
    from tenants.services import api_key_create, api_key_revoke, tenant_create, tier_seed

    tier_seed()
    catalog_seed(), config_seed(), i18n_seed()
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = tenant_create(slug=SLUG, name="Benchmark", tier="enterprise")
    tenant.rps_override = tenant.burst_override = HUGE
    tenant.daily_quota_override = 0  # unlimited
    tenant.status = Tenant.Status.ACTIVE
    tenant.save()
    for old in ApiKey.all_tenants.filter(tenant=tenant, revoked_at__isnull=True):
        api_key_revoke(prefix=old.prefix)  # keys of earlier runs
    _, raw = api_key_create(tenant=tenant, name="bench")
    global USAGE_KEYS, GATEWAY_KEY
    USAGE_KEYS = usage.prepare_tenants()
    if upstream_url is not None:  # the gateway's target (only bench.run serves an upstream)
        GATEWAY_KEY = gateway.prepare(upstream_url)
    language = Language.objects.exclude(is_default=True).order_by("code").values_list("code", flat=True).first()
    for connection in connections.all():
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
    return raw, language or "en"


def preflight(url: str, headers: dict[str, str], *, throttled: bool) -> dict:
    """One request: it must succeed with JSON (and rate-limit headers). Warms the caches."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        if response.status != 200 or not response.headers.get("Content-Type", "").startswith("application/json"):
            raise RuntimeError(f"{url}: {response.status} {response.headers.get('Content-Type')}")
        json.loads(body)
        if throttled and "X-RateLimit-Limit" not in response.headers:
            raise RuntimeError(f"{url}: no X-RateLimit-* headers; is the throttle on?")
        return {"bytes": len(body), "ratelimit_limit": response.headers.get("X-RateLimit-Limit")}


def _table(rows) -> str:
    lines = [
        f"{'target':<24} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'non-2xx':>7} "
        f"{'floor':>7} {'x floor':>7}",
    ]
    for row in rows:
        floor = f"{row['floor_rps']:>7.0f}" if row["floor_rps"] else f"{'':>7}"
        lines.append(
            f"{row['name']:<24} {row['rps']:>8.0f} {row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} "
            f"{row['p99_ms']:>7.2f} {row['non_2xx'] + row['socket_errors']:>7d} {floor} {row['ratio_to_floor']:>7.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds measured per endpoint")
    parser.add_argument("--floor-duration", type=int, default=5, help="seconds measured per floor run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", (os.cpu_count() or 1) + 1)))
    parser.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS", "sync"))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 1)))
    parser.add_argument("--keep-alive", type=int, default=int(os.environ.get("BENCH_KEEP_ALIVE", 2)))
    parser.add_argument("--only", help="comma-separated target names (default: all)")
    parser.add_argument("--out", default="bench-results/latest.json")
    args = parser.parse_args(argv)

    if not Path(WRK).exists() and not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    started = time.monotonic()
    services = services_from_environment()
    ensure_database(services["DATABASE_URL"])
    env = app_environment(services)
    upstream = contextlib.ExitStack()
    atexit.register(upstream.close)  # the upstream process goes with this one, however it ends
    upstream_url = upstream.enter_context(gateway.upstream())
    raw_key, language = prepare(env, upstream_url)
    auth = {"Authorization": f"Bearer {raw_key}"}
    server = {
        "workers": args.workers, "worker_class": args.worker_class, "threads": args.threads,
        "args": ("--keep-alive", str(args.keep_alive)),
    }

    floor = ("floor (bare Django)", "floor", "/floor", {}, False)
    endpoints = [  # name, server, path, headers, throttled (or a wrk script: POSTs)
        ("/healthz", "app", "/healthz", {}, False),
        ("GET /api/v1/tenant", "app", "/api/v1/tenant", auth, True),
        ("GET /api/v1/models", "app", "/api/v1/models", auth, True),
        ("GET /api/v1/config", "app", "/api/v1/config", auth, True),
        (f"GET /api/v1/i18n/{language}", "app", f"/api/v1/i18n/{language}", auth, True),
        *[(name, "app", path, {}, lua) for name, path, lua in usage.targets(USAGE_KEYS)],
    ]
    with_gateway = True
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        endpoints = [t for t in endpoints if any(w in t[0] for w in wanted)]
        with_gateway = any(w in "chat/completions" for w in wanted)
    schedule = [floor]
    for endpoint in endpoints:  # the floor before and after every endpoint: drift hits both
        schedule += [endpoint, floor]

    runs = []
    with gunicorn(env, app="bench.floor:application", **server) as floor_url, gunicorn(env, **server) as app_url:
        bases = {"floor": floor_url, "app": app_url}
        sizes = {}
        for name, where, path, headers, throttled in [floor, *endpoints]:
            if isinstance(throttled, str):  # a POST target: its wrk script checks nothing
                sizes[name] = 0
                continue
            for _ in range(3):  # the first fills the caches
                sizes[name] = preflight(bases[where] + path, headers, throttled=throttled)["bytes"]
        usage.first_replayable(app_url, USAGE_KEYS)
        print(
            f"gunicorn: {args.workers} {args.worker_class} workers x {args.threads} threads, keep-alive "
            f"{args.keep_alive}s; wrk: {args.connections} connections, {args.wrk_threads} threads; "
            f"{args.warmup}s warm-up + {args.duration}s per endpoint, the floor ({args.floor_duration}s) "
            f"before and after each\n",
            flush=True,
        )
        for name, where, path, headers, throttled in schedule:
            url = bases[where] + path
            lua = throttled if isinstance(throttled, str) else ""
            run_wrk(url, connections=args.connections, threads=args.wrk_threads, duration=args.warmup, headers=headers, lua=lua)
            result = run_wrk(
                url, connections=args.connections, threads=args.wrk_threads,
                duration=args.floor_duration if where == "floor" else args.duration,
                headers=headers, percentiles=True, lua=lua,
            )
            row = {
                "name": name, "path": path, "server": where, "body_bytes": sizes[name], "requests": result.requests,
                "rps": round(result.rps, 1), "p50_ms": result.latency_p50_ms, "p95_ms": result.latency_p95_ms,
                "p99_ms": result.latency_p99_ms, "non_2xx": result.non_2xx, "socket_errors": result.socket_errors,
            }
            runs.append(row)
            print(
                f"  {name:<24} {row['rps']:>8.0f} req/s  p50 {row['p50_ms']:.2f}  p95 {row['p95_ms']:.2f}  "
                f"p99 {row['p99_ms']:.2f} ms  non-2xx {row['non_2xx']}  socket errors {row['socket_errors']}",
                flush=True,
            )
        gateway_rows = []
        if with_gateway:
            gateway.check(app_url, upstream_url, GATEWAY_KEY)
            print("\nchat/completions through RADIANT vs the same upstream called directly:", flush=True)
            gateway_rows = gateway.measure(
                app_url, upstream_url, GATEWAY_KEY, run_wrk=run_wrk, warmup=args.warmup,
                duration=args.duration, wrk_threads=args.wrk_threads,
            )
    upstream.close()

    floors = [row for row in runs if row["server"] == "floor"]
    rows = [{
        "name": floor[0], "path": floor[2], "server": "floor", "body_bytes": sizes[floor[0]],
        "requests": sum(row["requests"] for row in floors),
        "rps": round(statistics.mean(row["rps"] for row in floors), 1),
        **{q: round(statistics.mean(row[q] for row in floors), 3) for q in ("p50_ms", "p95_ms", "p99_ms")},
        "non_2xx": sum(row["non_2xx"] for row in floors), "socket_errors": sum(row["socket_errors"] for row in floors),
        "floor_rps": None, "ratio_to_floor": 1.0, "runs": [row["rps"] for row in floors],
    }]
    for index, row in enumerate(runs):
        if row["server"] != "floor":
            adjacent = (runs[index - 1]["rps"] + runs[index + 1]["rps"]) / 2
            rows.append({**row, "floor_rps": round(adjacent, 1), "ratio_to_floor": round(row["rps"] / adjacent, 3)})
    print(
        f"\nfloor runs: {', '.join(f'{f:.0f}' for f in rows[0]['runs'])} req/s; each endpoint's ratio is to "
        "the mean of the floor runs just before and after it\n"
    )
    print(_table(rows))

    verdict = {}
    models = next((row for row in rows if row["path"] == "/api/v1/models"), None)
    if models is not None:
        verdict = {
            "ratio": models["ratio_to_floor"], "ratio_goal": GOAL_RATIO,
            "p99_ms": models["p99_ms"], "p99_goal_ms": GOAL_P99_MS,
            "non_2xx": models["non_2xx"] + models["socket_errors"],
            "met": models["ratio_to_floor"] >= GOAL_RATIO and models["p99_ms"] <= GOAL_P99_MS
            and models["non_2xx"] + models["socket_errors"] == 0,
        }
        print(
            f"\nGET models: {models['ratio_to_floor']:.2f}x floor (goal >= {GOAL_RATIO}), p99 {models['p99_ms']:.2f} ms "
            f"(goal <= {GOAL_P99_MS}), non-2xx {verdict['non_2xx']} (goal 0): {'MET' if verdict['met'] else 'MISSED'}"
        )

    charges = [row for row in rows if row["name"].startswith("POST usage")]
    usage_verdict = {}
    if charges:
        by_name = {row["name"]: row for row in rows}
        hot, spread = charges[0], charges[1] if len(charges) > 1 else None
        replay = next((row for row in charges if "replay" in row["name"]), None)
        get = by_name.get("GET /api/v1/tenant")
        failures = usage.ledger_failures()
        usage_verdict = {
            "hot_rps": hot["rps"], "hot_p99_ms": hot["p99_ms"],
            "spread_rps": spread["rps"] if spread else None, "spread_p99_ms": spread["p99_ms"] if spread else None,
            "replay_rps": replay["rps"] if replay else None, "get_tenant_rps": get["rps"] if get else None,
            "errors": sum(row["non_2xx"] + row["socket_errors"] for row in charges),
            "ledger_failures": len(failures),
        }
        print(
            f"\nPOST usage: hot {hot['rps']:.0f}/s p99 {hot['p99_ms']:.1f} ms (goal >= 1000/s, <= 50 ms); "
            + (f"{usage.SPREAD_TENANTS} tenants {spread['rps']:.0f}/s p99 {spread['p99_ms']:.1f} ms (goal >= 1200/s); "
               if spread else "")
            + (f"replay {replay['rps']:.0f}/s vs GET tenant {get['rps']:.0f}/s (goal: replay >= GET); " if replay and get else "")
            + f"non-2xx {usage_verdict['errors']}; ledger check: {'ok' if not failures else f'{len(failures)} tenants FAIL'}"
        )

    gateway_verdict = {}
    if gateway_rows:
        gateway_verdict = gateway.verdict(gateway_rows)
        gateway_verdict["breaker"] = gateway.breaker_cost()
        gateway_verdict["ledger_failures"] = len(usage.ledger_failures())
        print(
            f"\nchat/completions: {gateway_verdict['added_p50_ms']:.2f} ms added at p50, 1 connection (goal <= "
            f"{gateway.GOAL_ADDED_P50_MS}); {gateway_verdict['rps_16']:.0f}/s at 16 connections (goal >= "
            f"{gateway.GOAL_RPS_16:.0f}; the upstream alone: {gateway_verdict['direct_rps_16']:.0f}/s); "
            f"non-2xx {gateway_verdict['errors']}; ledger check: "
            f"{'ok' if not gateway_verdict['ledger_failures'] else 'FAIL'}: {'MET' if gateway_verdict['met'] else 'MISSED'}"
        )
        print(
            f"circuit breaker: {gateway_verdict['breaker']['admit_and_report_us']} µs a call "
            f"({gateway_verdict['breaker']['admit_and_report_cpu_us']} µs CPU; one Redis round trip)"
        )

    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "hot_read_path", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "python": platform.python_version()},
        "server": {"workers": args.workers, "worker_class": args.worker_class, "threads": args.threads,
                   "keep_alive_s": args.keep_alive},
        "wrk": {"connections": args.connections, "threads": args.wrk_threads, "warmup_s": args.warmup,
                "duration_s": args.duration, "floor_duration_s": args.floor_duration},
        "floor_rps": rows[0]["rps"], "rows": rows, "runs_in_order": runs, "goal": verdict, "usage": usage_verdict,
        "gateway": {"rows": gateway_rows, "goal": gateway_verdict},
        "seed_targets": {"rps": SEED_RPS, "p50_ms": SEED_P50_MS, "p95_ms": SEED_P95_MS, "p99_ms": SEED_P99_MS,
                         "error_rate": SEED_ERROR_RATE},
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)} ({result['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the request log and metrics cost: warm ``GET /api/v1/models`` with both on vs both off.

    python -m bench.observability [--duration 8] [--rounds 3]

Two gunicorns with identical server settings (``make bench``'s: sync workers, cores + 1,
production-like settings, ``radiant.gunicorn_conf`` for both) that differ only in
``REQUEST_LOG`` and ``METRICS_ENABLED``: on (a JSON line per request written to the
server's stderr, a file here; Prometheus multiprocess metrics) and off (the middleware
removes itself). wrk at 16 connections measures them alternately, off first and last:
off, on, off, on, ..., off. Each "on" run's ratio is to the mean of the "off" runs just
before and after it, so load that comes and goes on the machine hits both alike. Prints
every run, the ratios, their mean, and the cost (1 − ratio) against the goal of 5 %.

It also reads the CPU time the gunicorn workers used in each run (``/proc``, via psutil)
and divides it by the requests served: CPU per request on vs off is what the throughput
ratio comes from on a machine of our own, and it moves much less than throughput when
other work shares the cores (the throughput ratio is then the noisier of the two).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench.harness import ROOT, ensure_database, gunicorn, run_wrk
from bench.run import app_environment, preflight, prepare, services_from_environment
from bench.soak import _workers

GOAL_COST = 0.05
PATH = "/api/v1/models"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="'on' runs, each between two 'off' runs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default="bench-results/observability.json")
    args = parser.parse_args(argv)

    import os

    workers = args.workers or int(os.environ.get("BENCH_WORKERS", (os.cpu_count() or 1) + 1))
    started = time.monotonic()
    services = services_from_environment()
    ensure_database(services["DATABASE_URL"])
    env = app_environment(services)
    raw_key, _ = prepare(env)
    auth = {"Authorization": f"Bearer {raw_key}"}
    config = ("-c", "python:radiant.gunicorn_conf", "--keep-alive", "2")
    on_env = {**env, "REQUEST_LOG": "1", "METRICS_ENABLED": "1"}
    off_env = {**env, "REQUEST_LOG": "0", "METRICS_ENABLED": "0"}
    log_path = ROOT / "bench-results" / "observability-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    runs = []
    with gunicorn(off_env, workers=workers, args=config) as off_url, \
            gunicorn(on_env, workers=workers, args=config, log_path=str(log_path)) as on_url:
        bases = {"off": off_url, "on": on_url}
        for url in bases.values():
            for _ in range(3):
                preflight(url + PATH, auth, throttled=True)
        print(f"gunicorn: {workers} sync workers each; wrk: {args.connections} connections, "
              f"{args.warmup}s warm-up + {args.duration}s per run; GET {PATH} (warm)\n", flush=True)
        workers_of = {which: _workers(urlsplit(url).port) for which, url in bases.items()}

        def worker_cpu(which):
            return sum(sum(worker.cpu_times()[:2]) for worker in workers_of[which])

        schedule = ["off"] + ["on", "off"] * args.rounds
        for which in schedule:
            url = bases[which] + PATH
            run_wrk(url, connections=args.connections, duration=args.warmup, headers=auth)
            cpu = worker_cpu(which)
            result = run_wrk(url, connections=args.connections, duration=args.duration, headers=auth, percentiles=True)
            cpu = worker_cpu(which) - cpu
            row = {"which": which, "rps": round(result.rps, 1), "p50_ms": result.latency_p50_ms,
                   "p99_ms": result.latency_p99_ms, "non_2xx": result.non_2xx + result.socket_errors,
                   "worker_cpu_us_per_request": round(cpu / max(1, result.requests) * 1e6, 1)}
            runs.append(row)
            print(f"  {which:<4} {row['rps']:>8.0f} req/s  p50 {row['p50_ms']:.2f}  p99 {row['p99_ms']:.2f} ms  "
                  f"non-2xx {row['non_2xx']}  worker CPU {row['worker_cpu_us_per_request']:.0f} µs/request", flush=True)

    lines = sum(1 for line in log_path.read_text(errors="replace").splitlines() if '"event":"request"' in line)
    ratios = []
    for index, row in enumerate(runs):
        if row["which"] == "on":
            adjacent = (runs[index - 1]["rps"] + runs[index + 1]["rps"]) / 2
            ratios.append(round(row["rps"] / adjacent, 4))
    ratio = statistics.mean(ratios)
    cost = 1 - ratio
    errors = sum(row["non_2xx"] for row in runs)
    cpu_on = statistics.mean(row["worker_cpu_us_per_request"] for row in runs if row["which"] == "on")
    cpu_off = statistics.mean(row["worker_cpu_us_per_request"] for row in runs if row["which"] == "off")
    print(f"\non / off, each to its neighbours: {', '.join(f'{r:.3f}' for r in ratios)}; mean {ratio:.3f}")
    print(f"logging + metrics cost: {cost:.1%} of GET models throughput (goal <= {GOAL_COST:.0%}): "
          f"{'MET' if cost <= GOAL_COST and errors == 0 else 'MISSED'}; non-2xx {errors}; "
          f"{lines} request log lines written by the 'on' server")
    print(f"worker CPU per request: off {cpu_off:.0f} µs, on {cpu_on:.0f} µs ({cpu_on / cpu_off - 1:+.1%})")
    out = ROOT / args.out
    out.write_text(json.dumps({
        "benchmark": "observability_on_off", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "workers": workers, "runs_in_order": runs, "ratios": ratios, "mean_ratio": round(ratio, 4),
        "cost": round(cost, 4), "goal_cost": GOAL_COST,
        "worker_cpu_us_per_request": {"off": round(cpu_off, 1), "on": round(cpu_on, 1)},
        "non_2xx": errors, "request_log_lines": lines,
        "elapsed_s": round(time.monotonic() - started, 1),
    }, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

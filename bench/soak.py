"""Soak: a minute at a realistic mixed rate; each worker's memory at start and end, errors.

    python -m bench.soak [--seconds 60] [--rate 200]

Serves the app like ``make bench`` does (production-like settings, cores + 1 sync workers,
request log and metrics on) and drives it with the load tests' open-loop shape
(``tests/load/locustfile.py --radiant-profile open``): requests start at ``--rate`` per
second whatever the response times, over tenants of every tier seeded for the run (reads,
conditional reads, charges when the server has them, plus the over-limit tenants whose 429s
are expected). Every 2 s it samples the resident memory (RSS) of each gunicorn worker.

Reports per worker the RSS after the warm-up (the first 10 s, when modules load and caches
fill) and at the end, and calls memory *growing* when a worker's RSS over the last third of
the run is above its RSS over the middle third by more than 2 MB and 2 % (a leak keeps
climbing; a warmed-up process levels off). Errors: the load report's unexpected responses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psutil

from bench.harness import ROOT, ensure_database, gunicorn
from bench.run import app_environment, services_from_environment

WARMUP_S = 10
SAMPLE_EVERY_S = 2.0
GROWTH_MB, GROWTH_FRACTION = 2.0, 0.02


def _workers(port: int) -> list[psutil.Process]:
    """The gunicorn master listening on ``port`` and its workers."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            master = psutil.Process(connection.pid)
            while master.parent() is not None and "gunicorn" in " ".join(master.parent().cmdline()):
                master = master.parent()
            return master.children()
    return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=200.0, help="arrivals per second")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", (os.cpu_count() or 1) + 1)))
    parser.add_argument("--out", default="bench-results/soak.json")
    args = parser.parse_args(argv)

    services = services_from_environment()
    ensure_database(services["DATABASE_URL"])
    env = {**app_environment(services), "REQUEST_LOG": "1", "METRICS_ENABLED": "1"}
    run_env = {**os.environ, **env}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=run_env, check=True)
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(parents=True, exist_ok=True)
    tenants, report = out_dir / "soak-tenants.json", out_dir / "soak-load-report.json"
    subprocess.run([sys.executable, "-m", "tests.load.seed", "--out", str(tenants), "--per-tier", "4"],
                   cwd=ROOT, env=run_env, check=True, capture_output=True)

    samples: dict[int, list[tuple[float, float]]] = {}
    done = threading.Event()
    with gunicorn(env, workers=args.workers, args=("-c", "python:radiant.gunicorn_conf", "--keep-alive", "2"),
                  log_path=str(out_dir / "soak-server.log")) as url:
        port = urlsplit(url).port
        started = time.monotonic()

        def sample():
            while not done.is_set():
                now = time.monotonic() - started
                for worker in _workers(port):
                    try:
                        samples.setdefault(worker.pid, []).append((now, worker.memory_info().rss / 2**20))
                    except psutil.NoSuchProcess:
                        pass
                done.wait(SAMPLE_EVERY_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        command = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "tests" / "load" / "locustfile.py"), "--headless",
            "--host", url, "--only-summary", "--loglevel", "WARNING", "--radiant-profile", "open",
            "--radiant-tenants", str(tenants), "--radiant-report", str(report),
            "--radiant-rate", str(args.rate), "--radiant-duration", str(args.seconds),
        ]
        locust = subprocess.run(command, cwd=ROOT, env=run_env, capture_output=True, text=True,
                                timeout=args.seconds + 120)
        done.set()
        sampler.join()

    load = json.loads(report.read_text()) if report.exists() else {}
    rows, growing_any = [], False
    for pid, points in sorted(samples.items()):
        after_warmup = [rss for t, rss in points if t >= WARMUP_S] or [rss for _, rss in points]
        third = max(1, len(after_warmup) // 3)
        middle = statistics.mean(after_warmup[third:2 * third] or after_warmup)
        last = statistics.mean(after_warmup[-third:])
        growing = last - middle > GROWTH_MB and last > middle * (1 + GROWTH_FRACTION)
        growing_any |= growing
        rows.append({"pid": pid, "rss_start_mb": round(after_warmup[0], 1), "rss_end_mb": round(after_warmup[-1], 1),
                     "middle_third_mb": round(middle, 1), "last_third_mb": round(last, 1), "samples": len(points),
                     "growing": growing})
    errors = sum((load.get("unexpected") or {}).values()) if load else None
    print(load and _summary(load))
    print(f"\nsoak: {args.seconds} s at {args.rate:g} arrivals/s, {args.workers} workers; RSS per worker "
          f"(after {WARMUP_S} s warm-up -> end):")
    for row in rows:
        print(f"  worker {row['pid']}: {row['rss_start_mb']} -> {row['rss_end_mb']} MB (middle third "
              f"{row['middle_third_mb']}, last third {row['last_third_mb']}){'  GROWING' if row['growing'] else ''}")
    print(f"errors: {errors}; memory keeps growing: {'yes' if growing_any else 'no'}"
          + ("" if locust.returncode == 0 else f"; locust exit {locust.returncode}"))
    (ROOT / args.out).write_text(json.dumps({
        "benchmark": "soak", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": args.seconds, "rate": args.rate, "workers": rows, "errors": errors,
        "memory_growing": growing_any, "load": load,
    }, indent=2) + "\n")
    return 0


def _summary(load: dict) -> str:
    ok = load["expected_success"]
    return (f"load: offered {load['offered_rps']} req/s, achieved {load['achieved_rps']} req/s, "
            f"dropped arrivals {load['dropped_arrivals']}, p50/p95/p99 {ok['p50_ms']:.1f}/{ok['p95_ms']:.1f}/"
            f"{ok['p99_ms']:.1f} ms, statuses {ok['statuses']}, over-limit {load['over_limit']['statuses']}"
            + (f"; {load['usage_note']}" if load["usage_note"] else ""))


if __name__ == "__main__":
    sys.exit(main())

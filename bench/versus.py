"""``make bench-versus``: this tree against an earlier revision, under the same load, in one run.

    python -m bench.versus --base REV [--rounds 3] [--duration 6] [--workers 3]

What a change costs is best measured as a ratio to the code before it, in the same run: the
machine is shared and its speed comes and goes. Both revisions are served side by side by
identical gunicorns (the earlier one from a detached git worktree under ``build/``), each on
a database and a Redis DB of its own (a revision's migrations and its RLS functions must
match its code), seeded by that revision's own ``bench.run.prepare``. Each endpoint is then
measured alternately, base then this tree, ``--rounds`` times, and the table gives the mean
requests per second of each and their ratio, with p99.

Endpoints: ``GET models`` warm (one Redis round trip, no SQL), and ``GET api-keys``, which
reads the database on every request: the cost of setting the tenant context shows there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.harness import ROOT, ensure_database, gunicorn, run_wrk
from bench.run import app_environment, preflight, services_from_environment

ENDPOINTS = [("GET /api/v1/models", "/api/v1/models"), ("GET /api/v1/api-keys", "/api/v1/api-keys")]
VERSUS_REDIS_DBS = (int(os.environ.get("VERSUS_REDIS_DB_BASE", 5)), int(os.environ.get("VERSUS_REDIS_DB_HEAD", 6)))
PREPARE = "import json, os, sys; from bench.run import prepare; print(json.dumps(prepare(json.loads(sys.argv[1]))[0]))"


def worktree(revision: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", revision], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    path = ROOT / "build" / f"versus-{sha[:12]}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=ROOT, check=True, capture_output=True)
    return path


def side_services(services: dict[str, str], name: str, redis_db: int) -> dict[str, str]:
    database = urlsplit(services["DATABASE_URL"])
    redis = urlsplit(services["REDIS_URL"])
    return {
        "DATABASE_URL": urlunsplit(database._replace(path=f"/radiant_versus_{name}")),
        "REDIS_URL": urlunsplit(redis._replace(path=f"/{redis_db}")),
    }


def prepare(tree: Path, env: dict[str, str]) -> str:
    """Migrate and seed with the revision's own code; returns its benchmark key."""
    result = subprocess.run(
        [sys.executable, "-c", PREPARE, json.dumps(env)], cwd=tree, env={**os.environ, **env},
        check=True, capture_output=True, text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    args = parser.parse_args(argv)

    services = services_from_environment()
    sides = {"base": worktree(args.base), "head": ROOT}
    envs, keys = {}, {}
    for index, (name, tree) in enumerate(sides.items()):
        envs[name] = app_environment(side_services(services, name, VERSUS_REDIS_DBS[index]))
        ensure_database(envs[name]["DATABASE_URL"])
        keys[name] = prepare(tree, envs[name])

    server = {"workers": args.workers, "args": ("--keep-alive", "2")}
    results = {name: {path: [] for _, path in ENDPOINTS} for name in sides}
    with gunicorn(envs["base"], cwd=sides["base"], **server) as base_url, gunicorn(envs["head"], **server) as head_url:
        urls = {"base": base_url, "head": head_url}
        for name in sides:
            for _, path in ENDPOINTS:
                for _ in range(3):
                    preflight(urls[name] + path, {"Authorization": f"Bearer {keys[name]}"}, throttled=True)
        print(f"{args.workers} sync workers each; wrk {args.connections} connections, {args.duration}s per run, "
              f"{args.rounds} rounds of base then head\n", flush=True)
        for _ in range(args.rounds):
            for _, path in ENDPOINTS:
                for name in sides:
                    headers = {"Authorization": f"Bearer {keys[name]}"}
                    run_wrk(urls[name] + path, connections=args.connections, duration=args.warmup, headers=headers)
                    result = run_wrk(urls[name] + path, connections=args.connections, duration=args.duration,
                                     headers=headers, percentiles=True)
                    results[name][path].append(result)
                    print(f"  {name:<5} {path:<20} {result.rps:>8.0f} req/s  p99 {result.latency_p99_ms:.2f} ms"
                          f"  non-2xx {result.non_2xx + result.socket_errors}", flush=True)

    print(f"\n{'endpoint':<22} {'base req/s':>10} {'head req/s':>10} {'head/base':>9} {'base p99':>9} {'head p99':>9}")
    for label, path in ENDPOINTS:
        base, head = (statistics.mean(r.rps for r in results[name][path]) for name in ("base", "head"))
        p99 = {name: statistics.mean(r.latency_p99_ms for r in results[name][path]) for name in ("base", "head")}
        print(f"{label:<22} {base:>10.0f} {head:>10.0f} {head / base:>9.3f} {p99['base']:>9.2f} {p99['head']:>9.2f}")
    errors = sum(r.non_2xx + r.socket_errors for side in results.values() for runs in side.values() for r in runs)
    print(f"\nnon-2xx and socket errors in all runs: {errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

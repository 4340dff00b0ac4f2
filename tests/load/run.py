"""Run a load profile end to end: seed tenants, serve, drive with Locust, check the ledger.

    python -m tests.load.run --profile smoke            # what CI runs (about a minute)
    python -m tests.load.run --profile load|stress|open [--rate 300 --duration 120]
    python -m tests.load.run --profile smoke --url http://127.0.0.1:8000   # a server already running

Without ``--url`` it migrates the database of ``DATABASE_URL`` (PostgreSQL) and serves the
app with gunicorn (``--workers``, multiprocess metrics, production-like settings) on a free
loopback port, against ``REDIS_URL``. With ``--url`` it seeds through ``DATABASE_URL`` and
loads that server. Then it runs Locust headless (``tests/load/locustfile.py``), prints its
report, and afterwards runs ``manage.py verify_ledger`` when the project has that command.
Exits 1 on any unexpected error (or a ledger that does not add up), 0 otherwise. The server's
log is kept (``build/load/server.log``) and checked for the tenants' API keys.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from bench.harness import ROOT, ensure_database, gunicorn

OUT = ROOT / "build" / "load"


def _environment() -> dict[str, str]:
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database.startswith(("postgres://", "postgresql://")) or not redis.startswith("redis://"):
        sys.exit("load tests run against the services mode: DATABASE_URL=postgres://... REDIS_URL=redis://...")
    return {
        "DATABASE_URL": database, "REDIS_URL": redis, "RADIANT_ENV": "production",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "load-test-only-not-a-secret-" + "x" * 32),
        "DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "radiant.settings",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback: no TLS proxy to redirect to
    }


def _manage(env, *args, check=True):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.exit(f"load: manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def _locust(url, args, tenants_file, report_file) -> int:
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "tests" / "load" / "locustfile.py"), "--headless",
        "--host", url, "--only-summary", "--loglevel", "WARNING",
        "--radiant-profile", args.profile, "--radiant-tenants", str(tenants_file), "--radiant-report", str(report_file),
        "--radiant-rate", str(args.rate), "--radiant-duration", str(args.duration),
    ]
    limit = {"smoke": 120, "load": 420, "stress": 300, "open": args.duration + 120}[args.profile]
    try:
        return subprocess.run(command, cwd=ROOT, timeout=limit).returncode
    except subprocess.TimeoutExpired:
        print(f"load: locust did not stop within {limit} s", file=sys.stderr)
        return 1


def _verify_ledger(env) -> tuple[bool, str]:
    commands = _manage(env, "help", "--commands").stdout.split()
    if "verify_ledger" not in commands:
        return True, "manage.py verify_ledger does not exist in this build: ledger not checked"
    result = _manage(env, "verify_ledger", check=False)
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0, f"verify_ledger exit {result.returncode}: {output[-2000:]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["smoke", "load", "stress", "open"], default="smoke")
    parser.add_argument("--url", help="load this server instead of starting one")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-tier", type=int, default=2, help="tenants per tier")
    parser.add_argument("--rate", type=float, default=150.0, help="open profile: arrivals per second")
    parser.add_argument("--duration", type=int, default=60, help="open profile: seconds")
    args = parser.parse_args(argv)

    env = _environment()
    OUT.mkdir(parents=True, exist_ok=True)
    tenants_file, report_file, server_log = OUT / "tenants.json", OUT / f"report-{args.profile}.json", OUT / "server.log"
    if not args.url:
        ensure_database(env["DATABASE_URL"])
        _manage(env, "migrate", "--noinput", "-v", "0")
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.load.seed", "--out", str(tenants_file), "--per-tier", str(args.per_tier)],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
    )
    if seeded.returncode != 0:
        print(seeded.stdout + seeded.stderr, file=sys.stderr)
        return 1
    if args.url:
        status = _locust(args.url, args, tenants_file, report_file)
    else:
        with gunicorn(env, workers=args.workers, log_path=str(server_log),
                      args=("-c", "python:radiant.gunicorn_conf")) as url:
            status = _locust(url, args, tenants_file, report_file)
    ledger_ok, ledger_note = _verify_ledger(env)
    print(f"load: {ledger_note}")
    if not args.url:
        keys = [t["key"] for t in json.loads(tenants_file.read_text())["tenants"]]
        log = server_log.read_text(errors="replace")
        if any(key in log for key in keys):
            print("load: an API key appears in the server's log", file=sys.stderr)
            status = 1
    if not report_file.exists():
        print("load: locust wrote no report", file=sys.stderr)
        return 1
    return 0 if status == 0 and ledger_ok else 1


if __name__ == "__main__":
    sys.exit(main())

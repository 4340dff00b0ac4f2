"""Schema-driven fuzzing: schemathesis against a live gunicorn on PostgreSQL and Redis.

``python -m tests.fuzz`` (``.ci/run`` runs it; needs DATABASE_URL=postgres://... and
REDIS_URL): migrates the database, creates a tenant whose limits the run cannot exhaust
and a key for it, serves the app with gunicorn on a free port, and runs schemathesis over
every operation of /api/schema/ with a bounded number of examples. It fails (exit 1) when
a check fails: a 5xx, a status, header or body the schema does not document, a documented
content type not used (every error is application/problem+json: that is all the schema
allows for them). ``--settings`` serves another settings module (the test that proves a
5xx fails the run).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance",
])


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def ensure_database(url: str) -> None:
    """Create the database of ``url`` if it does not exist yet (a fresh CI machine)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def tenant_key(env) -> str:
    ensure_database(env["DATABASE_URL"])
    manage("migrate", "--noinput", "-v0", env=env)
    manage("seed_demo", env=env)  # catalog, config and translations to read
    slug = f"fuzz-{os.getpid()}"
    manage("create_tenant", "--slug", slug, "--name", "Fuzz", "--tier", "enterprise",
           "--rps", "100000", "--burst", "1000000", "--daily", "0", env=env)
    return json.loads(manage("create_api_key", "--tenant", slug, "--name", "fuzz", env=env))["key"]


def wait_ready(url, server, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz: gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("fuzz: gunicorn did not come up")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", "25")))
    parser.add_argument("--settings", default="radiant.settings")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": args.settings, "PYTHONPATH": str(ROOT)}
    if not env.get("DATABASE_URL", "").startswith("postgres") or not env.get("REDIS_URL"):
        raise SystemExit("fuzz: needs DATABASE_URL=postgres://... and REDIS_URL")
    key = tenant_key(env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        # No request-line limit in gunicorn: the app's own (a 414 problem, documented) is the
        # contract under test; a front server's limit and its error page are not the API's.
        # No access log unless asked for: gunicorn's own line for a request it refuses before
        # the app (a header it cannot parse) fails to format and prints a traceback.
        [str(BIN / "gunicorn"), "radiant.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--limit-request-line", "0",
         *(["--access-logfile", "-"] if os.environ.get("FUZZ_ACCESS_LOG") else [])],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        wait_ready(url, server)
        command = [
            str(BIN / "schemathesis"), "run", f"{url}/api/schema/", "--url", url,
            "-H", f"Authorization: Bearer {key}", "--checks", CHECKS,
            "--max-examples", str(args.max_examples), "--phases", "examples,coverage,fuzzing",
            "--request-timeout", "10", "--workers", "2", "--generation-allow-x00", "false",
            "--suppress-health-check", "all",
        ]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)


if __name__ == "__main__":
    sys.exit(main())

"""``make profile``: where a warm request of the hot path spends its time.

    python -m bench.profile [--path /api/v1/models] [--requests 3000]
    python -m bench.profile --path /api/v1/usage --method POST --body '{"model": ...}'

A POST charges the benchmark's hot usage tenant (bench/usage.py), which has credits.

Same production-like settings and services as ``make bench`` (it prepares the database and
the benchmark tenant the same way), but no server and no load generator: the request is
sent through Django's WSGI handler in a loop in this process, so the profile holds nothing
but the application's own work per request (gunicorn's parsing and the socket are the same
for every endpoint and for the floor, and ``make bench`` measures them).

It prints the microseconds per request of the loop without a profiler (the number to
compare before and after a change) next to the same loop on the bare Django floor, then
runs the loop again under pyinstrument (which slows it down) and writes

- ``bench-results/profile-<name>.html``: the interactive call tree;
- ``bench-results/profile-<name>.txt``: the same as text, also printed.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bench.harness import ROOT, ensure_database
from bench.run import app_environment, prepare, services_from_environment


def _environ(path: str, headers: dict[str, str], method: str = "GET", body: bytes = b"") -> dict:
    parts = urlsplit(path)
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json" if body else "", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def loop(application, path: str, headers: dict[str, str], count: int, method: str = "GET", body: bytes = b"") -> float:
    """Send ``count`` requests; returns µs per request. Every answer must be a 2xx."""
    statuses = []

    def start_response(status, response_headers, exc_info=None):
        statuses.append(status)

    begin = time.perf_counter()
    for _ in range(count):
        environ = _environ(path, headers, method, body)
        answer = application(environ, start_response)
        for _chunk in answer:
            pass
        if hasattr(answer, "close"):
            answer.close()
    elapsed = time.perf_counter() - begin
    bad = [s for s in statuses if not s.startswith("2")]
    if bad:
        raise RuntimeError(f"{path}: {len(bad)} non-200 answers, e.g. {bad[0]}")
    return elapsed / count * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/api/v1/models")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--anonymous", action="store_true", help="send no API key (e.g. /healthz)")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="", help="JSON body (with --method POST)")
    parser.add_argument("--interval-ms", type=float, default=0.5, help="pyinstrument sampling interval")
    parser.add_argument("--floor", action="store_true", help="only time the bare Django floor (bench/floor.py)")
    args = parser.parse_args(argv)

    if args.floor:  # its own process: the floor configures Django its own way
        import bench.floor

        loop(bench.floor.application, "/floor", {}, 500)
        cpu = time.process_time()
        wall = loop(bench.floor.application, "/floor", {}, args.requests)
        print(f"floor: {wall:.0f} µs per request in-process, {(time.process_time() - cpu) / args.requests * 1e6:.0f} µs CPU")
        return 0

    from pyinstrument import Profiler

    services = services_from_environment()
    ensure_database(services["DATABASE_URL"])
    env = app_environment(services)
    raw_key, _ = prepare(env)
    if args.method != "GET":
        from bench.run import USAGE_KEYS

        raw_key = USAGE_KEYS["hot"]  # a tenant with credits to spend
    headers = {} if args.anonymous else {"Authorization": f"Bearer {raw_key}"}
    request = {"method": args.method, "body": args.body.encode()}

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    loop(application, args.path, headers, 200, **request)  # warm: caches, imports, connections
    per_loop = args.requests // 3
    runs = []
    for _ in range(3):
        cpu = time.process_time()
        wall = loop(application, args.path, headers, per_loop, **request)
        runs.append((wall, (time.process_time() - cpu) / per_loop * 1e6))
    wall, cpu = min(runs)
    print(
        f"{args.path}: {wall:.0f} µs per request in-process, {cpu:.0f} µs of it on this process's CPU "
        f"(best of 3 loops of {per_loop}; the rest is waiting for Redis)"
    )

    subprocess.run([sys.executable, "-m", "bench.profile", "--floor", "--requests", str(per_loop)], cwd=ROOT, check=True)

    profiler = Profiler(interval=args.interval_ms / 1000)
    profiler.start()
    loop(application, args.path, headers, args.requests, **request)
    profiler.stop()

    name = args.path.strip("/").replace("/", "-").replace("?", "-") or "root"
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    (out_dir / f"profile-{name}.txt").write_text(text)
    (out_dir / f"profile-{name}.html").write_text(profiler.output_html())
    print(text)
    print(f"written to bench-results/profile-{name}.html and .txt")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())

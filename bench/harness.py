"""Reusable pieces for benchmarks and end-to-end tests: a real gunicorn serving the app,
wrk driving it, and wrk's output parsed into numbers.

Everything binds and targets 127.0.0.1 only, and every process started here is stopped by
the context manager that started it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
WRK = os.environ.get("WRK") or shutil.which("wrk") or "/usr/bin/wrk"
HOST = "127.0.0.1"


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if it does not exist yet."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn not ready at {url} after {timeout} s")


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, worker_class: str = "sync", threads: int = 1,
             access_log: str | None = None, timeout: float = 30.0, app: str = "radiant.wsgi:application",
             args: tuple[str, ...] = (), cwd: Path | str | None = None, log_path: str | None = None):
    """Serve ``app`` (radiant.wsgi by default) with gunicorn on a free local port; yields
    the base URL.

    ``env`` is added to this process's environment (DATABASE_URL, REDIS_URL, settings).
    With ``access_log`` each request is logged as ``<worker pid> <status>``. ``args`` are
    further gunicorn options (e.g. ``--keep-alive``); the app must answer ``/healthz``.
    ``cwd``: the source tree to serve (default: this one).
    With ``log_path`` the servers' stderr (the app's log lines) is written there.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"{HOST}:{port}", "--workers", str(workers), "--worker-class", worker_class,
        "--threads", str(threads), "--log-level", "warning", "--graceful-timeout", "5", *args,
    ]
    if access_log:
        command += ["--access-logfile", access_log, "--access-logformat", "%(p)s %(s)s"]
    stderr = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()
    process = subprocess.Popen(
        command, cwd=cwd or ROOT, env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=stderr,
    )
    url = f"http://{HOST}:{port}"
    try:
        _wait_ready(url, process, timeout)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
        stderr.close()
        if process.returncode not in (0, -signal.SIGTERM) and text.strip():
            print(f"[gunicorn stderr]\n{text[-4000:]}", file=sys.stderr)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    latency_avg_ms: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    non_2xx: int
    socket_errors: int
    latency_p95_ms: float | None = None  # only with run_wrk(percentiles=True)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """wrk's (``--latency``) text report -> numbers."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    latency = re.search(r"Latency\s+(\S+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    exact = re.search(r"^RADIANT-PERCENTILES p50=(\d+) p95=(\d+) p99=(\d+)$", output, re.M)
    if exact:  # µs, from _PERCENTILES_SCRIPT: more digits than wrk's own table, and p95
        p50, p95, p99 = (int(v) / 1000 for v in exact.groups())
        return WrkResult(
            requests=requests, rps=rps,
            latency_avg_ms=_ms(latency.group(1)) if latency else float("nan"),
            latency_p50_ms=p50, latency_p99_ms=p99, latency_p95_ms=p95,
            non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
            socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        )
    return WrkResult(
        requests=requests,
        rps=rps,
        latency_avg_ms=_ms(latency.group(1)) if latency else float("nan"),
        latency_p50_ms=_ms(p50.group(1)) if p50 else None,
        latency_p99_ms=_ms(p99.group(1)) if p99 else None,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


# wrk's --latency table has no p95: a done() hook prints the percentiles wanted, in µs.
_PERCENTILES_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RADIANT-PERCENTILES p50=%d p95=%d p99=%d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(url: str, *, connections: int = 16, threads: int = 2, duration: int = 5,
            headers: dict[str, str] | None = None, percentiles: bool = False, lua: str = "") -> WrkResult:
    """Drive ``url`` with wrk for ``duration`` seconds (local targets only).

    With ``percentiles`` the result also has p95, and p50/p99 to the microsecond. ``lua``:
    a wrk script of the caller's (e.g. a ``request`` function sending POSTs).
    """
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError("benchmarks target 127.0.0.1 only")
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    script = None
    if percentiles or lua:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(lua + "\n" + (_PERCENTILES_SCRIPT if percentiles else ""))
        script.close()
        command += ["-s", script.name]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    return parse_wrk(output)

"""``POST chat/completions`` through RADIANT against the same upstream called directly.

For ``make bench`` (bench/run.py runs it on its gunicorn): a local OpenAI-compatible
upstream (``tests/gateway/upstream.py``, in a process of its own, keep-alive) answers a
16-token completion; wrk sends the same request body to it directly and to
``/api/v1/chat/completions`` (a bench tenant with credits and limits the run cannot
exhaust, a provider pointing at the upstream), with 1 and with 16 connections. Every call
through RADIANT is authenticated, rate-limited, held for, called and settled in the ledger;
the ledger is checked afterwards (bench/run.py).

Reported: requests/s and p50/p95/p99 of each; the added latency at p50 (RADIANT's p50 minus
the direct p50, 1 connection); the goals: at most 3 ms added at p50, at least 1,000
completions/s at 16 connections.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from bench.harness import HOST, ROOT, free_port
from bench.usage import funded_tenant_key

MODEL = "bench-chat"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say something nice about benchmarks."}], "max_tokens": 16}
GOAL_ADDED_P50_MS = 3.0
GOAL_RPS_16 = 1000.0


@contextmanager
def upstream():
    """The upstream in a process of its own; yields its base URL (…/v1)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.upstream", "--port", str(port)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        process.stdout.readline()  # "upstream on ..." once it listens
        yield f"http://{HOST}:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


def prepare(base_url: str) -> str:
    """The provider, the routed model and a funded bench tenant (after django.setup()).
    Returns the tenant's raw API key."""
    from decimal import Decimal

    from gateway.models import ModelRoute, Provider
    from models_catalog.models import AIModel

    provider, _ = Provider.objects.update_or_create(slug="bench-upstream", defaults={
        "kind": "openai", "base_url": base_url, "credential": "", "timeout_seconds": 30, "max_retries": 0,
    })
    model, _ = AIModel.all_tenants.update_or_create(tenant=None, slug=MODEL, defaults={
        "display_name": "Bench chat", "provider": "bench", "category": "chat", "status": "active", "is_enabled": True,
        "input_cost_per_1k": Decimal("0.001"), "output_cost_per_1k": Decimal("0.002"), "context_window": 8192,
    })
    ModelRoute.objects.update_or_create(model=model, defaults={"provider": provider, "max_output_tokens": 64})
    return funded_tenant_key("bench-gateway", "Bench gateway")


def _lua(path: str, key: str | None) -> str:
    auth = f', ["Authorization"] = "Bearer {key}"' if key else ""
    return f"""
local body = '{json.dumps(BODY)}'
request = function()
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json"{auth}}}, body)
end
"""


def check(app_url: str, upstream_url: str, key: str) -> None:
    """One call each way: both must answer 200 with a completion."""
    for url, headers in ((app_url + "/api/v1/chat/completions", {"Authorization": f"Bearer {key}"}),
                         (upstream_url + "/chat/completions", {})):
        request = urllib.request.Request(url, data=json.dumps(BODY).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200 or "choices" not in json.loads(response.read()):
                raise RuntimeError(f"{url}: {response.status}")


def targets(app_url: str, upstream_url: str, key: str) -> list[tuple[str, str, int, str]]:
    """(name, url, connections, wrk lua), direct and through RADIANT alternating."""
    direct = upstream_url + "/chat/completions"
    through = app_url + "/api/v1/chat/completions"
    return [
        ("chat direct (1 conn)", direct, 1, _lua("/v1/chat/completions", None)),
        ("chat via RADIANT (1 conn)", through, 1, _lua("/api/v1/chat/completions", key)),
        ("chat direct (16 conn)", direct, 16, _lua("/v1/chat/completions", None)),
        ("chat via RADIANT (16 conn)", through, 16, _lua("/api/v1/chat/completions", key)),
    ]


def verdict(rows: list[dict]) -> dict:
    by = {row["name"]: row for row in rows}
    direct1, via1 = by["chat direct (1 conn)"], by["chat via RADIANT (1 conn)"]
    direct16, via16 = by["chat direct (16 conn)"], by["chat via RADIANT (16 conn)"]
    added = via1["p50_ms"] - direct1["p50_ms"]
    errors = sum(row["non_2xx"] + row["socket_errors"] for row in rows)
    return {
        "added_p50_ms": round(added, 3), "added_p50_goal_ms": GOAL_ADDED_P50_MS,
        "added_p50_ms_16": round(via16["p50_ms"] - direct16["p50_ms"], 3),
        "rps_16": via16["rps"], "rps_16_goal": GOAL_RPS_16, "direct_rps_16": direct16["rps"],
        "errors": errors,
        "met": added <= GOAL_ADDED_P50_MS and via16["rps"] >= GOAL_RPS_16 and errors == 0,
    }


def measure(app_url, upstream_url, key, *, run_wrk, warmup: int, duration: int, wrk_threads: int) -> list[dict]:
    rows = []
    for name, url, connections, lua in targets(app_url, upstream_url, key):
        threads = min(wrk_threads, connections)
        run_wrk(url, connections=connections, threads=threads, duration=warmup, lua=lua)
        result = run_wrk(url, connections=connections, threads=threads, duration=duration, percentiles=True, lua=lua)
        row = {
            "name": name, "path": url.split(":", 2)[2].split("/", 1)[1], "server": "gateway", "connections": connections,
            "requests": result.requests, "rps": round(result.rps, 1), "p50_ms": result.latency_p50_ms,
            "p95_ms": result.latency_p95_ms, "p99_ms": result.latency_p99_ms, "non_2xx": result.non_2xx,
            "socket_errors": result.socket_errors,
        }
        rows.append(row)
        print(f"  {name:<28} {row['rps']:>8.0f} req/s  p50 {row['p50_ms']:.2f}  p95 {row['p95_ms']:.2f}  "
              f"p99 {row['p99_ms']:.2f} ms  non-2xx {row['non_2xx']}  socket errors {row['socket_errors']}", flush=True)
        time.sleep(0.5)
    return rows


def breaker_cost(calls: int = 2000) -> dict:
    """What the circuit breaker adds to a call, measured in this process against the run's
    Redis: the admission before each attempt (one round trip: the Lua script), and the
    report after a success on a clean breaker (nothing sent). µs per call, wall and CPU."""
    from gateway import breaker

    settings = breaker.Settings(threshold=5, cooldown_ms=30_000)
    breaker.breaker_reset("bench-breaker", MODEL)
    for _ in range(100):  # the script loaded, the connection made
        breaker.admit("bench-breaker", MODEL, settings)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        admission = breaker.admit("bench-breaker", MODEL, settings)
        breaker.report("bench-breaker", MODEL, settings, admission, ok=True)
    return {
        "admit_and_report_us": round((time.perf_counter() - wall) / calls * 1e6, 1),
        "admit_and_report_cpu_us": round((time.process_time() - cpu) / calls * 1e6, 1),
        "round_trips": 1,
    }

"""RADIANT under load: Locust users over a realistic mix, four shapes, one report (one
file, over 400 lines: Locust is given a single locustfile).

    locust -f tests/load/locustfile.py --headless --host http://127.0.0.1:8000 \\
        --radiant-profile smoke --radiant-tenants tenants.json [--radiant-report report.json]

(``python -m tests.load.run`` seeds the tenants, starts a server and runs this for you.)

The tenants file (``tests/load/seed.py`` writes it) lists tenants of every tier, each with
an API key, plus over-limit tenants. Users:

- ``TenantUser`` — one per tenant (more in the bigger shapes), paced below its tier's rate
  (``constant_throughput``) so none of its requests may fail: reads of every tenant GET
  endpoint, conditional GETs (``If-None-Match`` -> 304), and ``POST /api/v1/usage`` charges
  with and without ``Idempotency-Key`` (a retry of the same key must replay). Any status
  outside 2xx/304 is an unexpected error.
- ``OverLimitUser`` — drives the over-limit tenants past their limits: a free tenant far above
  10 requests/s and a tenant with a tiny daily quota. It expects 429s (``rate_limited``,
  ``daily_quota_exceeded``) and 200s only, and at least one 429.
- ``ArrivalUser`` — the open-loop shape: requests start at a constant arrival rate whatever
  the response times (each in its own greenlet, at most ``MAX_IN_FLIGHT`` at once; arrivals
  beyond that are counted as dropped), spread over the tenants by tier capacity.

Shapes (``--radiant-profile``): ``smoke`` (30 s, every tenant once), ``load`` (ramp, hold 4
min), ``stress`` (users stepped up every 30 s past the rated load, 3 min) and ``open``
(constant arrival rate ``--radiant-rate`` per second for ``--radiant-duration`` s). Every run
stops by itself.

``POST /api/v1/usage`` joins the mix when the server has it: a probe at the start that is
answered 404 leaves the charge tasks out, with a note in the log and the report.

The report (printed, and written as JSON with ``--radiant-report``) has offered and achieved
rates, failures by kind, p50/p95/p99 of the expected-success requests against the seed's
targets, and the over-limit tenants' 429 counts. The exit code is 1 on any unexpected
error.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import logging
import random
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, LoadTestShape, constant_throughput, events, task

logger = logging.getLogger("radiant.load")

# The seed's targets (DESIGN.md §10).
SEED = {"p50_ms": 50, "p95_ms": 200, "p99_ms": 500, "error_rate": 0.001, "rps": 2000}
# Per-user pace by tier: far enough below each tier's rate (10/50/100/500/2000 per second)
# that a few users on one tenant stay under it too.
PACE = {"free": 2.0, "starter": 4.0, "professional": 6.0, "business": 8.0, "enterprise": 10.0}
MAX_IN_FLIGHT = 200
OK_STATUSES = {200, 201, 304}
LIMITED_STATUSES = {200, 429}


@events.init_command_line_parser.add_listener
def _arguments(parser):
    parser.add_argument("--radiant-profile", choices=["smoke", "load", "stress", "open"], default="smoke")
    parser.add_argument("--radiant-tenants", default="tenants.json", help="file written by tests/load/seed.py")
    parser.add_argument("--radiant-report", default="", help="write the report here as JSON")
    parser.add_argument("--radiant-rate", type=float, default=150.0, help="open profile: arrivals per second")
    parser.add_argument("--radiant-duration", type=int, default=60, help="open profile: seconds")


class Run:
    """What the run learns and counts (one per process)."""

    def __init__(self):
        self.tenants = []
        self.over_limit = []
        self.usage = None  # True/False once probed
        self.usage_note = ""
        self.statuses = {"ok": Counter(), "limited": Counter()}
        self.unexpected = Counter()
        self.times_ok = []
        self.offered = 0.0  # sum of the running users' target rates (closed loop)
        self.offered_samples = []
        self.arrivals = self.dropped = 0
        self.started = self.stopped = None
        self.profile = "smoke"

    def tenant_cycle(self):
        return itertools.cycle(self.tenants)


run = Run()


def _loopback(host: str) -> bool:
    name = urlsplit(host).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@events.test_start.add_listener
def _start(environment, **kwargs):
    import os
    import urllib.error
    import urllib.request

    options = environment.parsed_options
    host = environment.host or ""
    if not _loopback(host) and os.environ.get("RADIANT_LOAD_ALLOW_REMOTE") != "1":
        raise SystemExit(f"refusing to load {host}: not a loopback address (RADIANT_LOAD_ALLOW_REMOTE=1 for a deployed stage)")
    with open(options.radiant_tenants) as handle:
        data = json.load(handle)
    run.tenants = data["tenants"]
    run.over_limit = data["over_limit"]
    run.profile = options.radiant_profile
    run.started = time.monotonic()
    probe = urllib.request.Request(
        host.rstrip("/") + "/api/v1/usage", data=b"{}", method="POST",
        headers={"Authorization": f"Bearer {run.tenants[0]['key']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(probe, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    run.usage = status != 404
    if not run.usage:
        run.usage_note = "POST /api/v1/usage answered 404: charges are left out of this run's mix"
        logger.warning(run.usage_note)
    gevent.spawn(_sample_offered)


def _sample_offered():
    while run.stopped is None:
        run.offered_samples.append(run.offered)
        gevent.sleep(1)


@events.request.add_listener
def _tally(request_type, name, response_time, response_length, response=None, context=None, exception=None, **kw):
    expect = (context or {}).get("expect")
    if expect is None:
        return
    status = getattr(response, "status_code", 0) or 0
    run.statuses[expect][status] += 1
    allowed = OK_STATUSES if expect == "ok" else LIMITED_STATUSES
    if status not in allowed:
        run.unexpected[f"{expect}: {request_type} {name} -> {status or type(exception).__name__}"] += 1
    elif expect == "ok":
        run.times_ok.append(response_time)


def _check(response, allowed):
    """Mark the response as Locust should count it: expected statuses are successes."""
    if response.status_code in allowed:
        response.success()
    else:
        response.failure(f"unexpected {response.status_code}: {response.text[:200]}")


class _Mix:
    """The requests a tenant sends (used by TenantUser and ArrivalUser)."""

    def __init__(self, client):
        self.client = client
        self.etags = {}

    def send(self, tenant, kind):
        auth = {"Authorization": f"Bearer {tenant['key']}"}
        context = {"expect": "ok"}
        if kind == "usage" and not run.usage:
            kind = "models"
        if kind == "models":
            self._get("/api/v1/models", "/api/v1/models", auth, context, tenant)
        elif kind == "model":
            slug = random.choice(tenant["models"])
            self._get(f"/api/v1/models/{slug}", "/api/v1/models/<slug>", auth, context, tenant)
        elif kind == "conditional":
            etag = self.etags.get((tenant["slug"], "/api/v1/models"))
            headers = {**auth, "If-None-Match": etag} if etag else auth
            self._get("/api/v1/models", "/api/v1/models (If-None-Match)", headers, context, tenant)
        elif kind == "usage":
            self._charge(tenant, auth, context)
        else:
            path = {"tenant": "/api/v1/tenant", "config": "/api/v1/config", "keys": "/api/v1/api-keys",
                    "i18n": f"/api/v1/i18n/{tenant.get('language', 'en')}"}[kind]
            self._get(path, path if kind != "i18n" else "/api/v1/i18n/<language>", auth, context, tenant)

    def _get(self, path, name, headers, context, tenant):
        with self.client.get(path, headers=headers, name=name, context=context, catch_response=True) as response:
            _check(response, OK_STATUSES)
            etag = response.headers.get("ETag") if response.headers else None
            if etag:
                self.etags[(tenant["slug"], path)] = etag

    def _charge(self, tenant, auth, context):
        body = {"model": random.choice(tenant["models"]), "input_tokens": random.randint(1, 4000),
                "output_tokens": random.randint(0, 1000)}
        headers = dict(auth)
        keyed = random.random() < 0.5
        if keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        name = "POST /api/v1/usage" + (" (Idempotency-Key)" if keyed else "")
        with self.client.post("/api/v1/usage", json=body, headers=headers, name=name, context=context,
                              catch_response=True) as response:
            _check(response, OK_STATUSES)
        if keyed and random.random() < 0.2:  # a client retry: the first response, replayed
            with self.client.post("/api/v1/usage", json=body, headers=headers, name="POST /api/v1/usage (retry)",
                                  context=context, catch_response=True) as response:
                if response.status_code in OK_STATUSES and response.headers.get("Idempotent-Replayed") != "true":
                    response.failure("a retry with the same Idempotency-Key was not replayed")
                    run.unexpected["ok: retry not replayed"] += 1
                else:
                    _check(response, OK_STATUSES)


# Weights of the mix: mostly reads, a tenth charges (half of them with an Idempotency-Key).
MIX = ["models"] * 30 + ["model"] * 15 + ["conditional"] * 10 + ["tenant"] * 10 + ["config"] * 10 + \
      ["i18n"] * 10 + ["keys"] * 5 + ["usage"] * 10

_next_tenant = itertools.count()


class TenantUser(FastHttpUser):
    """One tenant's client, paced below its tier's limit: every response must be a success."""

    def wait_time(self):
        return constant_throughput(self.rate)(self)

    def on_start(self):
        self.tenant = run.tenants[next(_next_tenant) % len(run.tenants)]
        self.rate = PACE[self.tenant["tier"]]
        self.mix = _Mix(self.client)
        run.offered += self.rate

    def on_stop(self):
        run.offered -= self.rate

    @task
    def request(self):
        self.mix.send(self.tenant, random.choice(MIX))


class OverLimitUser(FastHttpUser):
    """Pushes the over-limit tenants past their limits: 429s expected, nothing else."""

    fixed_count = 1
    rate = 40.0

    def wait_time(self):
        return constant_throughput(self.rate)(self)

    def on_start(self):
        self.tenants = itertools.cycle(run.over_limit)
        run.offered += self.rate

    def on_stop(self):
        run.offered -= self.rate

    @task
    def request(self):
        tenant = next(self.tenants)
        with self.client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {tenant['key']}"},
                             name=f"GET /api/v1/tenant (over limit: {tenant['limit']})",
                             context={"expect": "limited"}, catch_response=True) as response:
            _check(response, LIMITED_STATUSES)


class ArrivalUser(FastHttpUser):
    """Open loop: a request starts every 1/rate seconds, whether or not earlier ones finished."""

    fixed_count = 1
    concurrency = MAX_IN_FLIGHT  # connections FastHttpUser keeps for the greenlets below

    def wait_time(self):
        return 0

    def on_start(self):
        options = self.environment.parsed_options
        self.rate = options.radiant_rate
        # Each tenant gets arrivals in proportion to its tier's pace (never above its limit).
        self.weights = [PACE[t["tier"]] for t in run.tenants]
        self.mix = _Mix(self.client)
        self.pool = Pool(MAX_IN_FLIGHT)
        run.offered += self.rate

    def on_stop(self):
        run.offered -= self.rate

    @task
    def arrivals(self):
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while True:
            next_at += interval
            run.arrivals += 1
            if self.pool.full():
                run.dropped += 1  # the server is this far behind: counted, not queued
            else:
                tenant = random.choices(run.tenants, weights=self.weights)[0]
                self.pool.spawn(self.mix.send, tenant, random.choice(MIX))
            delay = next_at - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)


# --- shapes ---------------------------------------------------------------------------------


class Profile(LoadTestShape):
    """The shape named by --radiant-profile; stops by itself."""

    def tick(self):
        options = self.runner.environment.parsed_options
        elapsed = self.get_run_time()
        tenants = max(1, len(run.tenants))
        profile = options.radiant_profile
        if profile == "smoke":
            return (tenants + 1, tenants, [TenantUser, OverLimitUser]) if elapsed < 30 else None
        if profile == "load":
            if elapsed < 30:
                return (max(2, int(2 * tenants * elapsed / 30)) + 1, tenants, [TenantUser, OverLimitUser])
            if elapsed < 270:
                return (2 * tenants + 1, tenants, [TenantUser, OverLimitUser])
            return None
        if profile == "stress":
            step = int(elapsed // 30)
            if step >= 6:
                return None
            return ((step + 1) * tenants + 1, tenants, [TenantUser, OverLimitUser])
        # open: one arrival user (plus the over-limit one), for the given duration
        return (2, 2, [ArrivalUser, OverLimitUser]) if elapsed < options.radiant_duration else None


# --- the report -----------------------------------------------------------------------------


def _percentile(sorted_values, q):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def report(environment) -> dict:
    elapsed = (run.stopped or time.monotonic()) - (run.started or time.monotonic())
    times = sorted(run.times_ok)
    total = environment.stats.total
    ok_total = sum(run.statuses["ok"].values())
    limited = run.statuses["limited"]
    offered = (run.arrivals / elapsed if run.profile == "open" and elapsed else
               (sum(run.offered_samples) / len(run.offered_samples) if run.offered_samples else 0.0))
    p50, p95, p99 = (_percentile(times, q) for q in (0.50, 0.95, 0.99))
    unexpected = sum(run.unexpected.values())
    over_limit_429 = limited.get(429, 0)
    problems = []
    if unexpected:
        problems.append(f"{unexpected} unexpected responses")
    if run.over_limit and sum(limited.values()) and not over_limit_429:
        problems.append("over-limit tenants were never refused with 429")
    if ok_total == 0:
        problems.append("no request of the expected-success mix completed")
    return {
        "profile": run.profile, "host": environment.host, "seconds": round(elapsed, 1),
        "tenants": len(run.tenants), "tiers": sorted({t["tier"] for t in run.tenants}),
        "usage_in_mix": bool(run.usage), "usage_note": run.usage_note,
        "offered_rps": round(offered, 1), "achieved_rps": round(total.num_requests / elapsed, 1) if elapsed else 0.0,
        "requests": total.num_requests, "locust_failures": total.num_failures,
        "arrivals": run.arrivals, "dropped_arrivals": run.dropped,
        "expected_success": {"requests": ok_total, "statuses": {str(k): v for k, v in sorted(run.statuses["ok"].items())},
                             "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
                             "error_rate": round(unexpected / max(1, ok_total), 6)},
        "over_limit": {"requests": sum(limited.values()), "statuses": {str(k): v for k, v in sorted(limited.items())}},
        "unexpected": dict(run.unexpected),
        "seed_targets": SEED,
        "meets_seed_latency": None if p99 is None else (p50 <= SEED["p50_ms"] and p95 <= SEED["p95_ms"]
                                                       and p99 <= SEED["p99_ms"]),
        "problems": problems,
    }


def format_report(result: dict) -> str:
    ok = result["expected_success"]

    def ms(value):
        return "-" if value is None else f"{value:.0f}"

    lines = [
        f"RADIANT load: profile {result['profile']}, {result['seconds']} s against {result['host']}, "
        f"{result['tenants']} tenants ({', '.join(result['tiers'])})",
        f"  offered {result['offered_rps']} req/s, achieved {result['achieved_rps']} req/s"
        + (f", {result['dropped_arrivals']} of {result['arrivals']} arrivals dropped" if result["arrivals"] else ""),
        f"  expected-success requests {ok['requests']}: statuses {ok['statuses']}, error rate {ok['error_rate']:.4%} "
        f"(seed target < {SEED['error_rate']:.1%})",
        f"  p50 / p95 / p99: {ms(ok['p50_ms'])} / {ms(ok['p95_ms'])} / {ms(ok['p99_ms'])} ms "
        f"(seed target {SEED['p50_ms']} / {SEED['p95_ms']} / {SEED['p99_ms']} ms)",
        f"  over-limit tenants: {result['over_limit']['statuses']}",
    ]
    if result["usage_note"]:
        lines.append(f"  note: {result['usage_note']}")
    for name, count in result["unexpected"].items():
        lines.append(f"  UNEXPECTED {count} x {name}")
    lines.append("  verdict: " + ("FAILED: " + "; ".join(result["problems"]) if result["problems"] else "ok"))
    return "\n".join(lines)


@events.quitting.add_listener
def _quit(environment, **kwargs):
    run.stopped = run.stopped or time.monotonic()
    result = report(environment)
    print(format_report(result), flush=True)
    path = environment.parsed_options.radiant_report
    if path:
        with open(path, "w") as handle:
            json.dump(result, handle, indent=2)
    if result["problems"]:
        environment.process_exit_code = 1


@events.test_stop.add_listener
def _stop(environment, **kwargs):
    run.stopped = time.monotonic()

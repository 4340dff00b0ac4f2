"""The circuit breaker, retries with jitter, and fallbacks (PostgreSQL and Redis: the breaker's
state is shared through Redis, and another process sees it)."""

import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from billing.verify import ledger_verify
from gateway import breaker
from tests.gateway.conftest import PROMPT_TOKENS, balance_of, chat, cost

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True, databases="__all__")]

COOLDOWN = Decimal("0.5")


def breaker_state_seen_by_another_process(provider, model):
    code = (
        "import django, json; django.setup(); from gateway import breaker; "
        f"print(json.dumps(breaker.breaker_state({provider!r}, {model!r})))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "radiant.settings", "REDIS_URL": settings.REDIS_URL,
           "LOG_LEVEL": "ERROR", "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", "")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def wait_out_the_cooldown():
    time.sleep(float(COOLDOWN) + 0.05)  # the breaker's own clock (Redis TIME) must pass it


def test_after_the_threshold_calls_fail_fast_until_a_probe_succeeds(route, funded, upstream):
    route("test-chat", breaker_threshold=3, breaker_cooldown_seconds=COOLDOWN)
    tenant, client = funded("10")
    upstream.statuses = [500] * 3

    failures = [chat(client, max_tokens=2) for _ in range(3)]

    assert [(r.status_code, r.json()["code"]) for r in failures] == [(502, "upstream_error")] * 3
    assert upstream.hits == 3
    refused = chat(client, max_tokens=2)
    assert (refused.status_code, refused.json().get("code")) == (503, "upstream_unavailable"), refused.content
    assert int(refused["Retry-After"]) >= 1
    assert upstream.hits == 3  # failed fast: the provider was not called
    # The state lives in Redis: another process sees the same breaker.
    assert breaker_state_seen_by_another_process("test-openai", "test-chat")["state"] == "open"
    assert balance_of(tenant) == (Decimal("10"), 0)  # failures cost nothing

    wait_out_the_cooldown()
    probe = chat(client, max_tokens=2)
    assert probe.status_code == 200 and upstream.hits == 4
    assert breaker.breaker_state("test-openai", "test-chat") == {}  # closed
    assert chat(client, max_tokens=2).status_code == 200 and upstream.hits == 5
    assert balance_of(tenant) == (Decimal("10") - 2 * cost(PROMPT_TOKENS, 2), 0)
    assert ledger_verify() == {}


def test_half_open_lets_one_probe_through_and_a_failed_probe_opens_again(route, funded, upstream):
    route("test-chat", breaker_threshold=1, breaker_cooldown_seconds=COOLDOWN)
    _tenant, client = funded("10")
    upstream.statuses = [500]
    assert chat(client, max_tokens=2).status_code == 502
    wait_out_the_cooldown()

    gate = upstream.hold()
    probe = {}
    thread = threading.Thread(target=lambda: probe.update(response=_chat_as(client.raw_key)))
    thread.start()
    assert upstream.wait_for_hits(2)  # the probe is at the provider
    other = chat(client, max_tokens=2)
    assert other.status_code == 503 and upstream.hits == 2  # one probe at a time
    upstream.statuses = [500]
    gate.set()
    thread.join()
    upstream.gate = None
    assert probe["response"].status_code == 502  # the probe failed: open again
    assert chat(client, max_tokens=2).status_code == 503 and upstream.hits == 2


def _chat_as(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    try:
        return chat(client, max_tokens=2)
    finally:
        from django.db import connections

        for connection in connections.all():
            connection.close()


def test_a_fallback_answers_when_the_provider_fails_and_is_charged_at_its_prices(route, funded, upstream, settings):
    backup = route("test-backup", provider="test-backup-provider", in_price=Decimal("0.001"), out_price=Decimal("0.004"))
    route("test-chat", breaker_threshold=2, breaker_cooldown_seconds=Decimal("60"), fallbacks=[backup])
    tenant, client = funded("10")
    upstream.statuses = [503]  # the primary fails; the backup (on the same server) answers

    response = chat(client, max_tokens=3)

    assert response.status_code == 200, response.content
    assert response["X-Radiant-Model"] == "test-backup"
    assert [r["body"]["model"] for r in upstream.requests] == ["test-chat", "test-backup"]
    charged = cost(PROMPT_TOKENS, 3, Decimal("0.001"), Decimal("0.004"))
    assert balance_of(tenant) == (Decimal("10") - charged, 0)
    usage = [row for row in tenant_ledger(tenant) if row.type == "usage"]
    assert [row.model_slug for row in usage] == ["test-backup"]

    upstream.statuses = [500]
    assert chat(client, max_tokens=3)["X-Radiant-Model"] == "test-backup"  # primary failed again: open now
    hits = len(upstream.requests)
    assert chat(client, max_tokens=3)["X-Radiant-Model"] == "test-backup"
    assert [r["body"]["model"] for r in upstream.requests[hits:]] == ["test-backup"]  # primary skipped
    assert ledger_verify() == {}


def tenant_ledger(tenant):
    from tests.gateway.conftest import ledger_of

    return ledger_of(tenant)


def test_429_and_5xx_are_retried_with_backoff_within_the_budget(route, funded, upstream):
    route("test-chat", max_retries=2)
    tenant, client = funded("10")
    upstream.statuses = [429, 502]
    upstream.retry_after = "0"

    response = chat(client, max_tokens=2)

    assert response.status_code == 200 and upstream.hits == 3
    upstream.statuses = [503, 503, 503]
    exhausted = chat(client, max_tokens=2)
    assert (exhausted.status_code, exhausted.json()["code"]) == (503, "upstream_unavailable")
    assert upstream.hits == 6  # one try and two retries, no more
    assert balance_of(tenant) == (Decimal("10") - cost(PROMPT_TOKENS, 2), 0)


def test_a_provider_asking_to_wait_longer_than_a_request_should_is_not_waited_for(route, funded, upstream, settings):
    route("test-chat", max_retries=3)
    _tenant, client = funded("10")
    upstream.statuses = [429]
    upstream.retry_after = "30"

    response = chat(client, max_tokens=2)

    assert (response.status_code, response.json()["code"]) == (503, "upstream_unavailable")
    assert upstream.hits == 1


def test_the_backoff_is_jittered_and_bounded(settings):
    from gateway.calls import backoff

    settings.GATEWAY_RETRY_BASE = 0.2
    settings.GATEWAY_RETRY_MAX_WAIT = 1.0
    waits = [backoff(attempt, None) for attempt in range(6) for _ in range(50)]
    assert all(0 <= w <= 1.0 for w in waits)
    assert len({round(w, 6) for w in waits}) > 100  # not one fixed schedule: clients do not retry in step
    assert backoff(0, 0.5) >= 0.5 and backoff(0, 2.0) is None

"""``POST /api/v1/usage`` under load, for ``make bench`` (bench/run.py runs it).

Three targets on the same gunicorn as the read endpoints, 16 connections:

- one hot tenant: every charge updates the same account row (the worst case: the row lock
  serialises them);
- 50 tenants: each request is one of 50 tenants' charges, round robin (the Authorization
  header rotates in a wrk ``request`` function);
- an idempotent replay: the same request with an ``Idempotency-Key`` used once before, so
  every request is answered from the stored response (Redis), next to a warm ``GET``.

Every tenant gets credits enough for the run and limits it cannot reach, so every charge
must be a 201: any 402 or error shows as non-2xx. After the runs the ledger is checked
(``verify_ledger``'s check) so the numbers come from charges that were exact.
"""

from __future__ import annotations

import json

SPREAD_TENANTS = 50
HUGE = 1_000_000_000
CREDITS = "1000000"
BODY = {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}


def funded_tenant_key(slug: str, name: str | None = None) -> str:
    """A raw API key of tenant ``slug`` (made if missing), active, with limits no run can
    reach and credits enough for one, its earlier keys revoked (after django.setup())."""
    from billing.models import CreditAccount
    from billing.services import credits_grant
    from tenants.models import ApiKey, Tenant
    from tenants.services import api_key_create, api_key_revoke, tenant_create

    row = Tenant.objects.filter(slug=slug).first() or tenant_create(slug=slug, name=name or slug, tier="enterprise")
    row.rps_override = row.burst_override = HUGE
    row.daily_quota_override = 0
    row.status = Tenant.Status.ACTIVE
    row.save()
    for old in ApiKey.all_tenants.filter(tenant=row, revoked_at__isnull=True):
        api_key_revoke(prefix=old.prefix)
    account = CreditAccount.all_tenants.filter(tenant=row).first()
    if account is None or account.available < 10_000:
        credits_grant(tenant=row, amount=CREDITS, reason="benchmark credits", operator="bench")
    return api_key_create(tenant=row, name="bench")[1]


def prepare_tenants() -> dict:
    """Tenants, credits and keys for the usage targets (after django.setup())."""
    return {
        "hot": funded_tenant_key("bench-usage-hot"),
        "spread": [funded_tenant_key(f"bench-usage-{i:02d}") for i in range(SPREAD_TENANTS)],
    }


def _lua_post(path: str, keys: list[str], extra_headers: dict[str, str] | None = None) -> str:
    """A wrk script: POST ``BODY`` to ``path``, the Authorization rotating over ``keys``."""
    headers = ", ".join(f'["{k}"] = "{v}"' for k, v in (extra_headers or {}).items())
    key_list = ", ".join(f'"Bearer {k}"' for k in keys)
    return f"""
local keys = {{{key_list}}}
local body = '{json.dumps(BODY)}'
local i = 0
request = function()
  i = i % #keys + 1
  local headers = {{["Content-Type"] = "application/json", ["Authorization"] = keys[i]{", " + headers if headers else ""}}}
  return wrk.format("POST", "{path}", headers, body)
end
"""


def targets(keys: dict) -> list[tuple[str, str, str]]:
    """(name, path, wrk lua) for each usage target."""
    return [
        ("POST usage (1 hot tenant)", "/api/v1/usage", _lua_post("/api/v1/usage", [keys["hot"]])),
        (f"POST usage ({SPREAD_TENANTS} tenants)", "/api/v1/usage", _lua_post("/api/v1/usage", keys["spread"])),
        ("POST usage (replay)", "/api/v1/usage",
         _lua_post("/api/v1/usage", [keys["hot"]], {"Idempotency-Key": "bench-replay-1"})),
    ]


def first_replayable(base_url: str, keys: dict) -> None:
    """Send the idempotent request once, so the replay target replays it."""
    import urllib.request

    request = urllib.request.Request(
        base_url + "/api/v1/usage", data=json.dumps(BODY).encode(), method="POST",
        headers={"Authorization": f"Bearer {keys['hot']}", "Content-Type": "application/json",
                 "Idempotency-Key": "bench-replay-1"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 201 and response.headers.get("Idempotent-Replayed") != "true":
            raise RuntimeError(f"POST usage: {response.status}")


def ledger_failures() -> dict:
    from billing.verify import ledger_verify

    return ledger_verify()

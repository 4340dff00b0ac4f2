"""Rate limits (DESIGN.md §5): a token bucket and a daily quota per tenant, and a per-IP
budget for unauthenticated and failed requests.

How a request is counted
------------------------
A tenant has a token bucket per scope (capacity = burst, refilled at ``rps`` tokens a
second; ``default`` is the whole tenant API) and a quota of requests per UTC day shared by
its scopes. Every authenticated request costs one token and one unit of the quota. Both are
checked and committed together: a request is admitted only if both allow it, and a refused
request consumes nothing from either. Over the whole life of a bucket no more than
``burst + rps·t`` requests are admitted in any window of ``t`` seconds.

Backends
--------
- **Redis** (the default cache is django-redis): one Lua script (``script.SCRIPT``), one
  round trip (``EVALSHA``, reloaded on ``NOSCRIPT``), which also carries the request's
  reads (``backends.check``). It reads the clock with ``TIME`` so app
  processes with skewed clocks agree, refills, checks both limits and writes both keys, each
  with its expiry, in one atomic step. Keys expire as soon as they carry no information: the
  bucket once it would be full again (an absent bucket *is* a full one; for the seed tiers
  that is ≤ 2 s), the daily counter a minute after its UTC day ends. No key is ever written
  without an expiry. The keys share the tenant id as a hash tag (see
  ``radiant.cache_keys``), so the script is legal on Redis Cluster. Needs Redis ≥ 5.
- **In-process** (the embedded default's local-memory cache, itself one process's): the
  same arithmetic (``script.evaluate``) under a lock.

Where the limiter cannot be reached, ``RATELIMIT_FAIL_OPEN`` decides: admit the request (the
default; counted in ``backends.stats()`` and the metrics, logged at most every 10 s per
process) or answer 503 ``service_unavailable``.

Headers
-------
Every tenant API response once the limiter has run (success or error, 429 included):

- ``X-RateLimit-Limit``: the bucket's capacity (burst);
- ``X-RateLimit-Remaining``: whole tokens left after this request (requests that may be sent
  at once right now);
- ``X-RateLimit-Reset``: seconds until the bucket is full again;
- ``X-RateLimit-Daily-Limit``, ``-Daily-Remaining``, ``-Daily-Reset`` (seconds to the next
  UTC midnight) when the tenant has a daily quota;
- on 429 also ``Retry-After`` (seconds): until the next token for ``rate_limited``, until
  the next UTC midnight for ``daily_quota_exceeded``.

Responses to requests that did not authenticate carry the first three for the client
address's bucket (below). When the limiter is unreachable and fails open there is nothing
to report, and no headers are sent.

Per-IP limit
------------
Requests without credentials, with a malformed header or key, or with a key that does not
authenticate (unknown, revoked, expired) each cost one token from the client address's
bucket (``RATELIMIT_IP_BURST``, refilled at ``RATELIMIT_IP_RPS``; same script, no daily
key). Requests with a valid key cost the address nothing. Over budget: 429 ``rate_limited``.

No address is ever refused on the strength of one process's memory, and a valid key never
for its address: behind a proxy or a company's NAT many clients share one. Guesses cost no
database work anyway: a key ends with a keyed check (``tenants.auth.api_key_check``),
so a guessed key is refused before any lookup, and its address is charged in the shared
limiter like any other failure. The address is
``radiant.client_ip.client_ip``.

Where each piece lives: the script and its Python mirror in ``script.py``, the backends and
the one ``check`` in ``backends.py``, the budgets of tenants and addresses and their 429s
here. The tenant base class (radiant/api.py) calls them, once per request.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions

from radiant import cache_keys
from radiant.problems import DailyQuotaExceeded, RateLimited
from radiant.ratelimit.backends import Limit, Outcome, check
from radiant.ratelimit.script import QUOTA_SPENT, Decision

__all__ = ["DEFAULT_SCOPE", "Decision", "Limit", "Outcome", "address_limit", "address_refusal", "check",
           "refusal", "tenant_limit"]

DEFAULT_SCOPE = "default"

_tenant_limits: dict[tuple, Limit] = {}


def tenant_limit(tenant_id, limits, scope: str = DEFAULT_SCOPE) -> Limit | None:
    """A tenant's budget for ``scope``: ``limits`` (rps, burst, daily_quota: its overrides or
    its tier, as authentication read them for this request); None when limits are off."""
    if not settings.RATELIMIT_ENABLED:
        return None
    memo = (tenant_id, limits, scope)  # a pure function of its arguments: built once
    limit = _tenant_limits.get(memo)
    if limit is None:
        if len(_tenant_limits) >= 10_000:
            _tenant_limits.clear()
        limit = _tenant_limits[memo] = Limit(
            cache_keys.ratelimit_tenant(tenant_id, scope), limits.rps, limits.burst,
            cache_keys.ratelimit_tenant_daily(tenant_id), limits.daily_quota,
        )
    return limit


def address_limit(address: str) -> Limit | None:
    """A client address's budget for requests that did not authenticate; None when off."""
    if not settings.RATELIMIT_ENABLED:
        return None
    return Limit(cache_keys.ratelimit_ip(address), settings.RATELIMIT_IP_RPS, settings.RATELIMIT_IP_BURST)


def refusal(decision: Decision):
    """The 429 problem for a refused tenant request."""
    headers = {"Retry-After": str(decision.retry_after)}
    if decision.reason == QUOTA_SPENT:
        return DailyQuotaExceeded(
            f"The daily quota of {decision.daily_limit} requests is used up; "
            f"it resets at 00:00 UTC, in {decision.retry_after} seconds.",
            headers=headers,
        )
    return RateLimited(
        f"Rate limit exceeded ({decision.rate:g} requests per second, bursts of "
        f"{decision.limit}); retry in {decision.retry_after} seconds.",
        headers=headers,
    )


def address_refusal(decision: Decision):
    """The 429 for an address over its budget of failed requests."""
    return exceptions.Throttled(
        wait=decision.retry_after,
        detail="Too many unauthenticated or failed requests from this address.",
    )

"""Every cache key the platform uses, built here and nowhere else (DESIGN.md §6)."""


def api_key_touch(key_id) -> str:
    """Gate for writing an API key's last_used_at at most once per interval."""
    return f"apikey:{key_id}:touched"


# --- rate limits (issue 4, radiant/throttling.py) -------------------------------------
# The tenant id is a Redis Cluster hash tag (``{...}``): a tenant's bucket key and its
# daily-quota key hash to one slot, so the one Lua script that checks both may touch both.

RATELIMIT_DAILY_SCOPE = "daily"


def ratelimit_tenant(tenant_id, scope: str = "default") -> str:
    """A tenant's token bucket for one scope (``default`` for the whole tenant API)."""
    if scope == RATELIMIT_DAILY_SCOPE:
        raise ValueError(f"{RATELIMIT_DAILY_SCOPE!r} is the daily quota's key, not a bucket scope")
    return f"ratelimit:{{{tenant_id}}}:{scope}"


def ratelimit_tenant_daily(tenant_id) -> str:
    """A tenant's request count for the current UTC day (shared by all its scopes)."""
    return f"ratelimit:{{{tenant_id}}}:{RATELIMIT_DAILY_SCOPE}"


def ratelimit_ip(ip: str) -> str:
    """Failed-authentication budget of one client address (an IPv6 /64 counts as one)."""
    return f"ratelimit:ip:{ip}"

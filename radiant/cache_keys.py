"""Every cache key the platform uses, built here and nowhere else (DESIGN.md §6).

Redis Cluster: a multi-key command or script may only touch keys of one slot, and the
slot of a key with ``{...}`` in it is that of the text between the braces (its hash tag).
Every key that belongs to one tenant carries the tenant id as its hash tag
(``models:{<tenant id>}:list``), so a tenant's rate-limit script, its auth generation, the
last-use gate of its keys, its cached responses and their tenant-level version keys all
live in one slot: a warm request's round trip sends one script and one MGET there, plus
one GET of the global version its response also depends on (radiant/redis_wire.py splits
reads by slot). Keys shared by every tenant (global versions, translation bundles) carry
no tenant tag.
"""

import hashlib


def auth_entry(key_hash: str) -> str:
    """An API key's authentication row (tenant, status, limits), by the key's hash (read
    alone: the tenant is what it tells)."""
    return f"auth:{key_hash}"


def auth_touched(tenant_id, key_hash: str) -> str:
    """Present while an API key's last use was recorded recently (at most one write per
    interval); in its tenant's slot, read in the request's round trip."""
    return f"auth:{{{tenant_id}}}:touched:{key_hash}"


def auth_generation(tenant_id) -> str:
    """The current generation of a tenant's cached auth entries; replaced on any change to
    the tenant, its keys or its tier. In the tenant's slot, like the rate-limit keys, so the
    rate-limit script may check it."""
    return f"auth:{{{tenant_id}}}:generation"


# DESIGN.md §6 names and TTLs (seconds). A payload entry holds the rendered JSON response
# for one (tenant, resource) and the version tokens it was built under; a version key is
# replaced on commit of any change, which makes every entry built under the old token stale
# at once (O(1), no KEYS/SCAN). See radiant/cache.py.

MODELS_TTL = 5 * 60
CONFIG_TTL = 5 * 60
I18N_TTL = 60 * 60
SESSION_TTL = 24 * 60 * 60

# Sessions are keyed by Django's random session key, not by (tenant, user): operators are
# not tenant-bound and the session key is the secret the cookie carries.
SESSION_PREFIX = "session:"


def models_list(tenant_id, *, category=None, status=None, page="") -> str:
    """``models:{tenant_id}:list``; a filtered list is its own entry (filters are enums), and
    so is each page (``page``: a digest of the page asked for, radiant.pagination)."""
    key = f"models:{{{tenant_id}}}:list"
    if category:
        key += f":category={category}"
    if status:
        key += f":status={status}"
    if page:
        key += f":page={page}"
    return key


def models_detail(tenant_id, slug) -> str:
    """``models:{tenant_id}:{model}`` by slug (the slug ``list`` is reserved)."""
    return f"models:{{{tenant_id}}}:{slug}"


def models_version(tenant_id=None) -> str:
    """Version token of the catalog (global) or of one tenant's switched-off models."""
    return f"version:models:{{{tenant_id}}}" if tenant_id else "version:models:global"


def config_all(tenant_id, *, page="") -> str:
    """The merged configuration of a tenant (the config key ``all`` is reserved), one entry
    per page (``page``: a digest of the page asked for, radiant.pagination)."""
    return f"config:{{{tenant_id}}}:all" + (f":page={page}" if page else "")


def config_item(tenant_id, key) -> str:
    """``config:{tenant_id}:{key}``: one merged entry as the tenant sees it."""
    return f"config:{{{tenant_id}}}:{key}"


def config_version(tenant_id=None) -> str:
    """Version token of the global entries, or of one tenant's overrides."""
    return f"version:config:{{{tenant_id}}}" if tenant_id else "version:config:global"


def i18n_bundle(language) -> str:
    """``i18n:{language}:bundle``: the language's bundle with default-language fallbacks."""
    return f"i18n:{language}:bundle"


def i18n_version() -> str:
    """Version token of all translations (a default-language edit changes every bundle)."""
    return "version:i18n"


def rebuild_lock(key) -> str:
    """Held by the one request that rebuilds ``key`` while others wait or serve stale (in
    the entry's slot: the entry's hash tag comes first)."""
    return f"lock:{key}"


# Rate limits (radiant/ratelimit/). A tenant's bucket key and its daily-quota key share its
# hash tag with its auth generation: the one script that checks all three may touch them.

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


def idempotency(tenant_id, key: str) -> str:
    """A stored response to a request with an ``Idempotency-Key`` (the database holds the
    truth; this copy makes a replay as cheap as a cached GET). The client's key is hashed:
    it may hold any printable character. Hash-tagged by tenant like the rate-limit keys."""
    return f"idem:{{{tenant_id}}}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"


# --- usage counters (console/usage.py) ----------------------------------------------------
USAGE_THROTTLED_TTL = 3 * 24 * 60 * 60  # long enough for the rollup to copy a day's count


def usage_throttled(tenant_id, day: int) -> str:
    """429s a tenant got on one UTC day (day number since the epoch); written on refusals only."""
    return f"usage:{{{tenant_id}}}:throttled:{day}"


# --- the AI gateway (gateway/) ----------------------------------------------------------
# A provider-and-model pair is a Redis Cluster hash tag: its breaker and its traffic
# counters are touched by one Lua script, so they must share a slot.


def gateway_breaker(provider: str, model: str) -> str:
    """The circuit breaker of one model at one provider (state, failures, until when)."""
    return f"gw:{{{provider}/{model}}}:breaker"


def gateway_traffic(provider: str, model: str, day: str) -> str:
    """Upstream calls, errors and calls refused by the breaker, per UTC day (``YYYYMMDD``)."""
    return f"gw:{{{provider}/{model}}}:traffic:{day}"

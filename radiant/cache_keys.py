"""Every cache key the platform uses, built here and nowhere else (DESIGN.md §6)."""


def auth_entry(key_hash: str) -> str:
    """An API key's authentication row (tenant, status, limits), by the key's hash."""
    return f"auth:{key_hash}"


def auth_touched(key_hash: str) -> str:
    """Present while an API key's last use was recorded recently (at most one write per interval)."""
    return f"auth:{key_hash}:touched"


def auth_generation() -> str:
    """The current generation of cached auth entries; replaced on any tier/tenant/key change."""
    return "auth:generation"

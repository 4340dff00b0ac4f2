"""Every cache key the platform uses, built here and nowhere else (DESIGN.md §6)."""


def api_key_touch(key_id) -> str:
    """Gate for writing an API key's last_used_at at most once per interval."""
    return f"apikey:{key_id}:touched"

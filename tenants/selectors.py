"""Reads for the tenancy core (authentication's own reads: tenants/auth.py)."""

from radiant.problems import NotFound
from tenants.models import ApiKey


def api_key_list():
    """The current tenant's API keys, newest first."""
    return ApiKey.objects.order_by("-created_at", "-id")


def api_key_get(*, prefix: str) -> ApiKey:
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None:
        raise NotFound("No API key with that prefix.")
    return key

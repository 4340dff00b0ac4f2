from django.utils.dateparse import parse_datetime

from radiant.commands import JsonCommand
from tenants.services import TenantError, api_key_create, tenant_by_slug


class Command(JsonCommand):
    help = "Create an API key for a tenant. The key is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--name", default="default")
        parser.add_argument("--expires", help="ISO 8601 time with zone, e.g. 2027-01-01T00:00:00Z")

    def run(self, *, tenant, name, expires, **_):
        tenant_obj = tenant_by_slug(slug=tenant)
        expires_at = None
        if expires:
            expires_at = parse_datetime(expires)
            if expires_at is None or expires_at.tzinfo is None:
                raise TenantError("--expires must be an ISO 8601 time with a zone")
        key, raw = api_key_create(tenant=tenant_obj, name=name, expires_at=expires_at)
        return {"key": raw, "prefix": key.prefix}

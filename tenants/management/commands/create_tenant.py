from radiant.commands import JsonCommand
from tenants.services import tenant_create


class Command(JsonCommand):
    help = "Create a tenant. Limit flags set its own overrides (--daily 0 means unlimited)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--tier", required=True)
        parser.add_argument("--rps", type=int)
        parser.add_argument("--burst", type=int)
        parser.add_argument("--daily", type=int)

    def run(self, *, slug, name, tier, rps, burst, daily, **_):
        tenant = tenant_create(slug=slug, name=name, tier=tier, rps=rps, burst=burst, daily=daily)
        return {"id": str(tenant.id), "slug": tenant.slug, "tier": tenant.tier.name}

from django.db import transaction

from billing.services import credits_grant
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
        parser.add_argument("--credits", help="prepaid credits to start with (a decimal)")

    def run(self, *, slug, name, tier, rps, burst, daily, credits, **_):
        with transaction.atomic():
            tenant = tenant_create(slug=slug, name=name, tier=tier, rps=rps, burst=burst, daily=daily)
            if credits is not None:
                credits_grant(tenant=tenant, amount=credits, reason="initial credits", operator=self.operator())
        return {"id": str(tenant.id), "slug": tenant.slug, "tier": tenant.tier.name}

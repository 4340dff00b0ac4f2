from billing.services import BillingError, credits_grant
from radiant.commands import JsonCommand
from tenants.models import Tenant


class Command(JsonCommand):
    help = "Grant prepaid credits to a tenant. Prints the new balance."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--amount", required=True, help="a positive decimal, e.g. 100 or 12.5")
        parser.add_argument("--reason", required=True)

    def run(self, *, tenant, amount, reason, **_):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise BillingError(f"no tenant with slug {tenant!r}")
        row = credits_grant(tenant=tenant_obj, amount=amount, reason=reason, operator=self.operator())
        return {"balance": str(row.balance_after)}

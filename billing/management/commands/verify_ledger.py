from billing.services import BillingError
from billing.verify import ledger_verify
from radiant.commands import JsonCommand


class Command(JsonCommand):
    help = "Check every tenant's ledger: balance == sum of rows, and the chain of balances holds."

    def run(self, **_):
        failures = ledger_verify()
        if failures:
            for tenant_id, problems in sorted(failures.items()):
                self.stderr.write(f"tenant {tenant_id}: " + "; ".join(problems))
            raise BillingError(f"ledger check failed for {len(failures)} tenant(s): {', '.join(sorted(failures))}")
        return {"ok": True}

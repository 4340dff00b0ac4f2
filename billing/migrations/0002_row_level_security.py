"""Row-level security on every billing table (PostgreSQL only; no-ops elsewhere).

The web role's privileges come from each model's ``web_privileges`` (radiant/db_roles.py):
the ledger gets SELECT and INSERT only, so no tenant request can change or remove a row.
"""

from django.db import migrations

from radiant.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        EnableTenantRLS("credit_accounts"),
        EnableTenantRLS("credit_transactions"),
        EnableTenantRLS("credit_holds"),
        EnableTenantRLS("idempotency_keys"),
    ]

"""Row-level security on the console's tables (PostgreSQL only; no-ops elsewhere).

Operators write them; the web role may only read its own tenant's rows (web_privileges)."""

from django.db import migrations

from radiant.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("console", "0001_initial")]

    operations = [
        EnableTenantRLS("usage_days"),
        EnableTenantRLS("usage_ledger_rollups"),
    ]

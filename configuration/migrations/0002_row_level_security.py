"""RLS on tenants' overrides. Entries are a global reference table (the web role may only read)."""

from django.db import migrations

from radiant.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("configuration", "0001_initial")]

    operations = [EnableTenantRLS("configuration_configoverride")]

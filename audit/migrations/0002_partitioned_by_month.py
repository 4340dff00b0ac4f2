"""On PostgreSQL, ``audit_logs`` becomes a table partitioned by month of ``created_at``.

The model's table (migration 0001) is replaced by a partitioned one with the same columns,
a DEFAULT partition (no insert is ever refused), and partitions for this month and the
next AUDIT_PARTITIONS_AHEAD. A partitioned table's primary key must include the partition
key, hence ``(id, created_at)``; ``id`` alone stays unique in practice (one sequence).

RLS: the web role may insert rows of its own tenant only (the direct write when the broker
is down) and read none; the operator role (the Celery worker, the admin) bypasses RLS.
"""

from django.db import migrations

from radiant.rls import CURRENT_TENANT, PostgresOnly

PARTITIONED = f"""
DROP TABLE audit_logs;
CREATE TABLE audit_logs (
    id bigserial NOT NULL,
    created_at timestamp with time zone NOT NULL,
    actor_type varchar(16) NOT NULL,
    actor varchar(150) NOT NULL,
    tenant_id uuid NULL,
    action varchar(64) NOT NULL,
    object_type varchar(100) NOT NULL,
    object_id varchar(64) NOT NULL,
    changes jsonb NOT NULL,
    request_id varchar(64) NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT;
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at);
CREATE INDEX audit_tenant_created ON audit_logs (tenant_id, created_at DESC);
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_insert ON audit_logs FOR INSERT WITH CHECK (tenant_id = {CURRENT_TENANT});
"""


def months_ahead(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.conf import settings

    from audit.partitions import partitions_ensure

    partitions_ensure(months=settings.AUDIT_PARTITIONS_AHEAD, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("tenants", "0002_row_level_security")]

    operations = [
        PostgresOnly(PARTITIONED, migrations.RunSQL.noop),
        migrations.RunPython(months_ahead, migrations.RunPython.noop),
    ]

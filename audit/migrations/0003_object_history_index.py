from django.db import migrations, models


class Migration(migrations.Migration):
    # On PostgreSQL the index is created on the partitioned table, and so on every partition.
    dependencies = [("audit", "0002_partitioned_by_month")]

    operations = [
        migrations.AddIndex(
            model_name="auditlog",
            index=models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object_created"),
        ),
    ]

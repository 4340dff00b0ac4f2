from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Audit log"

    def ready(self):
        from audit import capture, selectors, services
        from radiant.admin import use_audit

        capture.connect()
        use_audit(record=services.admin_record, history=selectors.object_history)

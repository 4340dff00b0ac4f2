from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsoleConfig(AppConfig):
    """The operator console: the admin's dashboard, usage per tenant and day, the tenant
    page, and the operator and support roles. It sits on top of every other app."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Operator console"

    def ready(self):
        from django.contrib import admin

        from console import roles, views

        admin.site.dashboard = views.dashboard
        post_migrate.connect(roles.on_post_migrate, dispatch_uid="console.roles")

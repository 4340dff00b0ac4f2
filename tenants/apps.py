from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from radiant import db_roles
        from tenants import caching

        caching.register()

        post_migrate.connect(db_roles.on_post_migrate, dispatch_uid="radiant.db_roles")

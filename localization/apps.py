from django.apps import AppConfig


class LocalizationConfig(AppConfig):
    name = "localization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from localization import caching

        caching.register()

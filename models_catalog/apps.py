from django.apps import AppConfig


class ModelsCatalogConfig(AppConfig):
    name = "models_catalog"
    default_auto_field = "django.db.models.BigAutoField"

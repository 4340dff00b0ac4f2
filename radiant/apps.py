from django.contrib.admin.apps import AdminConfig


class RadiantAdminConfig(AdminConfig):
    """Django's admin with the project's site (radiant/admin.py) as ``admin.site``."""

    default_site = "radiant.admin.RadiantAdminSite"

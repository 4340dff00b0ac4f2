from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data of every app (``manage.py seed_demo``): the one app that uses all the
    others, so none of them has to import another's seed."""

    name = "demo"
    verbose_name = "Demo data"

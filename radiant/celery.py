"""The Celery app. Configured from the CELERY_* Django settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "radiant.settings")

app = Celery("radiant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

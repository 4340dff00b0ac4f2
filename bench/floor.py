"""The floor: a bare Django project with one JSON view, and nothing else.

No apps, no middleware, no database, no cache. ``make bench`` serves it with exactly the
gunicorn settings it serves RADIANT with, so the ratio "RADIANT endpoint / floor" is what
our own code costs on top of Django and the server on this machine, whatever else the
machine is doing during the run.

    gunicorn bench.floor:application
"""

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-floor-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    DATABASES={},
    USE_TZ=True,
    LOGGING_CONFIG=None,
)
django.setup()


def floor(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [path("healthz", floor), path("floor", floor)]

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings.configure)

application = get_wsgi_application()

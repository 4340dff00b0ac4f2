from django.contrib import admin
from django.urls import include, path
from django.views import defaults

from radiant import docs_views, health, metrics
from radiant.problems import PROBLEM_CONTENT_TYPE, json_problem

api_v1 = [
    path("", include("tenants.urls")),
    # catalog, configuration and translations
    path("", include("models_catalog.urls")),
    path("", include("configuration.urls")),
    path("", include("localization.urls")),
    path("", include("billing.urls")),
    path("", include("gateway.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # Prometheus; METRICS_TOKEN only
    path("admin/", admin.site.urls),
    path("api/schema/", docs_views.schema, name="schema"),  # drf-spectacular, loaded on first use
    path("api/docs/", docs_views.docs, name="docs"),
    path("api/v1/", include(api_v1)),
]


def api_not_found(request):
    return json_problem(request, 404, "not_found", "Not found", "No such endpoint.")


class ApiNotFoundMiddleware:
    """An unknown ``/api/`` path is a problem+json 404 in development too: with DEBUG on,
    Django answers an unresolved path with its HTML page listing every URL pattern instead
    of calling ``handler404``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404 and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)
        ):
            return api_not_found(request)
        return response


def handler404(request, exception):
    if request.path_info.startswith("/api/"):  # path_info: without the API Gateway stage prefix
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if request.path_info.startswith("/api/"):  # path_info: without the API Gateway stage prefix
        return json_problem(request, 500, "server_error", "Internal server error", "An unexpected error occurred.")
    return defaults.server_error(request)

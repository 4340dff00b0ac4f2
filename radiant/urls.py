from django.contrib import admin
from django.urls import include, path, re_path
from django.views import defaults

from radiant import docs_views, health
from radiant.problems import json_problem

api_v1 = [
    path("", include("tenants.urls")),
    # catalog, configuration and translations (issue 3)
    path("", include("models_catalog.urls")),
    path("", include("configuration.urls")),
    path("", include("localization.urls")),
    path("", include("billing.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", docs_views.schema, name="schema"),  # drf-spectacular, loaded on first use
    path("api/docs/", docs_views.docs, name="docs"),
    path("api/v1/", include(api_v1)),
    # Last: any other /api/ path is a problem+json 404, in development too (with DEBUG on,
    # Django would answer an unresolved path with its HTML page listing every URL pattern).
    re_path(r"^api/", lambda request, *args, **kwargs: api_not_found(request)),
]


def api_not_found(request):
    return json_problem(request, 404, "not_found", "Not found", "No such endpoint.")


def handler404(request, exception):
    if request.path_info.startswith("/api/"):  # path_info: without the API Gateway stage prefix
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if request.path_info.startswith("/api/"):  # path_info: without the API Gateway stage prefix
        return json_problem(request, 500, "server_error", "Internal server error", "An unexpected error occurred.")
    return defaults.server_error(request)

"""The OpenAPI schema and Swagger UI views, imported on their first request.

drf-spectacular's views pull in its schema generator and YAML/JSON-schema tooling; every
Lambda cold start paid for that while only /api/schema/ and /api/docs/ use it.
"""

from django.views.decorators.csrf import csrf_exempt


def _on_first_use(build):
    view = None

    @csrf_exempt
    def lazy_view(request, *args, **kwargs):
        nonlocal view
        if view is None:
            view = build()
        return view(request, *args, **kwargs)

    return lazy_view


def _schema():
    from drf_spectacular.views import SpectacularAPIView

    return SpectacularAPIView.as_view()


def _docs():
    from drf_spectacular.views import SpectacularSwaggerView

    return SpectacularSwaggerView.as_view(url_name="schema")


schema = _on_first_use(_schema)
docs = _on_first_use(_docs)

"""The project's URLs with ``GET /api/v1/tenant`` failing with a 500 (see tests/fuzz.py)."""

from django.urls import path

from radiant.api import TenantAPIView
from radiant.urls import urlpatterns as project_urlpatterns


class Broken(TenantAPIView):
    def get(self, request):
        raise RuntimeError("a bug the fuzzer must report")


urlpatterns = [path("api/v1/tenant", Broken.as_view()), *project_urlpatterns]

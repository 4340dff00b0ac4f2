"""URLconf for rate-limit tests: the real API plus an endpoint that fails with a 500."""

from django.urls import path

from radiant.api import TenantAPIView
from radiant.urls import urlpatterns as radiant_urlpatterns


class ExplodingView(TenantAPIView):
    def get(self, request):
        raise RuntimeError("an unexpected bug")


urlpatterns = [
    path("api/v1/explode", ExplodingView.as_view()),
    *radiant_urlpatterns,
]

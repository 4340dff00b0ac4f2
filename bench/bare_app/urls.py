from django.urls import path
from rest_framework import exceptions
from rest_framework.views import APIView


class TenantView(APIView):
    """Refuses a request without credentials, as the real endpoint does for the benchmark's event."""

    def get(self, request):
        raise exceptions.NotAuthenticated()


urlpatterns = [path("api/v1/tenant", TenantView.as_view())]

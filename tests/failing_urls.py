"""Test-only routes: tenant endpoints that fail half-way, to prove nothing is left behind."""

from django.urls import path
from rest_framework.response import Response

from radiant.api import TenantAPIView
from radiant.urls import urlpatterns as project_urlpatterns
from tenants.models import ApiKey


class FailAfterQuery(TenantAPIView):
    def get(self, request):
        list(ApiKey.objects.all())
        raise RuntimeError("failed half-way")


class FailAfterWrite(TenantAPIView):
    def post(self, request):
        ApiKey.objects.update(name="written-then-failed")
        raise RuntimeError("failed half-way")


class HandledErrorAfterWrite(TenantAPIView):
    def post(self, request):
        from radiant.problems import NotFound

        ApiKey.objects.update(name="written-then-refused")
        raise NotFound("refused after writing")


class Ok(TenantAPIView):
    def get(self, request):
        return Response({"keys": [k.prefix for k in ApiKey.objects.all()]})


urlpatterns = project_urlpatterns + [
    path("test/fail-after-query", FailAfterQuery.as_view()),
    path("test/fail-after-write", FailAfterWrite.as_view()),
    path("test/refuse-after-write", HandledErrorAfterWrite.as_view()),
    path("test/ok", Ok.as_view()),
]

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from radiant.api import TenantAPIView
from radiant.conditional import HttpPolicy
from radiant.pagination import CursorPagination, PageInput
from tenants import selectors


class LimitsOutput(serializers.Serializer):
    rps = serializers.IntegerField()
    burst = serializers.IntegerField()
    daily_quota = serializers.IntegerField(allow_null=True, help_text="null: unlimited")


class TenantView(TenantAPIView):
    """The calling tenant: identity, status, tier and effective limits."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="tenant_id")
        slug = serializers.CharField()
        name = serializers.CharField()
        status = serializers.CharField()
        tier = serializers.CharField()
        limits = LimitsOutput()

    http = HttpPolicy(max_age=10, stale_while_revalidate=30)

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        # What OutputSerializer renders (it documents the schema), built directly: this
        # endpoint is on every client's hot path, and the nested serializer costs more than
        # everything else it does.
        tenant, limits = self.tenant, self.tenant.limits
        return Response({
            "id": str(tenant.tenant_id), "slug": tenant.slug, "name": tenant.name, "status": tenant.status,
            "tier": tenant.tier,
            "limits": {"rps": limits.rps, "burst": limits.burst, "daily_quota": limits.daily_quota},
        })


class ApiKeyOutput(serializers.Serializer):
    prefix = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyPage(serializers.Serializer):
    results = ApiKeyOutput(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class ApiKeyListView(TenantAPIView):
    """The tenant's API keys (never the keys themselves: only prefixes are kept)."""

    pagination = CursorPagination("-created_at", "-id")  # newest first

    @extend_schema(parameters=[PageInput], responses=ApiKeyPage)
    def get(self, request):
        return Response(self.paginate(selectors.api_key_list(), lambda keys: ApiKeyOutput(keys, many=True).data))


class ApiKeyDetailView(TenantAPIView):
    """One of the tenant's API keys, by its visible prefix."""

    @extend_schema(responses=ApiKeyOutput)
    def get(self, request, prefix):
        return Response(ApiKeyOutput(selectors.api_key_get(prefix=prefix)).data)

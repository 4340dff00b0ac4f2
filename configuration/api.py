from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from configuration import caching, selectors, services
from radiant import cache
from radiant.api import TenantAPIView
from radiant.inputs import StrictInput

KEY_PARAMETER = OpenApiParameter("key", str, OpenApiParameter.PATH, description="e.g. chat.max_tokens")


class EntryOutput(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField()
    type = serializers.CharField()
    source = serializers.CharField(help_text="tenant: your override; global: the platform's value")
    overridable = serializers.BooleanField()
    description = serializers.CharField()


class ConfigListView(TenantAPIView):
    """Every configuration entry as this tenant sees it (its override over the global value)."""

    @extend_schema(responses=EntryOutput(many=True))
    def get(self, request):
        plan = caching.config_all_plan(tenant_id=self.tenant.tenant_id)
        return cache.serve(
            request, plan, lambda: {"results": EntryOutput(selectors.config_list(), many=True).data}
        )


class ConfigDetailView(TenantAPIView):
    class InputSerializer(StrictInput):
        value = serializers.JSONField(allow_null=True, help_text="Checked against the entry's type and constraints.")

    @extend_schema(parameters=[KEY_PARAMETER], responses=EntryOutput)
    def get(self, request, key):
        if not selectors.config_key_valid(key):  # never a cache key
            raise selectors.ConfigKeyNotFound(f"No configuration key {key!r}.")
        plan = caching.config_item_plan(tenant_id=self.tenant.tenant_id, key=key)
        return cache.serve(request, plan, lambda: EntryOutput(selectors.config_get(key=key)).data)

    @extend_schema(parameters=[KEY_PARAMETER], request=InputSerializer, responses=EntryOutput)
    def put(self, request, key):
        services.config_override_check(key=key)  # 404 / 403 before the body is looked at
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merged = services.config_override_set(key=key, value=serializer.validated_data["value"])
        return Response(EntryOutput(merged).data)

    @extend_schema(parameters=[KEY_PARAMETER], responses={204: None})
    def delete(self, request, key):
        services.config_override_clear(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from configuration import caching, selectors, services
from radiant.api import TenantAPIView
from radiant.inputs import StrictInput
from radiant.pagination import CursorPagination, PageInput

KEY_PARAMETER = OpenApiParameter("key", str, OpenApiParameter.PATH, description="e.g. chat.max_tokens")


class ConfigEntryOutput(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField()
    type = serializers.CharField()
    source = serializers.CharField(help_text="tenant: your override; global: the platform's value")
    overridable = serializers.BooleanField()
    description = serializers.CharField()


class ConfigListOutput(serializers.Serializer):
    results = ConfigEntryOutput(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class ConfigListView(TenantAPIView):
    """Every configuration entry as this tenant sees it (its override over the global value)."""

    pagination = CursorPagination("key")

    def cache_plan(self, tenant_id):
        return caching.config_all_plan(tenant_id=tenant_id, page=self.page_key())

    @extend_schema(parameters=[PageInput], responses=ConfigListOutput)
    def get(self, request):
        return self.serve(lambda: self.paginate(
            selectors.config_entries(),
            lambda entries: ConfigEntryOutput(selectors.config_merged(entries), many=True).data,
        ))


class ConfigDetailView(TenantAPIView):
    """One merged entry; PUT sets this tenant's override (if the key allows it), DELETE clears it."""

    class InputSerializer(StrictInput):
        value = serializers.JSONField(
            help_text="Checked against the entry's type and constraints; never null.",
            error_messages={"null": "A value is required; null is not allowed."},
        )

    def cache_plan(self, tenant_id, key):
        if not selectors.config_key_valid(key):  # never a cache key
            raise selectors.ConfigKeyNotFound(f"No configuration key {key!r}.")
        return caching.config_item_plan(tenant_id=tenant_id, key=key)

    @extend_schema(parameters=[KEY_PARAMETER], responses=ConfigEntryOutput)
    def get(self, request, key):
        return self.serve(lambda: ConfigEntryOutput(selectors.config_get(key=key)).data)

    @extend_schema(parameters=[KEY_PARAMETER], request=InputSerializer, responses=ConfigEntryOutput)
    def put(self, request, key):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merged = services.config_override_set(key=key, value=serializer.validated_data["value"])
        return Response(ConfigEntryOutput(merged).data)

    @extend_schema(parameters=[KEY_PARAMETER], responses={204: None})
    def delete(self, request, key):
        services.config_override_clear(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)

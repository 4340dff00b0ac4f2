from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from models_catalog import caching, selectors
from models_catalog.models import AIModel
from radiant import cache
from radiant.api import TenantAPIView
from radiant.inputs import StrictInput, query_input


class ModelOutput(serializers.Serializer):
    slug = serializers.CharField()
    display_name = serializers.CharField()
    provider = serializers.CharField()
    category = serializers.CharField()
    status = serializers.CharField()
    input_cost_per_1k = serializers.DecimalField(max_digits=12, decimal_places=6)
    output_cost_per_1k = serializers.DecimalField(max_digits=12, decimal_places=6)
    context_window = serializers.IntegerField()
    owner = serializers.SerializerMethodField(help_text="global, or tenant for the tenant's private models")

    def get_owner(self, model) -> str:
        return "global" if model.tenant_id is None else "tenant"


class ModelListOutput(serializers.Serializer):
    results = ModelOutput(many=True)


class ModelDetailOutput(ModelOutput):
    metadata = serializers.JSONField()


class ModelListView(TenantAPIView):
    """The models this tenant may use: global and its own, enabled, not disabled or switched off."""

    class FilterInput(StrictInput):
        category = serializers.ChoiceField(choices=AIModel.Category.choices, required=False)
        status = serializers.ChoiceField(choices=AIModel.LISTED_STATUSES, required=False)

    def cache_plan(self, request, tenant_id):
        return caching.models_list_plan(tenant_id=tenant_id, **query_input(self.FilterInput, request))

    @extend_schema(operation_id="v1_models_list", parameters=[FilterInput], responses=ModelListOutput)
    def get(self, request):
        filters = query_input(self.FilterInput, request)
        plan = self.planned(request)
        return cache.serve(
            request, plan, lambda: ModelListOutput({"results": selectors.model_list(**filters)}).data
        )


class ModelDetailView(TenantAPIView):
    """One model this tenant may use, with its metadata."""

    def cache_plan(self, request, tenant_id):
        slug = self.kwargs["slug"]
        if not selectors.model_slug_valid(slug):
            return None
        return caching.models_detail_plan(tenant_id=tenant_id, slug=slug)

    @extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)], responses=ModelDetailOutput)
    def get(self, request, slug):
        if not selectors.model_slug_valid(slug):  # never a cache key
            raise selectors.ModelNotFound(f"No model {slug!r}.")
        plan = self.planned(request)
        return cache.serve(request, plan, lambda: ModelDetailOutput(selectors.model_get(slug=slug)).data)

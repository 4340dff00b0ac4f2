from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from models_catalog import caching, selectors
from models_catalog.models import AIModel
from radiant.api import TenantAPIView
from radiant.pagination import CursorPagination, PageInput


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
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class ModelDetailOutput(ModelOutput):
    metadata = serializers.JSONField()


class ModelListView(TenantAPIView):
    """The models this tenant may use: global and its own, enabled, not disabled or switched off."""

    class FilterInput(PageInput):
        category = serializers.ChoiceField(choices=AIModel.Category.choices, required=False)
        status = serializers.ChoiceField(choices=AIModel.LISTED_STATUSES, required=False)

    query_input = FilterInput
    pagination = CursorPagination("slug", "id")

    def filters(self) -> dict:
        return {name: self.context.query[name] for name in ("category", "status") if name in self.context.query}

    def cache_plan(self, tenant_id):
        return caching.models_list_plan(tenant_id=tenant_id, page=self.page_key(), **self.filters())

    @extend_schema(parameters=[FilterInput], responses=ModelListOutput)
    def get(self, request):
        return self.serve(lambda: self.paginate(
            selectors.model_list(**self.filters()), lambda rows: ModelOutput(rows, many=True).data,
        ))


class ModelDetailView(TenantAPIView):
    """One model this tenant may use, with its metadata."""

    def cache_plan(self, tenant_id, slug):
        if not selectors.model_slug_valid(slug):  # never a cache key
            raise selectors.ModelNotFound(f"No model {slug!r}.")
        return caching.models_detail_plan(tenant_id=tenant_id, slug=slug)

    @extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)], responses=ModelDetailOutput)
    def get(self, request, slug):
        return self.serve(lambda: ModelDetailOutput(selectors.model_get(slug=slug)).data)

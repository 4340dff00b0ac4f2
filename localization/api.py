from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from localization import caching, selectors
from radiant.api import TenantAPIView


class I18nBundleOutput(serializers.Serializer):
    language = serializers.CharField()
    default_language = serializers.CharField(allow_null=True)
    translations = serializers.DictField(child=serializers.CharField())
    fallback_keys = serializers.ListField(
        child=serializers.CharField(), help_text="keys this language lacks, shown in the default language"
    )


class BundleView(TenantAPIView):
    """A language's translations, falling back to the default language key by key."""

    def cache_plan(self, tenant_id, language):
        code = language.lower()
        if not selectors.language_code_valid(code):  # never a cache key
            raise selectors.LanguageNotFound(f"No language {language!r}.")
        return caching.i18n_bundle_plan(language=code)

    @extend_schema(parameters=[OpenApiParameter("language", str, OpenApiParameter.PATH)], responses=I18nBundleOutput)
    def get(self, request, language):
        return self.serve(lambda: I18nBundleOutput(selectors.bundle(language=language.lower())).data)

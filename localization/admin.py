from django.contrib import admin
from django.db.models import Count

from localization.models import Language, Translation
from radiant.admin import RadiantModelAdmin


@admin.register(Language)
class LanguageAdmin(RadiantModelAdmin):
    list_display = ["code", "name", "is_default", "translation_count", "updated_at"]
    list_editable = ["name", "is_default"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(translation_total=Count("translations"))

    @admin.display(description="translations", ordering="translation_total")
    def translation_count(self, obj):
        return obj.translation_total


@admin.register(Translation)
class TranslationAdmin(RadiantModelAdmin):
    list_display = ["key", "language", "text", "updated_at"]
    list_editable = ["text"]
    list_filter = ["language"]
    search_fields = ["key", "text"]
    list_select_related = ["language"]
    ordering = ["key", "language__code"]

"""Translation bundles: a language's texts, each missing key taken from the default language."""

from django.core.exceptions import ValidationError

from localization.models import Language, Translation, language_code_validator
from radiant.problems import NotFound


class LanguageNotFound(NotFound):
    title = "Language not found"


def language_code_valid(code: str) -> bool:
    try:
        language_code_validator(code)
    except ValidationError:
        return False
    return True


def bundle(*, language: str) -> dict:
    """{language, default_language, translations: {key: text}, fallback_keys: [...]}."""
    found = Language.objects.filter(code=language).first() if language_code_valid(language) else None
    if found is None:
        raise LanguageNotFound(f"No language {language!r}.")
    default = Language.objects.filter(is_default=True).first()
    languages = {found.id} | ({default.id} if default else set())
    own, fallback = {}, {}
    for language_id, key, text in Translation.objects.filter(language_id__in=languages).values_list(
        "language_id", "key", "text"
    ):
        (own if language_id == found.id else fallback)[key] = text
    merged = {**fallback, **own}
    return {
        "language": found.code,
        "default_language": default.code if default else None,
        "translations": dict(sorted(merged.items())),
        "fallback_keys": sorted(set(fallback) - set(own)),
    }

"""Demo languages and translations for seed_demo: English (the default) and German."""

from localization.models import Language, Translation

DEMO_LANGUAGES = [("en", "English", True), ("de", "Deutsch", False)]

DEMO_TRANSLATIONS = {
    "en": {
        "common.save": "Save",
        "common.cancel": "Cancel",
        "models.title": "Models",
        "models.deprecated": "Deprecated",
        "credits.balance": "Credit balance",
        "credits.low": "Your credit balance is low.",
        "config.title": "Settings",
        "errors.rate_limited": "Too many requests. Please slow down.",
    },
    "de": {
        "common.save": "Speichern",
        "common.cancel": "Abbrechen",
        "models.title": "Modelle",
        "credits.balance": "Guthaben",
        "credits.low": "Ihr Guthaben ist niedrig.",
        "config.title": "Einstellungen",
        # models.deprecated and errors.rate_limited fall back to English
    },
}


def i18n_seed() -> int:
    """Create the demo languages and texts where missing. Returns how many languages exist."""
    for code, name, is_default in DEMO_LANGUAGES:
        is_default = is_default and not Language.objects.filter(is_default=True).exists()
        language, _ = Language.objects.get_or_create(code=code, defaults={"name": name, "is_default": is_default})
        for key, text in DEMO_TRANSLATIONS[code].items():
            Translation.objects.get_or_create(language=language, key=key, defaults={"text": text})
    return Language.objects.count()

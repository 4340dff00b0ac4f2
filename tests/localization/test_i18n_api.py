"""GET i18n/{language}: bundles with per-key fallback to the default language."""

import pytest

from localization.models import Language, Translation

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_bundle_falls_back_to_the_default_language_key_by_key(languages, tenant, api_client_for):
    response = api_client_for(tenant).get("/api/v1/i18n/de")

    assert response.status_code == 200
    assert response.json() == {
        "language": "de",
        "default_language": "en",
        "translations": {"common.cancel": "Cancel", "common.save": "Speichern", "models.title": "Modelle"},
        "fallback_keys": ["common.cancel"],
    }
    assert response["ETag"].startswith('"')
    assert response["Cache-Control"] == "private, max-age=300, stale-while-revalidate=3600"


def test_default_language_bundle_has_no_fallbacks(languages, tenant, api_client_for):
    body = api_client_for(tenant).get("/api/v1/i18n/en").json()

    assert body["translations"] == {"common.cancel": "Cancel", "common.save": "Save", "models.title": "Models"}
    assert body["fallback_keys"] == []


def test_language_codes_are_case_insensitive(languages, tenant, api_client_for):
    client = api_client_for(tenant)
    assert client.get("/api/v1/i18n/DE").json()["language"] == "de"


def test_unknown_or_malformed_language_is_404(languages, tenant, api_client_for):
    client = api_client_for(tenant)
    for code in ["fr", "xx-yy", "not a language", "e", "de_DE"]:
        response = client.get(f"/api/v1/i18n/{code}")

        assert response.status_code == 404, code
        assert response.json()["code"] == "not_found"


def test_a_default_language_edit_reaches_every_bundle(languages, tenant, api_client_for):
    client = api_client_for(tenant)
    client.get("/api/v1/i18n/de"), client.get("/api/v1/i18n/en")  # warm both

    Translation.objects.filter(language=languages["en"], key="common.cancel").update(text="Dismiss")
    Translation.objects.create(language=languages["en"], key="common.close", text="Close")

    de = client.get("/api/v1/i18n/de").json()
    assert de["translations"]["common.cancel"] == "Dismiss"
    assert de["translations"]["common.close"] == "Close"
    assert client.get("/api/v1/i18n/en").json()["translations"]["common.cancel"] == "Dismiss"


def test_a_new_language_and_a_new_default_apply_on_the_next_request(languages, tenant, api_client_for):
    client = api_client_for(tenant)
    assert client.get("/api/v1/i18n/fr").status_code == 404
    client.get("/api/v1/i18n/en")

    fr = Language.objects.create(code="fr", name="Français")
    Translation.objects.create(language=fr, key="common.save", text="Enregistrer")
    assert client.get("/api/v1/i18n/fr").json()["translations"]["common.save"] == "Enregistrer"

    Language.objects.filter(code="en").update(is_default=False)
    Language.objects.filter(code="de").update(is_default=True)
    en = client.get("/api/v1/i18n/en").json()
    assert en["default_language"] == "de"
    assert en["fallback_keys"] == []
    assert client.get("/api/v1/i18n/fr").json()["translations"]["models.title"] == "Modelle"

"""The operator's admin: catalog, configuration, translations and overrides; every edit reaches
the API's cache on the very next request."""

from decimal import Decimal

import pytest
from django import forms
from django.core.cache import cache
from django.urls import reverse

from configuration.models import ConfigEntry, ConfigOverride
from localization.models import Translation
from models_catalog.models import AIModel, ModelOptOut
from radiant import cache_keys
from tests.helpers import warm

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def listed(client, url="/api/v1/models"):
    response = client.get(url)
    assert response.status_code == 200
    return {model["slug"]: model for model in response.json()["results"]}


def change_form_data(admin_client, url, **changes):
    """The admin change form's current values, as a browser would post them back, with changes."""
    response = admin_client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def test_every_admin_page_of_the_feature_opens(superuser_client, catalog, config_entries, languages, tenant):
    ModelOptOut.all_tenants.create(tenant=tenant, model=catalog["gpt-4o"])
    ConfigOverride.all_tenants.create(tenant=tenant, entry=config_entries["ui.theme"], value="dark")
    for model, obj in [
        (AIModel, catalog["gpt-4o"]),
        (ModelOptOut, ModelOptOut.all_tenants.first()),
        (ConfigEntry, config_entries["webhooks.retry"]),
        (ConfigOverride, ConfigOverride.all_tenants.first()),
        (Translation, Translation.objects.first()),
        (type(languages["en"]), languages["en"]),
    ]:
        meta = model._meta
        for url in [
            reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
            reverse(f"admin:{meta.app_label}_{meta.model_name}_add"),
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]),
        ]:
            assert superuser_client.get(url).status_code == 200, url


def test_admin_price_edit_in_the_change_form_shows_on_next_get(superuser_client, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")
    warm(client, "/api/v1/models/gpt-4o")
    url = reverse("admin:models_catalog_aimodel_change", args=[catalog["gpt-4o"].pk])

    response = superuser_client.post(url, change_form_data(superuser_client, url, input_cost_per_1k="0.0031"))

    assert response.status_code == 302
    assert AIModel.all_tenants.get(slug="gpt-4o").input_cost_per_1k == Decimal("0.003100")
    assert listed(client)["gpt-4o"]["input_cost_per_1k"] == "0.003100"
    assert client.get("/api/v1/models/gpt-4o").json()["input_cost_per_1k"] == "0.003100"


def test_admin_change_form_rejects_a_negative_price_and_changes_nothing(superuser_client, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    before = warm(client, "/api/v1/models").content
    url = reverse("admin:models_catalog_aimodel_change", args=[catalog["gpt-4o"].pk])

    response = superuser_client.post(url, change_form_data(superuser_client, url, input_cost_per_1k="-1"))

    assert response.status_code == 200  # the form again, with the error
    assert "greater than or equal to 0" in response.content.decode()
    assert client.get("/api/v1/models").content == before


def test_admin_list_edit_of_prices_and_status_shows_on_next_get(superuser_client, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")
    claude = catalog["claude-3.5-sonnet"]

    response = superuser_client.post(reverse("admin:models_catalog_aimodel_changelist"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(claude.pk), "form-0-status": "deprecated", "form-0-is_enabled": "on",
        "form-0-input_cost_per_1k": "0.0029", "form-0-output_cost_per_1k": "0.0145",
        "_save": "Save",
    })

    assert response.status_code == 302
    model = listed(client)["claude-3.5-sonnet"]
    assert (model["status"], model["input_cost_per_1k"], model["output_cost_per_1k"]) == (
        "deprecated", "0.002900", "0.014500",
    )


def test_admin_bulk_disable_and_enable_show_on_next_get(superuser_client, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")
    changelist = reverse("admin:models_catalog_aimodel_changelist")
    chosen = [catalog["gpt-4o"].pk, catalog["embed-v3"].pk]

    response = superuser_client.post(changelist, {"action": "disable_selected", "_selected_action": chosen})

    assert response.status_code == 302
    assert set(listed(client)) == {"claude-3.5-sonnet", "old-model"}
    assert client.get("/api/v1/models/gpt-4o").status_code == 404

    superuser_client.post(changelist, {"action": "enable_selected", "_selected_action": chosen})
    assert set(listed(client)) == {"claude-3.5-sonnet", "embed-v3", "gpt-4o", "old-model"}


def test_admin_delete_and_bulk_delete_show_on_next_get(superuser_client, catalog, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/models")
    warm(client, "/api/v1/models/gpt-4o")

    response = superuser_client.post(
        reverse("admin:models_catalog_aimodel_delete", args=[catalog["gpt-4o"].pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert "gpt-4o" not in listed(client)
    assert client.get("/api/v1/models/gpt-4o").status_code == 404

    superuser_client.post(reverse("admin:models_catalog_aimodel_changelist"), {
        "action": "delete_selected", "_selected_action": [catalog["embed-v3"].pk], "post": "yes",
    })
    assert "embed-v3" not in listed(client)


def test_admin_switching_a_model_off_for_a_tenant_shows_on_its_next_get(
    superuser_client, catalog, tenant, other_tenant, api_client_for
):
    mine, theirs = api_client_for(tenant), api_client_for(other_tenant)
    warm(mine, "/api/v1/models"), warm(theirs, "/api/v1/models")

    response = superuser_client.post(
        reverse("admin:models_catalog_modeloptout_add"), {"tenant": tenant.pk, "model": catalog["gpt-4o"].pk}
    )

    assert response.status_code == 302
    assert "gpt-4o" not in listed(mine)
    assert "gpt-4o" in listed(theirs)


def test_admin_private_model_for_one_tenant(superuser_client, catalog, tenant, other_tenant, api_client_for):
    mine, theirs = api_client_for(tenant), api_client_for(other_tenant)
    warm(mine, "/api/v1/models"), warm(theirs, "/api/v1/models")

    response = superuser_client.post(reverse("admin:models_catalog_aimodel_add"), {
        "slug": "acme-tuned", "display_name": "Acme Tuned", "provider": "openai", "category": "chat",
        "tenant": tenant.pk, "status": "active", "is_enabled": "on", "input_cost_per_1k": "0.004",
        "output_cost_per_1k": "0.012", "context_window": "16000", "metadata": "{}",
    })

    assert response.status_code == 302
    assert listed(mine)["acme-tuned"]["owner"] == "tenant"
    assert "acme-tuned" not in listed(theirs)
    # A global model may not take a slug a private one already uses (nor the reverse).
    response = superuser_client.post(reverse("admin:models_catalog_aimodel_add"), {
        "slug": "acme-tuned", "display_name": "X", "provider": "x", "category": "chat", "status": "active",
        "input_cost_per_1k": "0", "output_cost_per_1k": "0", "context_window": "1", "metadata": "{}",
    })
    assert response.status_code == 200
    assert "already uses this slug" in response.content.decode()


# --- configuration ------------------------------------------------------------------------


def test_admin_config_value_is_checked_against_its_type_with_a_clear_message(
    superuser_client, config_entries, tenant, other_tenant, api_client_for
):
    clients = [api_client_for(tenant), api_client_for(other_tenant)]
    for client in clients:
        warm(client, "/api/v1/config/chat.max_tokens")
    url = reverse("admin:configuration_configentry_change", args=[config_entries["chat.max_tokens"].pk])

    for text, message in [
        ("lots", "Invalid integer value: Expected an integer such as 42, got &#x27;lots&#x27;."),
        ("4.5", "Invalid integer value: Expected an integer such as 42, got &#x27;4.5&#x27;."),
        ("99999", "Invalid integer value: Must be at most 32768."),
    ]:
        response = superuser_client.post(url, change_form_data(superuser_client, url, value=text))
        assert response.status_code == 200, text
        assert message in response.content.decode(), text
    assert ConfigEntry.objects.get(key="chat.max_tokens").value == 4096

    response = superuser_client.post(url, change_form_data(superuser_client, url, value="2048"))

    assert response.status_code == 302
    assert ConfigEntry.objects.get(key="chat.max_tokens").value == 2048
    for client in clients:  # a global change reaches every tenant
        assert client.get("/api/v1/config/chat.max_tokens").json()["value"] == 2048


def test_admin_config_entry_declarations_are_checked(superuser_client, tiers):
    add = reverse("admin:configuration_configentry_add")
    base = {"key": "limits.max", "value_type": "integer", "value": "5", "description": "", "is_overridable": "on"}

    for extra, message in [
        ({"min_value": "10", "max_value": "1"}, "The maximum must not be below the minimum."),
        ({"max_length": "3"}, "A maximum length applies to string entries only."),
        ({"choices": '["a"]'}, "Expected an integer, got a string."),
        ({"value_type": "json", "value": "{}", "json_schema": '{"type": 5}'}, "Not a valid JSON Schema"),
        ({"value_type": "string", "value": "x", "key": "Bad Key"}, "dot-separated parts"),
    ]:
        response = superuser_client.post(add, {**base, **extra})
        assert response.status_code == 200, extra
        assert message in response.content.decode(), extra
    assert not ConfigEntry.objects.exists()

    response = superuser_client.post(add, {**base, "value_type": "string", "value": "plain text, no quotes"})
    assert response.status_code == 302
    assert ConfigEntry.objects.get(key="limits.max").value == "plain text, no quotes"


def test_admin_tenant_override_is_checked_and_reaches_that_tenant_only(
    superuser_client, config_entries, tenant, other_tenant, api_client_for
):
    mine, theirs = api_client_for(tenant), api_client_for(other_tenant)
    warm(mine, "/api/v1/config"), warm(theirs, "/api/v1/config")
    add = reverse("admin:configuration_configoverride_add")

    response = superuser_client.post(add, {"tenant": tenant.pk, "entry": config_entries["ui.theme"].pk, "value": "blue"})
    assert response.status_code == 200
    assert "Invalid string value: Must be one of" in response.content.decode()
    response = superuser_client.post(
        add, {"tenant": tenant.pk, "entry": config_entries["moderation.enabled"].pk, "value": "false"}
    )
    assert response.status_code == 200  # not offered: the key is not overridable
    assert not ConfigOverride.all_tenants.exists()

    response = superuser_client.post(add, {"tenant": tenant.pk, "entry": config_entries["ui.theme"].pk, "value": "dark"})

    assert response.status_code == 302
    assert {i["key"]: i["value"] for i in mine.get("/api/v1/config").json()["results"]}["ui.theme"] == "dark"
    assert {i["key"]: i["value"] for i in theirs.get("/api/v1/config").json()["results"]}["ui.theme"] == "system"


def test_admin_translation_edit_shows_on_next_get(superuser_client, languages, tenant, api_client_for):
    client = api_client_for(tenant)
    warm(client, "/api/v1/i18n/de")
    row = Translation.objects.get(language=languages["de"], key="models.title")

    response = superuser_client.post(reverse("admin:localization_translation_changelist"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(row.pk), "form-0-text": "KI-Modelle", "_save": "Save",
    })

    assert response.status_code == 302
    assert client.get("/api/v1/i18n/de").json()["translations"]["models.title"] == "KI-Modelle"


# --- sessions -------------------------------------------------------------------------------


@pytest.mark.redis
def test_admin_session_lives_in_redis_for_24_hours(client, django_user_model):
    django_user_model.objects.create_superuser("operator", "op@example.com", "pw-operator-1")

    # Signs in through the login form, as an operator does (the brute-force guard needs the request).
    response = client.post(reverse("admin:login"), {"username": "operator", "password": "pw-operator-1"})
    assert response.status_code == 302

    key = cache_keys.SESSION_PREFIX + client.session.session_key
    assert cache.get(key) is not None
    assert cache_keys.SESSION_TTL - 60 < cache.ttl(key) <= cache_keys.SESSION_TTL
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_type_change_needs_confirmation_and_never_breaks_an_override(
    superuser_client, config_entries, tenant, api_client_for
):
    client = api_client_for(tenant)
    assert client.put("/api/v1/config/chat.max_tokens", {"value": 1000}, format="json").status_code == 200
    entry = config_entries["chat.max_tokens"]
    url = reverse("admin:configuration_configentry_change", args=[entry.pk])
    to_string = {"value_type": "string", "value": "4096", "min_value": "", "max_value": ""}

    unconfirmed = superuser_client.post(url, change_form_data(superuser_client, url, **to_string))
    confirmed = superuser_client.post(
        url, change_form_data(superuser_client, url, confirm_type_change="on", **to_string)
    )
    tightened = superuser_client.post(url, change_form_data(superuser_client, url, min_value="2000"))

    assert unconfirmed.status_code == 200
    assert "The type changes from integer to string" in unconfirmed.content.decode()
    for response in (confirmed, tightened):
        assert response.status_code == 200
        assert "1 tenant override(s) would no longer fit (tenant-a)" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.value_type, entry.value, entry.min_value) == ("integer", 4096, 1)
    mine = client.get("/api/v1/config/chat.max_tokens").json()
    assert (mine["value"], mine["type"], mine["source"]) == (1000, "integer", "tenant")

    assert client.delete("/api/v1/config/chat.max_tokens").status_code == 204
    response = superuser_client.post(
        url, change_form_data(superuser_client, url, confirm_type_change="on", **to_string)
    )

    assert response.status_code == 302
    mine = client.get("/api/v1/config/chat.max_tokens").json()
    assert (mine["value"], mine["type"]) == ("4096", "string")

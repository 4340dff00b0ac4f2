"""seed_demo brings a realistic catalog, configuration and two languages, idempotently."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from configuration.models import ConfigEntry
from localization.models import Language, Translation
from models_catalog.models import AIModel
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def seed():
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())


def test_seed_demo_is_idempotent_and_keeps_operator_edits(api_client_for):
    seed()
    models = list(AIModel.all_tenants.filter(tenant__isnull=True))
    assert len(models) >= 12
    assert len({m.provider for m in models}) >= 5
    assert len({m.category for m in models}) >= 5
    assert all(isinstance(m.input_cost_per_1k, Decimal) and m.input_cost_per_1k >= 0 for m in models)
    entries = list(ConfigEntry.objects.all())
    assert len(entries) >= 6 and any(e.is_overridable for e in entries) and not all(e.is_overridable for e in entries)
    for entry in entries:
        entry.full_clean()  # every seeded value fits its declared type
    assert sorted(Language.objects.values_list("code", "is_default")) == [("de", False), ("en", True)]

    gpt = AIModel.all_tenants.get(slug="gpt-4o")
    gpt.input_cost_per_1k = Decimal("0.002")
    gpt.save()
    counts = (AIModel.all_tenants.count(), ConfigEntry.objects.count(), Translation.objects.count())
    seed()

    assert (AIModel.all_tenants.count(), ConfigEntry.objects.count(), Translation.objects.count()) == counts
    assert AIModel.all_tenants.get(slug="gpt-4o").input_cost_per_1k == Decimal("0.002")

    client = api_client_for(Tenant.objects.get(slug="acme"))
    assert len(client.get("/api/v1/models").json()["results"]) >= 12
    de = client.get("/api/v1/i18n/de").json()
    assert de["fallback_keys"] and all(key in de["translations"] for key in de["fallback_keys"])

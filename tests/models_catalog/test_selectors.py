"""One rule for "a model this tenant may use", whether the ORM asks or a billing statement
(PostgreSQL: the charge prices the call in the database) does."""

from decimal import Decimal

import pytest
from django.db import connections

from models_catalog import selectors, services
from radiant.tenancy import db_alias, tenant_scope
from tests.helpers import make_model

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def sql_answer(slug, tenant):
    with connections[db_alias()].cursor() as cursor:
        cursor.execute(selectors.usable_model_sql(), {"slug": slug, "tenant_id": tenant.pk})
        return cursor.fetchone()


def orm_answer(slug):
    try:
        model = selectors.model_get(slug=slug)
    except selectors.ModelNotFound:
        return None
    return (model.slug, model.input_cost_per_1k, model.output_cost_per_1k)


def test_the_sql_rule_answers_as_model_get_does(catalog, tenant, other_tenant):
    make_model("mine", tenant=tenant, input_cost_per_1k=Decimal("0.5"))
    make_model("theirs", tenant=other_tenant)
    make_model("gpt-4o", tenant=tenant, input_cost_per_1k=Decimal("0.123456"))  # own before global
    make_model("mine-off", tenant=tenant, is_enabled=False)
    make_model("opted", input_cost_per_1k=Decimal("0.7"))
    services.model_opt_out_set(tenant=tenant, model=selectors.AIModel.all_tenants.get(slug="opted"), switched_off=True)
    slugs = [*catalog, "mine", "theirs", "mine-off", "opted", "missing"]

    for who in (tenant, other_tenant):
        with tenant_scope(who.pk):
            answers = {slug: (sql_answer(slug, who), orm_answer(slug)) for slug in slugs}
        for slug, (sql, orm) in answers.items():
            assert sql == orm, (who.slug, slug)

    with tenant_scope(tenant.pk):
        assert orm_answer("gpt-4o")[1] == Decimal("0.123456")
        assert {slug for slug in slugs if orm_answer(slug)} == {
            "gpt-4o", "claude-3.5-sonnet", "embed-v3", "old-model", "mine",
        }

"""Operators run the platform from the console, in a real browser: a tier edit throttles the
next API call, a config edit is validated, served and audited old -> new, credits granted on
the tenant page show everywhere, and a support user sees every page and changes nothing.
Every page renders without a console error or a failed request, and fits 1366 px."""

from decimal import Decimal

import pytest

from audit.models import AuditLog
from billing.models import CreditAccount, CreditTransaction
from configuration.models import ConfigEntry
from tenants.models import ApiKey, Tenant, Tier
from tenants.services import api_key_create
from tests.billing.conftest import CALL
from tests.console.conftest import api_call
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


def message(page):
    return page.inner_text("ul.messagelist")


def test_a_lower_tier_limit_throttles_the_next_api_calls(console, live_server, make_tenant, operator_user):
    tenant = make_tenant("tier-edit", tier="starter")
    _, key = api_key_create(tenant=tenant)
    assert [api_call(live_server.url, key)[0] for _ in range(5)] == [200] * 5  # starter: bursts of 100

    ops = console(operator_user)
    tier = Tier.objects.get(name="starter")
    ops.open(f"/admin/tenants/tier/{tier.pk}/change/", screenshot="tier-change")
    ops.page.fill("#id_rps", "1")
    ops.page.fill("#id_burst", "2")
    ops.page.click("input[name=_save]")
    assert "was changed successfully" in message(ops.page)

    calls = [api_call(live_server.url, key) for _ in range(6)]
    statuses = [status for status, _, _ in calls]
    # A bucket of 2 refilled at 1 per second: the third call within a second is refused.
    assert statuses[:2] == [200, 200] and 429 in statuses, statuses
    refused = next(headers for status, headers, _ in calls if status == 429)
    assert refused["X-RateLimit-Limit"] == "2" and int(refused["Retry-After"]) >= 1

    ops.open("/admin/", screenshot="dashboard-throttled")
    row = f"#tenants-usage tr[data-tenant='{tenant.slug}']"
    assert ops.page.inner_text(f"{row} .throttled") == str(statuses.count(429))
    assert ops.page.inner_text(f"{row} .requests") == str(5 + statuses.count(200))


def test_a_config_edit_is_checked_served_and_audited(console, live_server, tenant, operator_user, celery_worker):
    entry = ConfigEntry.objects.create(key="chat.max_tokens", value_type="integer", value=1024)
    _, key = api_key_create(tenant=tenant)
    assert api_call(live_server.url, key, "config/chat.max_tokens")[2]["value"] == 1024  # now cached

    ops = console(operator_user)
    ops.open(f"/admin/configuration/configentry/{entry.pk}/change/", screenshot="config-change")
    assert ops.page.input_value("#id_choices") == ""  # a missing JSON value is empty, not "null"
    ops.page.fill("#id_value", "lots")
    ops.page.click("input[name=_save]")
    assert "Invalid integer value" in ops.page.inner_text(".field-value .errorlist")
    ops.page.fill("#id_value", "2048")
    ops.page.click("input[name=_save]")
    assert "was changed successfully" in message(ops.page)

    status, _, body = api_call(live_server.url, key, "config/chat.max_tokens")
    assert (status, body["value"]) == (200, 2048)

    assert wait_for(lambda: AuditLog.objects.filter(action="configentry.update", object_id=str(entry.pk)).exists())
    ops.open("/admin/audit/auditlog/?action=configentry.update", screenshot="audit-log")
    row = ops.page.inner_text("#result_list tbody tr")
    assert "olivia" in row and "value: 1024 → 2048" in row
    ops.open(f"/admin/configuration/configentry/{entry.pk}/history/", screenshot="config-history")
    assert "value: 1024 → 2048" in ops.page.inner_text("#history")


def test_credits_granted_on_the_tenant_page_show_everywhere(
    console, live_server, tenant, operator_user, celery_worker, priced_model,
):
    _, key = api_key_create(tenant=tenant)
    ops = console(operator_user)
    ops.open("/admin/", screenshot="dashboard-before")
    row = f"#tenants-usage tr[data-tenant='{tenant.slug}']"
    assert ops.page.inner_text(f"{row} .balance") == "0.00"
    before = ops.page.inner_text("#total-balance")

    ops.open(f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert ops.page.inner_text("#requests-today") == "0"  # a quota, and no request yet today
    ops.page.fill("#grant-amount", "250")
    ops.page.fill("#grant-reason", "purchase order 1234")
    ops.page.click("#grant")
    assert "Granted 250.00 credits to tenant-a" in message(ops.page)
    assert ops.page.inner_text("#balance") == "250.00"
    ledger = ops.page.inner_text("#tenant-ledger tbody tr")
    assert "grant" in ledger and "250.00" in ledger and "olivia" in ledger
    assert CreditTransaction.all_tenants.get(tenant=tenant, type="grant").operator == "olivia"

    assert wait_for(lambda: AuditLog.objects.filter(action="credits.grant", tenant_id=tenant.pk, actor="olivia").exists())
    ops.open(f"/admin/tenants/tenant/{tenant.pk}/change/", screenshot="tenant-page")
    assert "credits.grant" in ops.page.inner_text("#tenant-audit") and "olivia" in ops.page.inner_text("#tenant-audit")
    ops.open("/admin/audit/auditlog/?action=credits.grant")
    assert "olivia" in ops.page.inner_text("#result_list") and "tenant-a" in ops.page.inner_text("#result_list")

    assert api_call(live_server.url, key, "usage", method="POST", body=CALL)[0] == 201  # 0.0075 credits
    ops.open("/admin/", screenshot="dashboard")
    assert ops.page.inner_text(f"{row} .balance") == "249.99"
    assert ops.page.inner_text("#total-balance") != before
    assert ops.page.inner_text("#total-burned-7d") == "0.01"  # 0.0075, shown to two places
    assert ops.page.inner_text(f"{row} .requests") == "1"  # the charge: today's one call (a tier with a quota)


def test_support_sees_every_page_and_changes_nothing(console, live_server, tenant, support_user, celery_worker):
    from billing.services import credits_grant

    credits_grant(tenant=tenant, amount=Decimal("10"), reason="seed", operator="pytest")
    entry = ConfigEntry.objects.create(key="ui.theme", value_type="string", value="light")
    tier = tenant.tier
    key, _ = api_key_create(tenant=tenant)
    assert wait_for(lambda: AuditLog.objects.filter(action="credits.grant").exists())
    record = AuditLog.objects.filter(action="credits.grant").first()

    sam = console(support_user)
    pages = {
        "dashboard-support": "/admin/",
        "tenants": "/admin/tenants/tenant/",
        "tenant-support": f"/admin/tenants/tenant/{tenant.pk}/change/",
        "tenant-history": f"/admin/tenants/tenant/{tenant.pk}/history/",
        "tiers": "/admin/tenants/tier/",
        "tier": f"/admin/tenants/tier/{tier.pk}/change/",
        "keys": "/admin/tenants/apikey/",
        "key": f"/admin/tenants/apikey/{key.pk}/change/",
        "config": "/admin/configuration/configentry/",
        "config-entry": f"/admin/configuration/configentry/{entry.pk}/change/",
        "ledger": "/admin/billing/credittransaction/",
        "accounts": "/admin/billing/creditaccount/",
        "usage": "/admin/console/usageday/",
        "audit": "/admin/audit/auditlog/",
        "audit-record": f"/admin/audit/auditlog/{record.pk}/change/",
    }
    for name, path in pages.items():
        assert sam.open(path, screenshot=name).status == 200, path
        assert sam.page.locator("input[name=_save], #grant-form, #suspend, a.addlink").count() == 0, path
        assert sam.fits(), path

    refusals = {
        f"/admin/tenants/tier/{tier.pk}/change/": {"name": tier.name, "rps": 1, "burst": 1, "daily_quota": ""},
        f"/admin/configuration/configentry/{entry.pk}/change/": {"key": "ui.theme", "value_type": "string", "value": "dark"},
        f"/admin/tenants/tenant/{tenant.pk}/grant/": {"amount": "1000", "reason": "support tries"},
        f"/admin/tenants/tenant/{tenant.pk}/status/": {"status": "suspended"},
        "/admin/tenants/apikey/add/": {"tenant": str(tenant.pk), "name": "support-key"},
        "/admin/billing/credittransaction/add/": {"tenant": str(tenant.pk), "type": "grant", "amount": "5", "reason": "x"},
        f"/admin/tenants/tier/{tier.pk}/delete/": {"post": "yes"},
    }
    sam.expect_refusals(*((403, path) for path in refusals))
    for path, data in refusals.items():
        assert sam.csrf_post(path, data).status == 403, path
    # An action on a list: not offered, and refused when posted anyway.
    sam.csrf_post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": str(tenant.pk)})
    sam.csrf_post("/admin/tenants/apikey/", {"action": "revoke", "_selected_action": str(key.pk)})

    assert Tier.objects.get(pk=tier.pk).burst == tier.burst
    assert ConfigEntry.objects.get(pk=entry.pk).value == "light"
    assert Tenant.objects.get(pk=tenant.pk).status == "active"
    assert CreditAccount.all_tenants.get(tenant=tenant).balance == Decimal("10")
    assert list(ApiKey.all_tenants.values_list("pk", "revoked_at")) == [(key.pk, None)]
    assert not AuditLog.objects.filter(actor="sam").exists()


def test_every_changelist_fits_a_laptop_screen(console, tenant, operator_user):
    from django.contrib import admin

    ops = console(operator_user)
    for model in admin.site._registry:
        meta = model._meta
        if not operator_user.has_perm(f"{meta.app_label}.view_{meta.model_name}"):
            continue
        path = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert ops.open(path, screenshot=f"list-{meta.app_label}-{meta.model_name}").status == 200, path
        assert ops.fits(), path

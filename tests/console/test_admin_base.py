"""What every admin page shares (radiant/admin.py): one base class, history with values,
actions on the record, roles through groups, readable pages."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

from audit.models import AuditLog
from configuration.models import ConfigEntry
from console.roles import OPERATOR, SUPPORT, roles_ensure
from radiant.admin import RadiantInline, RadiantModelAdmin
from tenants.models import Tenant
from tests.console.conftest import PASSWORD
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def signed_in(client, django_user_model, tiers):
    def sign_in(group, username="someone"):
        roles_ensure()
        user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return client

    return sign_in


def test_every_admin_uses_the_base_class():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, RadiantModelAdmin), model
        assert model_admin.search_fields, f"{model}: a list that can grow needs a search"
        for inline in model_admin.inlines:
            assert issubclass(inline, RadiantInline), inline


def test_the_site_is_branded_without_a_dead_link(admin_client):
    page = admin_client.get("/admin/tenants/tier/").content.decode()
    assert "RADIANT operator console" in page and "Django administration" not in page
    assert "View site" not in page
    assert 'rel="icon"' in page and "radiant/favicon.svg" in page


def test_support_is_offered_no_action_and_a_forged_one_is_refused(signed_in, tenant):
    support = signed_in(SUPPORT)
    page = support.get("/admin/tenants/tenant/").content.decode()
    assert 'name="action"' not in page
    response = support.post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [str(tenant.pk)]})
    assert response.status_code in (200, 302)
    assert Tenant.objects.get(pk=tenant.pk).status == "active"


def test_roles_hold_the_permissions_they_promise(tiers):
    roles_ensure()
    support = set(Group.objects.get(name=SUPPORT).permissions.values_list("codename", flat=True))
    operator = set(Group.objects.get(name=OPERATOR).permissions.values_list("codename", flat=True))
    assert support and all(codename.startswith("view_") for codename in support)
    assert {"view_tenant", "view_credittransaction", "view_auditlog", "view_usageday"} <= support
    assert {"change_tier", "change_tenant", "add_credittransaction", "change_configentry"} <= operator
    assert not {"change_user", "add_group", "change_auditlog"} & operator


def test_an_action_is_recorded_with_its_operator_and_the_values_it_changed(admin_client, tenant, celery_worker):
    admin_client.post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [str(tenant.pk)]})

    assert wait_for(lambda: AuditLog.objects.filter(action="admin.suspend", object_id=str(tenant.pk)).exists())
    record = AuditLog.objects.get(action="admin.suspend")
    assert (record.actor_type, record.actor, record.tenant_id) == ("operator", "admin", tenant.pk)
    assert wait_for(lambda: AuditLog.objects.filter(action="tenant.update", changes__status=["active", "suspended"]).exists())
    history = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/history/").content.decode()
    assert "admin.suspend" in history and "active</span> → <span" in history and "suspended" in history


def test_a_form_edit_shows_old_and_new_values_in_the_history(admin_client, tiers, celery_worker):
    entry = ConfigEntry.objects.create(key="chat.temperature", value_type="number", value=0.7)
    response = admin_client.post(
        f"/admin/configuration/configentry/{entry.pk}/change/",
        {"key": entry.key, "value_type": "number", "value": "0.2", "description": "", "choices": "", "json_schema": ""},
    )
    assert response.status_code == 302

    assert wait_for(lambda: AuditLog.objects.filter(action="configentry.update").exists())
    history = admin_client.get(f"/admin/configuration/configentry/{entry.pk}/history/").content.decode()
    assert '<span class="old">0.7</span> → <span class="new">0.2</span>' in history
    assert "admin (operator)" in history or ">admin <" in history


def test_group_membership_changed_in_a_form_is_recorded(admin_client, django_user_model, tiers, celery_worker):
    roles_ensure()
    user = django_user_model.objects.create_user("newcomer", password=PASSWORD, is_staff=True)
    support = Group.objects.get(name=SUPPORT)
    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", {
        "username": "newcomer", "is_active": "on", "is_staff": "on", "groups": [str(support.pk)],
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "last_login_0": "", "last_login_1": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]

    assert wait_for(lambda: AuditLog.objects.filter(action="user.update", changes__groups=[[], [SUPPORT]]).exists())
    assert AuditLog.objects.get(action="user.update", changes__groups=[[], [SUPPORT]]).actor == "admin"


def test_an_empty_json_value_is_an_empty_box_not_null(admin_client, tiers):
    entry = ConfigEntry.objects.create(key="ui.flags", value_type="json", value={"a": 1})
    page = admin_client.get(f"/admin/configuration/configentry/{entry.pk}/change/").content.decode()
    assert ">null</textarea>" not in page

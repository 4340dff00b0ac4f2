"""The operator's admin: limits validated, tenants suspended, keys shown once and revoked."""

import re

import pytest
from django.contrib.messages import get_messages

from tenants.auth import principal_for as api_key_principal
from tenants.models import ApiKey, Membership, Tenant, Tier

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def tier_form(tier, **changes):
    data = {"name": tier.name, "rps": tier.rps, "burst": tier.burst, "daily_quota": tier.daily_quota or ""}
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "changes, field_error",
    [({"rps": 0}, "RPS must be greater than zero"), ({"rps": 50, "burst": 10}, "Burst must be at least the RPS")],
)
def test_tier_limits_are_validated(admin_client, tiers, changes, field_error):
    tier = Tier.objects.get(name="free")
    response = admin_client.post(f"/admin/tenants/tier/{tier.pk}/change/", tier_form(tier, **changes))

    assert response.status_code == 200  # the form again, with the error
    assert field_error in response.content.decode()
    assert Tier.objects.get(pk=tier.pk).rps == 10


def test_tier_edit_is_saved(admin_client, tiers):
    tier = Tier.objects.get(name="free")
    response = admin_client.post(f"/admin/tenants/tier/{tier.pk}/change/", tier_form(tier, rps=15, burst=30))
    assert response.status_code == 302
    assert (Tier.objects.get(pk=tier.pk).rps, Tier.objects.get(pk=tier.pk).burst) == (15, 30)


def test_suspend_and_reactivate_actions(admin_client, tenant, api_client_for):
    client = api_client_for(tenant)

    admin_client.post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [str(tenant.pk)]})
    assert Tenant.objects.get(pk=tenant.pk).status == "suspended"
    assert client.get("/api/v1/tenant").json()["code"] == "tenant_suspended"

    admin_client.post("/admin/tenants/tenant/", {"action": "reactivate", "_selected_action": [str(tenant.pk)]})
    assert client.get("/api/v1/tenant").status_code == 200


def test_new_api_key_is_shown_once_and_stored_hashed(admin_client, tenant):
    response = admin_client.post(
        "/admin/tenants/apikey/add/", {"tenant": str(tenant.pk), "name": "from-admin", "expires_at_0": "", "expires_at_1": ""},
    )

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    raw = re.search(r"rad_[a-z0-9]{8}_[\w-]{55}", response.content.decode()).group(0)
    # The key is on the page only: in no cookie (messages travel in one) and no message.
    assert all(raw not in morsel.value for morsel in response.cookies.values())
    assert raw not in str(admin_client.cookies)
    assert not [m for m in get_messages(response.wsgi_request) if raw in str(m)]
    key = ApiKey.all_tenants.get(name="from-admin")
    assert api_key_principal(raw).key_id == key.pk
    assert key.key_hash != raw and raw not in key.key_hash

    again = admin_client.get(f"/admin/tenants/apikey/{key.pk}/change/").content.decode()
    listing = admin_client.get("/admin/tenants/apikey/").content.decode()
    assert raw not in again and raw not in listing
    assert key.prefix in listing


def test_api_key_expiry_in_the_past_is_refused(admin_client, tenant):
    response = admin_client.post(
        "/admin/tenants/apikey/add/",
        {"tenant": str(tenant.pk), "name": "late", "expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"},
    )
    assert "The expiry must be in the future." in response.content.decode()
    assert not ApiKey.all_tenants.filter(name="late").exists()


def test_revoke_action(admin_client, tenant, api_client_for):
    client = api_client_for(tenant)

    admin_client.post("/admin/tenants/apikey/", {"action": "revoke", "_selected_action": [str(client.api_key.pk)]})

    assert ApiKey.all_tenants.get(pk=client.api_key.pk).revoked_at is not None
    assert client.get("/api/v1/tenant").status_code == 401


def test_changelists_render_across_tenants(admin_client, tenant, other_tenant, api_client_for, admin_user):
    api_client_for(tenant, name="key-of-a")
    api_client_for(other_tenant, name="key-of-b")
    Membership.all_tenants.create(tenant=tenant, user=admin_user, role="owner")

    keys = admin_client.get("/admin/tenants/apikey/").content.decode()
    assert "key-of-a" in keys and "key-of-b" in keys
    for path in ["/admin/tenants/tier/", "/admin/tenants/tenant/", "/admin/tenants/membership/",
                 f"/admin/tenants/tenant/{tenant.pk}/change/"]:
        assert admin_client.get(path).status_code == 200, path

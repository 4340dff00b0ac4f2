import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_get_tenant_returns_caller_with_effective_limits(tenant, api_client_for):
    response = api_client_for(tenant).get("/api/v1/tenant")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(tenant.id),
        "slug": "tenant-a",
        "name": "Tenant-A",
        "status": "active",
        "tier": "professional",
        "limits": {"rps": 100, "burst": 200, "daily_quota": 50000},
    }


def test_tenant_overrides_win_over_tier_and_daily_zero_is_unlimited(make_tenant, api_client_for):
    tenant = make_tenant(tier="free", rps=30, burst=60, daily=0)

    limits = api_client_for(tenant).get("/api/v1/tenant").json()["limits"]

    assert limits == {"rps": 30, "burst": 60, "daily_quota": None}

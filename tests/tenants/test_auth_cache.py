"""Authentication is served from the cache, and every change is honoured on the next request."""

import pytest

from tenants.models import Tier
from tenants.services import api_key_revoke
from tests.querycount import captured_queries

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_warm_authenticated_request_runs_no_sql(tenant, api_client_for):
    client = api_client_for(tenant)
    assert client.get("/api/v1/tenant").status_code == 200  # warms the auth cache

    with captured_queries() as queries:
        response = client.get("/api/v1/tenant")

    assert response.status_code == 200
    assert queries == []


def test_revoked_key_stops_working_on_the_next_request_with_the_cache_warm(tenant, api_client_for):
    client = api_client_for(tenant)
    client.get("/api/v1/tenant")
    client.get("/api/v1/tenant")

    api_key_revoke(prefix=client.api_key.prefix)

    assert client.get("/api/v1/tenant").status_code == 401


def test_suspension_and_tier_edits_apply_on_the_next_request(tenant, api_client_for):
    client = api_client_for(tenant)
    assert client.get("/api/v1/tenant").json()["limits"]["rps"] == 100

    tier = Tier.objects.get(name="professional")
    tier.rps, tier.burst = 120, 240
    tier.save()
    assert client.get("/api/v1/tenant").json()["limits"] == {"rps": 120, "burst": 240, "daily_quota": 50000}

    tenant.status = "suspended"
    tenant.save()
    assert client.get("/api/v1/tenant").json()["code"] == "tenant_suspended"


def test_revoking_one_key_leaves_other_tenants_working(tenant, other_tenant, api_client_for):
    client_a, client_b = api_client_for(tenant), api_client_for(other_tenant)
    client_a.get("/api/v1/tenant")
    client_b.get("/api/v1/tenant")

    api_key_revoke(prefix=client_a.api_key.prefix)

    assert client_a.get("/api/v1/tenant").status_code == 401
    assert client_b.get("/api/v1/tenant").status_code == 200

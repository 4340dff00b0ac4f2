"""A revocation, a suspension or a limit change that reports success is in force on every
later request, whatever Redis did meanwhile; one that cannot be made effective is refused,
and says so. Redis is a server of the test's own, stalled with SIGSTOP."""

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from radiant.invalidation import InvalidationUnavailable
from tenants.models import ApiKey, Tenant, Tier
from tenants.services import api_key_revoke, tenant_set_status

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, databases="__all__")]


def revoke(client):
    call_command("revoke_api_key", prefix=client.api_key.prefix)


def suspend(client):
    tenant_set_status(tenant=client.api_key.tenant, status=Tenant.Status.SUSPENDED)


def lower_the_tier(client):
    Tier.objects.filter(name=client.api_key.tenant.tier.name).update(rps=1, burst=3)


def refused(response, change):
    """Whether the response shows the change in force."""
    if change is revoke:
        return response.status_code == 401
    if change is suspend:
        return response.status_code == 403 and response.json()["code"] == "tenant_suspended"
    return response["X-RateLimit-Limit"] == "3"


def unchanged(client, change):
    key = ApiKey.all_tenants.select_related("tenant__tier").get(pk=client.api_key.pk)
    if change is revoke:
        return key.revoked_at is None
    if change is suspend:
        return key.tenant.status == Tenant.Status.ACTIVE
    return key.tenant.tier.burst != 3


CHANGES = [revoke, suspend, lower_the_tier]


@pytest.fixture
def warm_client(private_redis, tenant, api_client_for):
    """A key whose authentication is cached in Redis and remembered by this process."""
    client = api_client_for(tenant)
    for _ in range(2):
        response = client.get("/api/v1/tenant")
        assert response.status_code == 200 and not refused(response, lower_the_tier)
    return client


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__)
def test_a_change_made_while_redis_is_stalled_is_refused_and_says_so(warm_client, private_redis, change):
    private_redis.pause()
    try:
        with pytest.raises((CommandError, InvalidationUnavailable), match="could not be reached"):
            change(warm_client)
    finally:
        private_redis.resume()

    assert unchanged(warm_client, change)  # nothing claims a success that is not in force
    assert not refused(warm_client.get("/api/v1/tenant"), change)
    change(warm_client)  # with Redis back, the same change goes through and applies at once
    assert refused(warm_client.get("/api/v1/tenant"), change)


@pytest.fixture
def lossy_link(private_redis, settings):
    """The cache reaches the private Redis through a link that can lose what it carries."""
    from tests.redis_servers import LossyLink

    link = LossyLink(private_redis.port)
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{link.port}/0"}}
    yield link
    link.close()


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__)
def test_a_change_that_succeeded_stays_in_force_if_redis_never_hears_of_the_commit(
    private_redis, lossy_link, tenant, api_client_for, change
):
    client = api_client_for(tenant)
    for _ in range(2):  # cached in Redis and remembered by this process
        assert not refused(client.get("/api/v1/tenant"), change)
    try:
        with transaction.atomic():
            # Registered first, so it runs first on commit: the invalidation that follows
            # is lost on the way, and Redis keeps every entry it had.
            transaction.on_commit(lossy_link.lose)
            change(client)
        if change is not lower_the_tier:  # (a limit needs the limiter, which is cut off too)
            for _ in range(2):
                assert refused(client.get("/api/v1/tenant"), change)  # answered from the database
    finally:
        lossy_link.heal()

    for _ in range(3):  # Redis is reachable again, with the old entries and generation
        assert refused(client.get("/api/v1/tenant"), change)


def test_the_admin_tells_the_operator_when_a_revocation_could_not_be_made_effective(
    warm_client, private_redis, settings, client, admin_user
):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"  # the operator stays signed in
    client.force_login(admin_user)
    admin_client = client
    private_redis.pause()
    try:
        response = admin_client.post(
            "/admin/tenants/apikey/",
            {"action": "revoke", "_selected_action": [warm_client.api_key.pk]},
            follow=True,
        )
    finally:
        private_redis.resume()

    assert response.status_code == 200
    assert "Nothing was changed" in response.content.decode()
    assert unchanged(warm_client, revoke)
    api_key_revoke(prefix=warm_client.api_key.prefix)
    assert refused(warm_client.get("/api/v1/tenant"), revoke)

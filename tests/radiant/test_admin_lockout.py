"""The admin's sign-in cannot be brute-forced, and the demo seed never leaves a known password
on a deployed stage."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("operator", "op@example.com", "right-password")


def sign_in(address, username, password):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password})
    return response, client


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_wrong_passwords_lock_the_user_out_from_every_address(settings, operator):
    statuses = [sign_in("192.0.2.10", "operator", "guess")[0].status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again, then locked

    for address in ("192.0.2.10", "198.51.100.4"):
        response, client = sign_in(address, "operator", "right-password")
        assert response.status_code == 429
        assert not signed_in(client)


def test_an_address_that_guesses_across_user_names_is_locked_out(settings, operator):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in("192.0.2.20", f"someone-{n}", "guess")

    response, client = sign_in("192.0.2.20", "operator", "right-password")
    assert response.status_code == 429
    assert not signed_in(client)
    response, client = sign_in("192.0.2.21", "operator", "right-password")  # another address is fine
    assert signed_in(client)


def test_operators_see_the_lockout_in_the_admin(settings, operator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("192.0.2.30", "operator", "guess")
    support = get_user_model().objects.create_superuser("support", "s@example.com", "another-password")
    client = Client(REMOTE_ADDR="203.0.113.5")
    client.force_login(support)

    page = client.get("/admin/axes/accessattempt/").content.decode()
    assert "operator" in page and "192.0.2.30" in page


def test_a_successful_sign_in_below_the_limit_resets_the_count(settings, operator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("192.0.2.40", "operator", "guess")
    _, client = sign_in("192.0.2.40", "operator", "right-password")
    assert signed_in(client)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("192.0.2.40", "operator", "guess")
    _, client = sign_in("192.0.2.40", "operator", "right-password")
    assert signed_in(client)


def seed(**options):
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO(), **options)
    return json.loads(out.getvalue())


def test_seed_demo_in_production_makes_a_random_admin_password_shown_once(settings, tiers):
    settings.PRODUCTION = True
    first = seed()
    assert len(first["password"]) >= 20
    assert not get_user_model().objects.get(username="admin").check_password("admin")
    assert get_user_model().objects.get(username="admin").check_password(first["password"])
    assert "password" not in seed()  # idempotent, and never shown again


def test_seed_demo_in_development_keeps_admin_admin(tiers):
    assert "password" not in seed()
    assert get_user_model().objects.get(username="admin").check_password("admin")

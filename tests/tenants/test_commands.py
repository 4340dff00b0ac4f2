"""Operator commands: JSON on stdout, non-zero exit with a message on error, nothing half-done."""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.auth import principal_for as api_key_principal
from tenants.models import ApiKey, Tenant, Tier

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_create_tenant(tiers):
    result = run("create_tenant", "--slug", "acme", "--name", "Acme", "--tier", "starter")

    tenant = Tenant.objects.get(slug="acme")
    assert result == {"id": str(tenant.id), "slug": "acme", "tier": "starter"}
    assert (tenant.rps_override, tenant.burst_override, tenant.daily_quota_override) == (None, None, None)


def test_create_tenant_with_own_limits_and_unlimited_daily(tiers):
    run("create_tenant", "--slug", "big", "--name", "Big", "--tier", "free", "--rps", "40", "--burst", "80", "--daily", "0")

    tenant = Tenant.objects.get(slug="big")
    assert (tenant.rps_override, tenant.burst_override, tenant.daily_quota_override) == (40, 80, 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tier", "platinum"], "unknown tier"),
        (["--tier", "free", "--rps", "-1"], "must not be negative"),
        (["--tier", "free", "--rps", "0"], "greater than zero"),
        (["--tier", "free", "--burst", "5"], "at least the RPS"),
        (["--tier", "free", "--daily", "-5"], "must not be negative"),
    ],
)
def test_create_tenant_refuses_bad_input_and_creates_nothing(tiers, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_tenant", "--slug", "x", "--name", "X", *args)
    assert not Tenant.objects.filter(slug="x").exists()


def test_create_tenant_refuses_duplicate_slug(tenant):
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "--slug", tenant.slug, "--name", "Again", "--tier", "free")


def test_create_and_revoke_api_key(tenant):
    created = run("create_api_key", "--tenant", tenant.slug, "--name", "ci")

    assert set(created) == {"key", "prefix"}
    assert api_key_principal(created["key"]).tenant_id == tenant.id
    assert not ApiKey.all_tenants.filter(key_hash=created["key"]).exists()

    revoked = run("revoke_api_key", "--prefix", created["prefix"])

    assert revoked["prefix"] == created["prefix"]
    assert ApiKey.all_tenants.get(prefix=created["prefix"]).revoked_at is not None


def test_api_key_errors(tenant):
    with pytest.raises(CommandError, match="no tenant"):
        run("create_api_key", "--tenant", "nobody")
    with pytest.raises(CommandError, match="no API key"):
        run("revoke_api_key", "--prefix", "zzzzzzzz")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("create_api_key", "--tenant", tenant.slug, "--expires", "tomorrow")
    with pytest.raises(CommandError, match="future"):
        run("create_api_key", "--tenant", tenant.slug, "--expires", "2001-01-01T00:00:00Z")
    assert not ApiKey.all_tenants.exists()


def test_seed_demo_is_idempotent(transactional_db):
    first = run("seed_demo", "--with-key")
    second = run("seed_demo")

    assert first["tenants"] == second["tenants"] == ["acme", "globex"]
    assert Tier.objects.count() == 5
    assert Tenant.objects.count() == 2
    assert api_key_principal(first["key"]).slug == "acme"


def test_commands_exit_non_zero_with_a_message_in_a_real_process(tmp_path):
    """The exit status and stderr an operator's shell sees (embedded default, own SQLite file)."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, env=env, capture_output=True)

    ok = subprocess.run(
        [sys.executable, "manage.py", "create_tenant", "--slug", "cli", "--name", "Cli", "--tier", "free"],
        env=env, capture_output=True, text=True,
    )
    bad = subprocess.run(
        [sys.executable, "manage.py", "create_tenant", "--slug", "cli2", "--name", "X", "--tier", "gold"],
        env=env, capture_output=True, text=True,
    )

    assert ok.returncode == 0 and json.loads(ok.stdout)["slug"] == "cli"
    assert bad.returncode == 1 and "unknown tier" in bad.stderr and bad.stdout == ""


BIG = "99999999999999"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--slug", "Bad Slug!", "--name", "X", "--tier", "free"], "not a valid slug"),
        (["--slug", "nul\x00byte", "--name", "X", "--tier", "free"], "not a valid slug"),
        (["--slug", "x" * 64, "--name", "X", "--tier", "free"], "not a valid slug"),
        (["--slug", "blank", "--name", "   ", "--tier", "free"], "must not be blank"),
        (["--slug", "long", "--name", "n" * 201, "--tier", "free"], "at most 200"),
        (["--slug", "tier", "--name", "X", "--tier", "fr\x00ee"], "not a valid slug"),
        (["--slug", "rps", "--name", "X", "--tier", "free", "--rps", BIG], "--rps must be at most 100000"),
        (["--slug", "burst", "--name", "X", "--tier", "free", "--burst", BIG], "--burst must be at most"),
        (["--slug", "daily", "--name", "X", "--tier", "free", "--daily", BIG * 2], "--daily must be at most"),
    ],
)
def test_create_tenant_mistakes_are_one_line_on_every_database(tiers, args, message):
    """The same bounds on SQLite and PostgreSQL (CI runs this file on both)."""
    with pytest.raises(CommandError, match=message) as raised:
        run("create_tenant", *args)
    assert "\n" not in str(raised.value)
    assert Tenant.objects.count() == 0


@pytest.mark.parametrize(
    "command, args, message",
    [
        ("create_api_key", ["--tenant", "no such"], "not a valid slug"),
        ("create_api_key", ["--tenant", "tenant-a", "--name", ""], "must not be blank"),
        ("create_api_key", ["--tenant", "tenant-a", "--name", "k" * 101], "at most 100"),
        ("create_api_key", ["--tenant", "tenant-a", "--expires", "tomorrow"], "ISO 8601"),
        ("revoke_api_key", ["--prefix", "x\x00y"], "not an API key prefix"),
        ("revoke_api_key", ["--prefix", "p" * 500], "not an API key prefix"),
        ("purge_api_keys", ["--older-than-days", BIG], "between 0 and 36500"),
    ],
)
def test_key_command_mistakes_are_one_line(tenant, command, args, message):
    with pytest.raises(CommandError, match=message) as raised:
        run(command, *args)
    assert "\n" not in str(raised.value)
    assert ApiKey.all_tenants.count() == 0


@pytest.mark.parametrize("args", [
    ["create_tenant", "--slug", "Bad Slug!", "--name", "X", "--tier", "free"],
    ["create_tenant", "--slug", "ok", "--name", "", "--tier", "free"],
    ["create_tenant", "--slug", "ok", "--name", "X", "--tier", "free", "--rps", BIG],
    ["create_api_key", "--tenant", "nobody"],
])
def test_a_mistake_is_one_line_and_exit_1_in_a_real_process(tmp_path, args):
    # LOG_LEVEL: start-up INFO log lines (django-axes) are logs, not the command's message.
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, env=env, capture_output=True)

    result = subprocess.run([sys.executable, "manage.py", *args], env=env, capture_output=True, text=True)

    assert result.returncode == 1 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1

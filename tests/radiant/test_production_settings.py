"""The production settings pass Django's deployment checks and serve HTTPS only."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "REDIS_"))}
    env.update(RADIANT_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), **extra)
    return env


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PROBE = """
import django
django.setup()
from django.test import Client
client = Client()
plain = client.get("/api/v1/tenant", HTTP_HOST="api.example.com")
tls = client.get("/api/v1/tenant", HTTP_HOST="api.example.com", HTTP_X_FORWARDED_PROTO="https")
probe = client.get("/healthz", HTTP_HOST="api.example.com")
print(plain.status_code, plain.get("Location"), tls.status_code, tls.get("Strict-Transport-Security"), probe.status_code, sep="|")
"""


def test_production_redirects_plain_http_and_sends_hsts_over_tls():
    env = production_env(ALLOWED_HOSTS="api.example.com", DJANGO_SETTINGS_MODULE="radiant.settings")
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    plain, location, tls, hsts, probe = result.stdout.strip().splitlines()[-1].split("|")
    assert (plain, location) == ("301", "https://api.example.com/api/v1/tenant")
    assert tls == "401"  # served (no key): TLS as the proxy reports it is trusted
    assert hsts.startswith("max-age=31536000")
    assert probe == "200"  # health probes are not redirected

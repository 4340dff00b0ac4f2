"""zappa_settings.json, as Zappa itself resolves it (``extends`` and all), and what it deploys."""

import inspect
import json
import os
import re
import subprocess
import sys

import click
import pytest

from deploy.stage import PROJECT_DIR, SETTINGS_FILE, load_stage

RAW = json.loads(SETTINGS_FILE.read_text())
STAGES = [name for name in RAW if name != "base"]
# The seed's function types (docs/DEPLOY.md): one Lambda function per Zappa stage.
SEED_MEMORY = {
    "production": 1024,  # router
    "production_billing": 512,
    "production_ai_proxy": 2048,
    "production_migrations": 256,
}


def _zappa_setting_names():
    """Every stage setting name zappa.cli reads (so a misspelt key cannot pass silently)."""
    from zappa import cli

    source = inspect.getsource(cli)
    names = set(re.findall(r'stage_config\.get\(\s*"(\w+)"', source))
    names |= set(re.findall(r'stage_config\[\s*"(\w+)"\s*\]', source))
    names |= set(re.findall(r'"(\w+)" in self\.stage_config', source))
    return names | set(cli.CUSTOM_SETTINGS) | {"extends"}


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_resolves_through_zappa(stage):
    cli = load_stage(stage)
    generated = cli.get_zappa_settings_string()

    assert cli.runtime == "python3.11"
    assert cli.xray_tracing is True
    assert cli.django_settings == "radiant.settings"
    assert cli.stage_config["use_precompiled_packages"] is False
    assert cli.lambda_name == "radiant-" + stage.replace("_", "-")
    assert f"API_STAGE='{stage}'" in generated
    assert "DJANGO_SETTINGS='radiant.settings'" in generated
    assert "WEBSOCKET_HANDLER_MODULE" not in generated
    # Both JSON error bodies and the OpenAPI schema leave as text, not base64.
    assert cli.binary_support is True
    assert {"application/problem+json", "application/vnd.oai.openapi"} <= set(cli.additional_text_mimetypes)


def test_memory_sizes_are_the_seeds_function_types():
    assert {stage: load_stage(stage).memory_size for stage in SEED_MEMORY} == SEED_MEMORY
    assert load_stage("dev").memory_size == 1024


@pytest.mark.parametrize("stage", [s for s in STAGES if s.startswith("production")])
def test_production_stages_have_debug_off_and_log_no_events(stage):
    cli = load_stage(stage)

    assert cli.debug is False
    assert "DEBUG=False" in cli.get_zappa_settings_string()
    # At DEBUG level Zappa logs every raw event, Authorization header included.
    assert cli.log_level != "DEBUG"
    assert cli.aws_environment_variables["RADIANT_ENV"] == "production"


def test_only_the_router_has_provisioned_concurrency_and_no_stage_has_an_api_cache():
    router = load_stage("production")
    assert router.provisioned_concurrency == 10  # the seed keeps ten router instances warm
    assert router.stage_config["keep_warm"] is False  # provisioned concurrency keeps it warm
    for stage in STAGES:
        # A shared cache in front of authenticated answers would skip rate limits and serve
        # revoked keys (and one operator's admin page to another): Redis and ETag/304 do this.
        assert load_stage(stage).stage_config.get("cache_cluster_enabled") in (None, False), stage
    for stage in ("production_billing", "production_ai_proxy", "production_migrations", "production_worker"):
        assert load_stage(stage).provisioned_concurrency is None
    migrations = load_stage("production_migrations")
    assert migrations.use_apigateway is False
    assert migrations.timeout_seconds == 900


def test_every_key_in_the_file_is_a_zappa_setting():
    known = _zappa_setting_names()
    used = {key for stage in RAW.values() for key in stage}

    assert used - known == set()


def test_scheduled_functions_exist_and_get_valid_rule_names():
    from zappa.utilities import import_and_get_function

    for stage in ("dev", "production_migrations"):
        cli = load_stage(stage)
        for event in cli.stage_config["events"]:
            assert callable(import_and_get_function(event["function"]))
            rule = cli.zappa.get_scheduled_event_name(event, event["function"], cli.lambda_name)
            assert len(rule) <= 64
            assert rule.split("-")[-1] == event["function"]  # what the handler reads back


@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # Zappa loads callbacks so
def test_the_base_stage_cannot_be_used_and_placeholders_block_deploys():
    """Zappa runs the ``settings`` callback for every command; ``--all`` would include base."""
    base = load_stage("base")
    base.command = "package"
    with pytest.raises(click.ClickException, match="not deployable"):
        base.callback("settings")

    production = load_stage("production")
    production.command = "package"
    production.callback("settings")  # building offline is fine with placeholders
    production.command = "deploy"
    with pytest.raises(click.ClickException, match=r"placeholder values .*s3_bucket.*vpc_config\.SubnetIds\[0\]"):
        production.callback("settings")


def _settings_under(environment):
    code = (
        "import json, django; from django.conf import settings as s; django.setup(); "
        "print(json.dumps({'DEBUG': s.DEBUG, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS, "
        "'CSRF_TRUSTED_ORIGINS': s.CSRF_TRUSTED_ORIGINS, 'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE, "
        "'CSRF_COOKIE_SECURE': s.CSRF_COOKIE_SECURE, 'STATIC': s.STORAGES['staticfiles']['BACKEND'], "
        "'CONN_MAX_AGE': s.DATABASES['default']['CONN_MAX_AGE'], "
        "'POOL': 'pool' in s.DATABASES['default'].get('OPTIONS', {}), 'MIDDLEWARE0': s.MIDDLEWARE[0]}))"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_", "RADIANT_"))}
    env.update(environment)
    env["DJANGO_SETTINGS_MODULE"] = "radiant.settings"
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)


def test_django_settings_under_the_production_lambda_environment():
    environment = {
        **load_stage("production").aws_environment_variables,
        # secrets come from SSM at deploy time (deploy/zappa_hooks.py); dummies here
        "DJANGO_SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://operator:pw@aurora-proxy.example:5432/radiant",
    }

    result = _settings_under(environment)

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["DEBUG"] is False
    assert seen["ALLOWED_HOSTS"] == ["api.radiant.example", ".execute-api.us-east-1.amazonaws.com"]
    assert "https://api.radiant.example" in seen["CSRF_TRUSTED_ORIGINS"]
    assert seen["SESSION_COOKIE_SECURE"] is seen["CSRF_COOKIE_SECURE"] is True
    assert seen["STATIC"] == "radiant.staticfiles.CompressedStaticFilesStorage"
    # One persistent connection per container (RDS Proxy pools), not a pool per container.
    assert seen["POOL"] is False and seen["CONN_MAX_AGE"] == 300
    assert seen["MIDDLEWARE0"] == "radiant.lambda_gateway.ApiGatewayClientIpMiddleware"


def test_a_deployed_stage_refuses_to_start_without_its_secret_key():
    result = _settings_under(load_stage("production").aws_environment_variables)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


API_GATEWAY_LIMIT_SECONDS = 29  # REST API integration timeout


@pytest.mark.parametrize("stage", STAGES)
def test_functions_behind_api_gateway_stop_before_it_gives_up(stage):
    """A function still running after API Gateway answered 504 only burns concurrency (and a
    database connection); long work goes to the task queue instead."""
    cli = load_stage(stage)
    if cli.use_apigateway:
        assert cli.timeout_seconds < API_GATEWAY_LIMIT_SECONDS, stage


def test_the_worker_stage_runs_task_messages_from_its_queue():
    from zappa.utilities import import_and_get_function

    cli = load_stage("production_worker")
    (event,) = cli.stage_config["events"]
    generated = cli.get_zappa_settings_string()

    assert cli.use_apigateway is False and cli.memory_size == 512
    assert event["event_source"]["arn"].split(":")[2] == "sqs"
    # The handler finds the function by the record's eventSourceARN in AWS_EVENT_MAPPING.
    assert f"AWS_EVENT_MAPPING={{'{event['event_source']['arn']}': ['{event['function']}']}}" in generated
    assert callable(import_and_get_function(event["function"]))
    assert cli.aws_environment_variables["CELERY_BROKER_URL"] == "sqs://"
    assert cli.stage_config["callbacks"]["post"] == "deploy.zappa_hooks.configure_task_queue"

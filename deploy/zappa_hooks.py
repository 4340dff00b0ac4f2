"""Zappa hooks named in zappa_settings.json. The zappa CLI runs them on the deployer's machine.

- ``collectstatic()`` (``prebuild_script``): collects the admin's static files into
  ``staticfiles/`` with the production (compressed) storage before every package, so
  WhiteNoise serves them from the Lambda package.
- ``prepare_stage(cli)`` (``callbacks.settings``): refuses the template stage ``base``,
  refuses ``REPLACE_`` placeholders for commands that talk to AWS, and for ``deploy``/``update``
  puts the stage's secrets from SSM Parameter Store into the Lambda environment.
- ``compile_package(cli)`` (``callbacks.zip``): adds hash-checked bytecode for every module.
- ``secure_api_cache(cli)`` (``callbacks.post``): keys the API Gateway cache by caller.

Zappa loads this file by path as a top-level module, so it imports nothing from the project.
It is excluded from the package (``exclude_glob``): none of it runs on Lambda.
"""

import importlib.util
import os
import re
import subprocess
import sys
import zipfile

TEMPLATE_STAGES = {"base"}
PLACEHOLDER = "REPLACE_"
# Commands that build or describe a package without touching an AWS account.
OFFLINE_COMMANDS = {None, "package", "template", "save-python-settings-file"}
# Without these the app cannot start in a deployed stage (RADIANT_ENV=production).
REQUIRED_SECRETS = ("DJANGO_SECRET_KEY", "DATABASE_URL")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

# What an API Gateway cache entry is keyed by, besides the path. Every query parameter the
# API reads must be listed, or two requests differing only in it share one cached answer.
CACHE_KEY_HEADERS = ("Authorization", "If-None-Match", "Accept-Language")
CACHE_KEY_QUERY = ("category", "status", "type", "since", "until", "cursor", "page_size")


def _fail(message):
    import click

    raise click.ClickException(message)


# --- prebuild -------------------------------------------------------------------------


def collectstatic(project_dir=None):
    """``manage.py collectstatic`` with the storage a deployed stage uses (DEBUG off)."""
    project_dir = project_dir or os.getcwd()
    env = {**os.environ, "RADIANT_ENV": "development", "DJANGO_DEBUG": "0"}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):  # no service is needed
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "--verbosity", "0"],
        cwd=project_dir, env=env, check=True,
    )


# --- settings ---------------------------------------------------------------------------


def _placeholders(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _placeholders(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _placeholders(item, f"{path}[{index}]")
    elif isinstance(value, str) and PLACEHOLDER in value:
        yield path


def secret_paths(project_name, stage):
    """SSM paths read for a stage: the environment's (``production``), then the stage's own."""
    environment = stage.split("_", 1)[0]
    paths = [f"/{project_name}/{environment}/"]
    if stage != environment:
        paths.append(f"/{project_name}/{stage}/")
    return paths


def stage_secrets(ssm, project_name, stage):
    """{ENV_NAME: value} from SecureString parameters under the stage's paths (later wins)."""
    secrets = {}
    for path in secret_paths(project_name, stage):
        for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path=path, WithDecryption=True, Recursive=False
        ):
            for parameter in page["Parameters"]:
                name = parameter["Name"].rsplit("/", 1)[-1]
                if not ENV_NAME.match(name):
                    _fail(f"SSM parameter {parameter['Name']}: the last part must be an environment variable name")
                secrets[name] = parameter["Value"]
    missing = [name for name in REQUIRED_SECRETS if name not in secrets]
    if missing:
        _fail(
            f"stage {stage!r}: missing secrets {', '.join(missing)} under "
            f"{' or '.join(secret_paths(project_name, stage))} in SSM Parameter Store (see docs/DEPLOY.md)"
        )
    return secrets


def prepare_stage(cli):
    """``callbacks.settings``: runs after Zappa has loaded the stage, before any command."""
    if cli.api_stage in TEMPLATE_STAGES:
        _fail(f"{cli.api_stage!r} is the shared template other stages extend; it is not deployable")
    command = getattr(cli, "command", None)
    if command in OFFLINE_COMMANDS:
        return
    unset = sorted(_placeholders(cli.stage_config))
    if unset:
        _fail(f"stage {cli.api_stage!r} still has placeholder values ({PLACEHOLDER}…): {', '.join(unset)}")
    if command in ("deploy", "update"):
        secrets = stage_secrets(cli.zappa.boto_client("ssm"), cli.project_name, cli.api_stage)
        cli.aws_environment_variables = {**cli.aws_environment_variables, **secrets}
        print(f"radiant: {len(secrets)} secrets from SSM set in the Lambda environment: {', '.join(sorted(secrets))}")


# --- zip ----------------------------------------------------------------------------------


def compile_archive(path, *, runtime="python3.11") -> int:
    """Rewrite a Lambda zip with hash-checked ``__pycache__`` bytecode for every module.

    Lambda's code directory is read-only and zip extraction does not keep modification
    times, so timestamp-based .pyc files from the build are stale there and every cold start
    would compile every imported module again. Hash-checked bytecode is validated against the
    source's content, so it is used on Lambda and can never run code other than the source
    next to it. Returns the number of modules compiled.
    """
    wanted = runtime.removeprefix("python")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted != running:
        _fail(f"bytecode for {runtime} must be compiled by Python {wanted}; this is Python {running}")
    from importlib._bootstrap_external import _code_to_hash_pyc

    compiled = 0
    temporary = f"{path}.compiling"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            name = info.filename
            if "__pycache__/" in name or name.endswith(".pyc"):
                continue  # timestamp-checked bytecode from the build machine: useless on Lambda
            data = source.read(info)
            target.writestr(info, data)
            if not name.endswith(".py"):
                continue
            try:
                code = compile(data, name, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue  # templates and py2 leftovers some distributions ship: never imported
            cached = zipfile.ZipInfo(importlib.util.cache_from_source(name), date_time=info.date_time)
            cached.external_attr, cached.create_system = info.external_attr, info.create_system
            cached.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(cached, _code_to_hash_pyc(code, importlib.util.source_hash(data), checked=True))
            compiled += 1
    os.replace(temporary, path)
    return compiled


def compile_package(cli):
    """``callbacks.zip``: runs after Zappa has built the zip (package, deploy, update)."""
    count = compile_archive(cli.zip_path, runtime=cli.runtime)
    print(f"radiant: compiled {count} modules into {cli.zip_path}")


# --- post ---------------------------------------------------------------------------------


def cache_key_parameters(resource_path):
    keys = [f"method.request.header.{name}" for name in CACHE_KEY_HEADERS]
    keys += [f"method.request.querystring.{name}" for name in CACHE_KEY_QUERY]
    if "{proxy+}" in resource_path:
        keys.insert(0, "method.request.path.proxy")
    return keys


def secure_api_cache(cli):
    """``callbacks.post``: key the stage's API Gateway cache by path, caller and query.

    Zappa creates the API's methods with no cache key parameters, so with the stage cache on,
    every GET through ``/{proxy+}`` would share one entry whatever the path or API key — one
    tenant's answer served to another. This adds the proxy path, the Authorization header
    (and the other headers the answer depends on) and the API's query parameters as cache
    keys on every method, then redeploys the stage. A no-op without the stage cache.
    """
    if not cli.stage_config.get("cache_cluster_enabled") or not cli.use_apigateway:
        return
    client = cli.zappa.apigateway_client
    api_id = cli.zappa.get_api_id(cli.lambda_name)
    if not api_id:
        _fail(f"no API Gateway API found for {cli.lambda_name}")
    for resource in client.get_resources(restApiId=api_id, limit=500)["items"]:
        for method in resource.get("resourceMethods") or {}:
            if method == "OPTIONS":
                continue
            keys = cache_key_parameters(resource["path"])
            current = client.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
            declared = current.get("requestParameters") or {}
            cached = set((current.get("methodIntegration") or {}).get("cacheKeyParameters") or [])
            add_params = [
                {"op": "add", "path": f"/requestParameters/{key}", "value": "false"}
                for key in keys if key not in declared
            ]
            if add_params:
                client.update_method(
                    restApiId=api_id, resourceId=resource["id"], httpMethod=method, patchOperations=add_params
                )
            add_keys = [{"op": "add", "path": f"/cacheKeyParameters/{key}"} for key in keys if key not in cached]
            if add_keys:
                client.update_integration(
                    restApiId=api_id, resourceId=resource["id"], httpMethod=method, patchOperations=add_keys
                )
    client.create_deployment(
        restApiId=api_id,
        stageName=cli.api_stage,
        description="radiant: API cache keyed by path, caller and query",
        cacheClusterEnabled=True,
        cacheClusterSize=str(cli.stage_config.get("cache_cluster_size", "0.5")),
    )
    print(f"radiant: API Gateway cache of {cli.api_stage} keyed by path, caller and query")

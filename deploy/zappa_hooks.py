"""Zappa hooks named in zappa_settings.json. The zappa CLI runs them on the deployer's machine.

- ``collectstatic()`` (``prebuild_script``): collects the admin's static files into
  ``staticfiles/`` with the production (compressed) storage before every package, so
  WhiteNoise serves them from the Lambda package.
- ``prepare_stage(cli)`` (``callbacks.settings``): refuses the template stage ``base``,
  refuses ``REPLACE_`` placeholders for commands that talk to AWS, and for ``deploy``/``update``
  puts the stage's secrets from SSM Parameter Store into the Lambda environment.
- ``compile_package(cli)`` (``callbacks.zip``): drops what a function never reads (package
  metadata, source maps, unused locales, static files already collected) and adds
  hash-checked bytecode for every module.
- ``configure_task_queue(cli)`` (``callbacks.post``): the worker's SQS event source reports
  batch item failures, so failed task messages are retried and then dead-lettered.

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


# Languages the app can answer in. No LocaleMiddleware and no translation.activate(): every
# request runs in LANGUAGE_CODE, so other catalogs and locale formats are never loaded.
KEPT_LOCALES = {"en"}
# What importlib.metadata needs at run time (kombu reads redis's version; entry points).
KEPT_METADATA = {"METADATA", "entry_points.txt"}
# The API's docs are Swagger UI (drf-spectacular's sidecar); no Redoc page is routed, and of
# Powertools only the metrics are used (radiant/metrics/emf.py), never its own OpenAPI pages.
UNSERVED = (
    "staticfiles/drf_spectacular_sidecar/redoc/",
    "drf_spectacular_sidecar/static/drf_spectacular_sidecar/redoc/",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/",
)
LOCALE_DIR = re.compile(r"(^|/)(locale|conf/locale)/(?P<lang>[A-Za-z]{2,3}(_[A-Za-z0-9]+)?)/")


def trim_reason(name, static_names):
    """Why ``name`` need not be in the package, or None to keep it.

    ``static_names``: the paths under ``staticfiles/`` (what WhiteNoise serves).
    """
    parts = name.split("/")
    if len(parts) > 1 and parts[0].endswith((".dist-info", ".egg-info")):
        return None if parts[-1] in KEPT_METADATA else "package metadata (licences, RECORD, …)"
    if name.endswith(".map") or name.endswith((".map.gz", ".map.br")):  # WhiteNoise compresses them too
        return "source maps"
    if name.startswith(UNSERVED):
        return "bundles nothing serves (Redoc; Powertools' Swagger UI)"
    match = LOCALE_DIR.search(name)
    if match and match.group("lang") not in KEPT_LOCALES and not name.startswith("staticfiles/"):
        return "locales the app never activates"
    if not name.startswith("staticfiles/") and "/static/" in name:
        # An app's static files ship in its package and again, collected, in staticfiles/;
        # WhiteNoise serves only the collected copy (no finders when DEBUG is off).
        relative = name.split("/static/", 1)[1]
        if relative in static_names:
            return "static files already in staticfiles/"
    return None


def trim_archive(path):
    """Drop what a deployed function never reads. Returns {reason: [files, bytes]}."""
    removed = {}
    temporary = f"{path}.trimming"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
        infos = source.infolist()
        static_names = {info.filename.removeprefix("staticfiles/") for info in infos
                        if info.filename.startswith("staticfiles/")}
        for info in infos:
            reason = trim_reason(info.filename, static_names)
            if reason:
                tally = removed.setdefault(reason, [0, 0])
                tally[0] += 1
                tally[1] += info.file_size
                continue
            target.writestr(info, source.read(info))
    os.replace(temporary, path)
    return removed


def compile_package(cli):
    """``callbacks.zip``: runs after Zappa has built the zip (package, deploy, update)."""
    removed = trim_archive(cli.zip_path)
    for reason, (files, size) in sorted(removed.items()):
        print(f"radiant: trimmed {files} files, {size / 2**20:.1f} MiB unzipped: {reason}")
    count = compile_archive(cli.zip_path, runtime=cli.runtime)
    print(f"radiant: compiled {count} modules into {cli.zip_path}")


# --- post ---------------------------------------------------------------------------------


def configure_task_queue(cli):
    """``callbacks.post``: make the stage's SQS event sources report batch item failures.

    Zappa creates the event source mapping of each ``events[].event_source`` SQS queue
    without ``FunctionResponseTypes``; without ``ReportBatchItemFailures`` Lambda would treat
    the worker's ``{"batchItemFailures": [...]}`` answer as success and delete failed task
    messages instead of retrying and dead-lettering them. A no-op for stages without queues.
    """
    arns = [
        (event.get("event_source") or {}).get("arn", "")
        for event in cli.stage_config.get("events") or []
    ]
    arns = [arn for arn in arns if arn.startswith("arn:aws:sqs:")]
    if not arns:
        return
    client = cli.zappa.lambda_client
    for arn in arns:
        mappings = client.list_event_source_mappings(FunctionName=cli.lambda_name, EventSourceArn=arn)
        if not mappings["EventSourceMappings"]:
            _fail(f"no event source mapping from {arn} to {cli.lambda_name}: Zappa did not create it")
        for mapping in mappings["EventSourceMappings"]:
            if "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []):
                continue
            client.update_event_source_mapping(
                UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
            )
        print(f"radiant: {arn} -> {cli.lambda_name} reports batch item failures")


def configure_response_streaming(cli):
    """``callbacks.post`` of the AI proxy stage: its function URL streams responses.

    Zappa creates the stage's function URL (``function_url_enabled``) in the default BUFFERED
    mode, which sends nothing until the whole answer is ready and stops at 6 MB. The AI
    proxy's server-sent events must leave as they are produced: RESPONSE_STREAM, with the
    Lambda Web Adapter (the stage's layer) streaming what the app writes.
    """
    if not cli.stage_config.get("function_url_enabled"):
        _fail(f"stage {cli.api_stage} streams through its function URL, but has none (function_url_enabled)")
    client = cli.zappa.lambda_client
    config = client.get_function_url_config(FunctionName=cli.lambda_name)
    if config.get("InvokeMode") != "RESPONSE_STREAM":
        client.update_function_url_config(FunctionName=cli.lambda_name, InvokeMode="RESPONSE_STREAM")
    print(f"radiant: {cli.lambda_name}'s function URL streams responses ({config['FunctionUrl']})")

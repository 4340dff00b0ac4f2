"""The Zappa hooks (deploy/zappa_hooks.py) and the package ``zappa package`` builds.

AWS is the only thing stubbed: botocore's Stubber answers the SSM and API Gateway calls and
fails the test on any call it was not told to expect.
"""

import os
import subprocess
import sys
import textwrap
import zipfile

import boto3
import click
import pytest
from botocore.stub import Stubber

from deploy import check_package, zappa_hooks
from deploy.stage import PROJECT_DIR, load_stage


def _client(service):
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _parameters(path, **values):
    return {"Parameters": [{"Name": f"{path}{name}", "Value": value, "Type": "SecureString"} for name, value in values.items()]}


def test_deploy_puts_stage_secrets_from_ssm_into_the_lambda_environment():
    cli = load_stage("production_migrations")
    cli.command = "deploy"
    # An operator has filled in the placeholders (the check for them is tested elsewhere).
    cli.zappa_settings = _without_placeholders(cli.zappa_settings)
    ssm = _client("ssm")
    stub = Stubber(ssm)
    stub.add_response("get_parameters_by_path", _parameters(
        "/radiant/production/", DJANGO_SECRET_KEY="k" * 50, DATABASE_URL="postgres://web@proxy/radiant"),
        {"Path": "/radiant/production/", "WithDecryption": True, "Recursive": False})
    stub.add_response("get_parameters_by_path", _parameters(
        "/radiant/production_migrations/", DATABASE_URL="postgres://operator@proxy/radiant"),
        {"Path": "/radiant/production_migrations/", "WithDecryption": True, "Recursive": False})
    cli.zappa.boto_client = lambda service, *a, **k: {"ssm": ssm}[service]

    with stub:
        zappa_hooks.prepare_stage(cli)
        stub.assert_no_pending_responses()

    env = cli.aws_environment_variables
    assert env["DJANGO_SECRET_KEY"] == "k" * 50
    assert env["DATABASE_URL"] == "postgres://operator@proxy/radiant"  # the stage's own value wins
    assert env["RADIANT_ENV"] == "production"  # the file's settings are kept


def _without_placeholders(value):
    if isinstance(value, dict):
        return {key: _without_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_placeholders(item) for item in value]
    if isinstance(value, str):
        return value.replace("REPLACE_", "")
    return value


def test_deploy_without_required_secrets_stops_before_touching_lambda():
    ssm = _client("ssm")
    stub = Stubber(ssm)
    stub.add_response("get_parameters_by_path", _parameters("/radiant/dev/", DATABASE_URL="postgres://x@y/z"),
                      {"Path": "/radiant/dev/", "WithDecryption": True, "Recursive": False})

    with stub, pytest.raises(click.ClickException, match="missing secrets DJANGO_SECRET_KEY under /radiant/dev/"):
        zappa_hooks.stage_secrets(ssm, "radiant", "dev")


def test_secret_names_must_be_environment_variable_names():
    ssm = _client("ssm")
    stub = Stubber(ssm)
    stub.add_response("get_parameters_by_path", _parameters("/radiant/dev/", **{"db-url": "x"}),
                      {"Path": "/radiant/dev/", "WithDecryption": True, "Recursive": False})

    with stub, pytest.raises(click.ClickException, match="environment variable name"):
        zappa_hooks.stage_secrets(ssm, "radiant", "dev")


QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:radiant-production-tasks"
MAPPING_UUID = "2f1c5c9e-8d0b-4e0c-9a53-6f3d1b7e4a10"


def _worker_stage():
    cli = load_stage("production_worker")
    cli.stage_config["events"][0]["event_source"]["arn"] = QUEUE_ARN  # filled from the stack's outputs
    return cli


def test_the_worker_queue_reports_batch_item_failures_after_deploy():
    cli = _worker_stage()
    client = _client("lambda")
    stub = Stubber(client)
    cli.zappa.lambda_client = client
    stub.add_response("list_event_source_mappings", {"EventSourceMappings": [
        {"UUID": MAPPING_UUID, "EventSourceArn": QUEUE_ARN, "FunctionResponseTypes": []}]},
        {"FunctionName": "radiant-production-worker", "EventSourceArn": QUEUE_ARN})
    stub.add_response("update_event_source_mapping", {"UUID": MAPPING_UUID},
                      {"UUID": MAPPING_UUID, "FunctionResponseTypes": ["ReportBatchItemFailures"]})

    with stub:
        zappa_hooks.configure_task_queue(cli)
        stub.assert_no_pending_responses()


def test_a_missing_queue_mapping_stops_the_deploy():
    cli = _worker_stage()
    client = _client("lambda")
    stub = Stubber(client)
    cli.zappa.lambda_client = client
    stub.add_response("list_event_source_mappings", {"EventSourceMappings": []},
                      {"FunctionName": "radiant-production-worker", "EventSourceArn": QUEUE_ARN})

    with stub, pytest.raises(click.ClickException, match="no event source mapping"):
        zappa_hooks.configure_task_queue(cli)


def test_stages_without_a_task_queue_make_no_lambda_calls():
    for stage in ("dev", "production", "production_billing", "production_migrations"):
        cli = load_stage(stage)
        client = _client("lambda")
        cli.zappa.lambda_client = client
        with Stubber(client):  # any call would raise: nothing is expected
            zappa_hooks.configure_task_queue(cli)


def test_compiled_bytecode_is_used_from_a_read_only_copy_and_never_runs_stale_code(tmp_path):
    archive = tmp_path / "lambda.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/mod.py", "ANSWER = 42\n")
        zf.writestr("pkg/__pycache__/mod.cpython-311.pyc", b"stale timestamp bytecode from the build")
        zf.writestr("template.py", "{% if py2 %}print 'x'{% endif %}\n")  # not Python: left alone

    assert zappa_hooks.compile_archive(archive) == 2
    task = tmp_path / "task"
    zipfile.ZipFile(archive).extractall(task)  # extraction sets 1980 timestamps, like Lambda's copy
    names = zipfile.ZipFile(archive).namelist()
    assert check_package.hash_checked(zipfile.ZipFile(archive).read("pkg/__pycache__/mod.cpython-311.pyc"))
    assert "template.py" in names and not any("template" in n and n.endswith(".pyc") for n in names)

    probe = textwrap.dedent("""
        import importlib._bootstrap_external as ext, sys
        def refuse(*args, **kwargs):
            raise SystemExit("compiled from source")
        ext.SourceLoader.source_to_code = refuse
        import pkg.mod
        print(pkg.mod.ANSWER)
    """)
    env = {**os.environ, "PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1"}
    used = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert used.stdout.strip() == "42", used.stderr

    (task / "pkg" / "mod.py").write_text("ANSWER = 43\n")  # source changed after the build
    fresh = subprocess.run([sys.executable, "-c", "import pkg.mod; print(pkg.mod.ANSWER)"], env=env,
                           capture_output=True, text=True)
    assert fresh.stdout.strip() == "43"


def test_bytecode_for_another_runtime_is_refused(tmp_path):
    archive = tmp_path / "lambda.zip"
    zipfile.ZipFile(archive, "w").close()

    with pytest.raises(click.ClickException, match=r"must be compiled by Python 3\.12"):
        zappa_hooks.compile_archive(archive, runtime="python3.12")


@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # how Zappa loads callbacks
@pytest.mark.filterwarnings("ignore:Setuptools is replacing distutils")  # Zappa imports pip
def test_zappa_package_builds_the_project_without_dev_tools_or_boto3(tmp_path, monkeypatch):
    """``zappa package production`` as the CLI runs it (prebuild, zip, callbacks), from a small
    stand-in virtualenv: exclusions, the project, the generated settings, bytecode."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for module in ("boto3/__init__.py", "botocore/__init__.py", "playwright/__init__.py", "pip/__init__.py",
                   "somelib/__init__.py", "somelib/tests/test_x.py", "psycopg/__init__.py",
                   "django/__init__.py", "rest_framework/__init__.py", "zappa/handler.py"):
        (site / module).parent.mkdir(parents=True, exist_ok=True)
        (site / module).write_text("VALUE = 1\n")
    (site / "psycopg_binary").mkdir()
    (site / "psycopg_binary" / "_psycopg.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "venv"))
    monkeypatch.chdir(PROJECT_DIR)
    cli = load_stage("production")
    cli.command = "package"
    cli.vargs = {}
    output = tmp_path / "radiant-production.zip"

    cli.package(output=str(output))

    names = set(zipfile.ZipFile(output).namelist())
    facts, failures = check_package.check_contents(output, stage="production")
    assert failures == []
    assert {"somelib/__init__.py", "radiant/jobs.py", "staticfiles/admin/css/base.css.gz"} <= names
    assert not any(n.startswith(("somelib/tests/", "boto3/", "playwright/", "pip/", "tests/", "deploy/")) for n in names)
    assert facts["hash_checked_pyc"] == facts["python_sources"]


def test_the_package_is_trimmed_of_what_a_function_never_reads(tmp_path):
    archive = tmp_path / "lambda.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("app.py", "django/conf/locale/__init__.py", "django/conf/locale/en/formats.py",
                     "django/conf/locale/de/formats.py", "django/contrib/admin/locale/de/LC_MESSAGES/django.mo",
                     "django/contrib/admin/locale/en/LC_MESSAGES/django.mo",
                     "django/contrib/admin/static/admin/js/core.js", "staticfiles/admin/js/core.js",
                     "staticfiles/admin/js/core.js.gz", "staticfiles/admin/js/vendor/select2.min.js.map",
                     "staticfiles/admin/js/vendor/select2.min.js.map.gz",
                     "staticfiles/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
                     "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
                     "rest_framework/static/rest_framework/js/only-here.js",
                     "foo-1.0.dist-info/RECORD", "foo-1.0.dist-info/LICENSE", "foo-1.0.dist-info/entry_points.txt"):
            zf.writestr(name, "x = 1\n" if name.endswith(".py") else "data")
        zf.writestr("foo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n")

    removed = zappa_hooks.trim_archive(archive)

    names = set(zipfile.ZipFile(archive).namelist())
    assert names == {"app.py", "django/conf/locale/__init__.py", "django/conf/locale/en/formats.py",
                     "django/contrib/admin/locale/en/LC_MESSAGES/django.mo", "staticfiles/admin/js/core.js",
                     "staticfiles/admin/js/core.js.gz", "rest_framework/static/rest_framework/js/only-here.js",
                     "foo-1.0.dist-info/METADATA", "foo-1.0.dist-info/entry_points.txt"}
    assert {reason: files for reason, (files, _) in removed.items()} == {
        "locales the app never activates": 2, "source maps": 2,
        "bundles nothing serves (Redoc; Powertools' Swagger UI)": 2,
        "static files already in staticfiles/": 1, "package metadata (licences, RECORD, …)": 2}
    # importlib.metadata still answers from what is kept (kombu reads redis's version so).
    task = tmp_path / "task"
    zipfile.ZipFile(archive).extractall(task)
    probe = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('foo'))"],
                           env={**os.environ, "PYTHONPATH": str(task)}, capture_output=True, text=True)
    assert probe.stdout.strip() == "1.0", probe.stderr


def test_files_neither_committed_nor_installed_are_reported():
    names = {"radiant/settings.py", "radiant/__pycache__/settings.cpython-311.pyc", "django/__init__.py",
             "handler.py", "zappa_settings.py", "staticfiles/admin/css/base.css", "staticfiles/admin/css/base.css.gz",
             ".env", ".pytest_cache/v/cache/nodeids", "radiant/local_notes.txt", "staticfiles/leftover.css"}

    unexplained = check_package.unexplained_files(
        names, source_files={"radiant/settings.py"},
        installed={"django/__init__.py", "django/contrib/admin/static/admin/css/base.css"})

    assert unexplained == [".env", ".pytest_cache/v/cache/nodeids", "radiant/local_notes.txt", "staticfiles/leftover.css"]

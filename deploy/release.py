"""Release and roll back: migrations before code, and nothing more once they fail.

    python deploy/release.py deploy   [--environment production] [--stages worker,router]
    python deploy/release.py rollback [--environment production] [--stages worker,router] [-n 1]
                                      [--migrate-to APP:MIGRATION]

``deploy`` (run from a clean checkout of the commit to release):

1. exports the committed tree to ``build/src`` (deploy/source_tree.py); every ``zappa``
   command below runs there, so only committed files are packaged;
2. ``zappa update <env>_migrations``: the migration function gets the new code;
3. invokes it synchronously with ``{"manage": "migrate --noinput"}`` and reads the answer:
   a ``FunctionError`` (the migration raised, or the function timed out) stops the release
   here, before any function that serves requests or runs tasks has the new code;
4. ``zappa update`` for each code stage, in order (the worker before the router by default,
   so tasks the new router sends find a worker that knows them).

``rollback`` puts each code stage back ``-n`` published versions (``zappa rollback``), the
router first, then the worker. It does **not** undo migrations: the schema stays where the
release left it, which the previous code must tolerate (migrations expand, a later release
contracts). With ``--migrate-to app:migration`` it also runs ``migrate app migration`` on the
migration function *before* rolling that function back (the new code has the migration files
that know how to reverse), after the code stages are back. What it cannot undo: data the new
code wrote, migrations without a reverse (``RunPython`` without ``reverse_code``, dropped
columns' contents), changed SSM parameters or stack resources, and task messages the new
code queued for tasks the old code does not know (those fail and land in the dead-letter
queue, to be redriven after the next release).
"""

import argparse
import base64
import json
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_DIR / "build" / "src"
CODE_STAGES = ("worker", "router")  # deploy order; rollback goes the other way
STAGE_SUFFIX = {"router": "", "worker": "_worker", "billing": "_billing", "ai_proxy": "_ai_proxy"}


class ReleaseError(Exception):
    pass


def stage_name(environment, role):
    return f"{environment}{STAGE_SUFFIX[role]}"


def function_name(stage):
    return "radiant-" + stage.replace("_", "-")


def zappa(*args, runner=subprocess.run, cwd=BUILD_DIR):
    """Run a zappa command; a non-zero exit stops the release."""
    print("release: zappa " + " ".join(args), flush=True)
    result = runner(["zappa", *args], cwd=str(cwd))
    if result.returncode != 0:
        raise ReleaseError(f"zappa {' '.join(args)} failed (exit {result.returncode})")


def run_management_command(lambda_client, stage, command):
    """Invoke the stage's function with a ``manage`` event, as ``zappa manage`` does, and check it."""
    response = lambda_client.invoke(
        FunctionName=function_name(stage),
        InvocationType="RequestResponse",
        LogType="Tail",
        Payload=json.dumps({"manage": command}).encode(),
    )
    log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    payload = response["Payload"].read().decode(errors="replace")
    if response.get("FunctionError") or response.get("StatusCode") != 200:
        raise ReleaseError(
            f"{command!r} failed on {function_name(stage)} ({response.get('FunctionError') or response.get('StatusCode')}):"
            f"\n{payload}\n--- log tail ---\n{log}"
        )
    print(log, flush=True)
    return log


def deploy(*, environment, roles, lambda_client, runner=subprocess.run, export=None):
    """Migrations first; code stages only after they succeeded. Returns the stages updated."""
    if export is None:
        from deploy.source_tree import export
    commit = export(BUILD_DIR)
    print(f"release: {commit} from {BUILD_DIR}", flush=True)
    migrations = f"{environment}_migrations"
    zappa("update", migrations, runner=runner)
    run_management_command(lambda_client, migrations, "migrate --noinput")
    updated = [migrations]
    for role in roles:
        stage = stage_name(environment, role)
        zappa("update", stage, runner=runner)
        updated.append(stage)
    return updated


def rollback(*, environment, roles, versions, lambda_client, runner=subprocess.run, migrate_to=None):
    """Code stages back ``versions`` versions (router first); the schema only if asked."""
    rolled = []
    for role in reversed(roles):
        stage = stage_name(environment, role)
        zappa("rollback", stage, "-n", str(versions), runner=runner, cwd=PROJECT_DIR)
        rolled.append(stage)
    migrations = f"{environment}_migrations"
    if migrate_to:
        app_label, _, migration = migrate_to.partition(":")
        if not app_label or not migration:
            raise ReleaseError("--migrate-to takes app_label:migration_name (or app_label:zero)")
        run_management_command(lambda_client, migrations, f"migrate {app_label} {migration} --noinput")
    zappa("rollback", migrations, "-n", str(versions), runner=runner, cwd=PROJECT_DIR)
    rolled.append(migrations)
    return rolled


def main(argv=None, lambda_client=None, runner=subprocess.run, export=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("deploy", "rollback"))
    parser.add_argument("--environment", default="production")
    parser.add_argument("--stages", default=",".join(CODE_STAGES),
                        help=f"code stages in deploy order, of {', '.join(STAGE_SUFFIX)}")
    parser.add_argument("-n", "--versions", type=int, default=1)
    parser.add_argument("--migrate-to")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    roles = [role for role in args.stages.split(",") if role]
    unknown = [role for role in roles if role not in STAGE_SUFFIX]
    if unknown:
        parser.error(f"unknown stages: {', '.join(unknown)}")
    if lambda_client is None:
        import boto3
        from botocore.config import Config

        # The migration function may run up to its 900 s timeout; a retried invoke would run
        # the migrations a second time, so none.
        lambda_client = boto3.client("lambda", region_name=args.region,
                                     config=Config(read_timeout=910, retries={"total_max_attempts": 1}))
    try:
        if args.action == "deploy":
            done = deploy(environment=args.environment, roles=roles, lambda_client=lambda_client, runner=runner,
                          export=export)
        else:
            done = rollback(environment=args.environment, roles=roles, versions=args.versions,
                            lambda_client=lambda_client, runner=runner, migrate_to=args.migrate_to)
    except ReleaseError as exc:
        print(f"release: stopped: {exc}", file=sys.stderr)
        return 1
    print(f"release: {args.action} done: {', '.join(done)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT_DIR))
    sys.exit(main())

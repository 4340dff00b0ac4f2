"""deploy/release.py's decisions: migrations before code, a failed migration stops the release,
rollback's order. Lambda is stubbed (botocore's Stubber); zappa commands are recorded, not run."""

import base64
import io
import json
import subprocess

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from deploy import release, source_tree


class Zappa:
    """Records zappa commands; ``fail`` names a command (e.g. "update production") that exits 1."""

    def __init__(self, fail=None):
        self.commands, self.fail = [], fail

    def __call__(self, argv, cwd=None):
        command = " ".join(argv[1:])
        self.commands.append(command)
        return subprocess.CompletedProcess(argv, 1 if command == self.fail else 0)


def _lambda():
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return client, Stubber(client)


def _invoke(stub, command, *, function="radiant-production-migrations", error=None, payload="{}", log="migrated"):
    body = payload.encode()
    answer = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body)),
              "LogResult": base64.b64encode(log.encode()).decode()}
    if error:
        answer["FunctionError"] = error
    stub.add_response("invoke", answer, {
        "FunctionName": function, "InvocationType": "RequestResponse", "LogType": "Tail",
        "Payload": json.dumps({"manage": command}).encode()})


def _exported(destination):
    return "0123456789abcdef0123456789abcdef01234567"


def test_migrations_run_before_any_code_stage_is_updated():
    client, stub = _lambda()
    _invoke(stub, "migrate --noinput")
    zappa = Zappa()

    with stub:
        assert release.main(["deploy"], lambda_client=client, runner=zappa, export=_exported) == 0
        stub.assert_no_pending_responses()

    assert zappa.commands == ["update production_migrations", "update production_worker", "update production"]


def test_a_failed_migration_stops_the_release_before_the_new_code_serves(capsys):
    client, stub = _lambda()
    _invoke(stub, "migrate --noinput", error="Unhandled",
            payload='{"errorType": "ProgrammingError", "errorMessage": "column already exists"}',
            log="Applying tenants.0009_add_column... Traceback")
    zappa = Zappa()

    with stub:
        assert release.main(["deploy"], lambda_client=client, runner=zappa, export=_exported) == 1

    assert zappa.commands == ["update production_migrations"]  # router and worker keep the old code
    err = capsys.readouterr().err
    assert "column already exists" in err and "0009_add_column" in err


def test_a_failed_update_of_the_migration_function_runs_no_migration():
    client, stub = _lambda()
    zappa = Zappa(fail="update production_migrations")

    with stub:  # no invoke expected: the Stubber would fail on one
        assert release.main(["deploy"], lambda_client=client, runner=zappa, export=_exported) == 1

    assert zappa.commands == ["update production_migrations"]


def test_rollback_puts_the_router_back_first_and_leaves_the_schema_alone():
    client, stub = _lambda()
    zappa = Zappa()

    with stub:  # no invoke: no migration is undone unless asked
        assert release.main(["rollback", "-n", "2"], lambda_client=client, runner=zappa) == 0

    assert zappa.commands == ["rollback production -n 2", "rollback production_worker -n 2",
                              "rollback production_migrations -n 2"]


def test_rollback_with_migrate_to_reverses_before_the_migration_function_loses_the_files():
    client, stub = _lambda()
    _invoke(stub, "migrate tenants 0008_previous --noinput")
    zappa = Zappa()

    with stub:
        assert release.main(["rollback", "--migrate-to", "tenants:0008_previous"], lambda_client=client, runner=zappa) == 0
        stub.assert_no_pending_responses()

    assert zappa.commands[-1] == "rollback production_migrations -n 1"
    assert zappa.commands[:2] == ["rollback production -n 1", "rollback production_worker -n 1"]


def test_the_build_tree_is_the_commit_without_untracked_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "app.py").write_text("A = 1\n")
    (repo / ".gitignore").write_text(".env\n")
    run("add", "app.py", ".gitignore")
    run("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "one")
    (repo / ".env").write_text("SECRET=1\n")  # ignored
    (repo / "scratch.py").write_text("x\n")  # untracked

    commit = source_tree.export(tmp_path / "out", cwd=repo)

    assert source_tree.tracked_files(tmp_path / "out") == {"app.py", ".gitignore"}
    assert len(commit) == 40
    (repo / "app.py").write_text("A = 2\n")  # a tracked change not committed
    with pytest.raises(SystemExit, match="uncommitted changes"):
        source_tree.export(tmp_path / "out", cwd=repo)
    source_tree.export(tmp_path / "out", cwd=repo, allow_dirty=True)
    assert (tmp_path / "out" / "app.py").read_text() == "A = 1\n"

"""Check a Lambda package built by ``zappa package``: limits, contents, and that it serves.

    python deploy/check_package.py build/radiant-production.zip [--stage production] [--no-smoke]
        [--source build/src [--site-packages build/venv/lib/python3.11/site-packages]]

Prints a JSON report (sizes, file counts); exits 1 when any check fails. With ``--source``
(the committed tree ``zappa package`` ran from, deploy/source_tree.py) every file in the
archive must be committed there, installed by pip (a distribution's RECORD), or built from
those (Zappa's handler files, bytecode, collected static files). The smoke run extracts the archive and
starts a fresh interpreter laid out as Lambda's python3.11 runtime lays it out: the package
first on the path, then only what the runtime itself provides (boto3, botocore and their
dependencies) and nothing else of this machine's site-packages, no bytecode writing (Lambda's
code directory is read-only). It sends three API Gateway events through ``handler.py``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MAX_ZIPPED = 50 * 1024 * 1024  # direct upload limit
MAX_UNZIPPED = 250 * 1024 * 1024  # code + layers, unzipped

REQUIRED = [
    "handler.py", "zappa_settings.py", "django_zappa_app.py", "zappa/handler.py",
    "manage.py", "radiant/settings.py", "radiant/wsgi.py", "radiant/jobs.py",
    "tenants/models.py", "tenants/migrations/0001_initial.py", "models_catalog/__init__.py", "billing/__init__.py",
    "django/__init__.py", "rest_framework/__init__.py", "psycopg/__init__.py",
    "staticfiles/admin/css/base.css",
]
REQUIRED_GLOBS = {
    "psycopg binary (psycopg_binary/_psycopg*.so)": lambda n: n.startswith("psycopg_binary/_psycopg") and n.endswith(".so"),
}
FORBIDDEN_PREFIXES = [
    "boto3/", "botocore/", "s3transfer/",  # in the Lambda runtime already
    "tests/", "deploy/", "bench/", "docs/", "build/", ".venv/", "venv/",
    "playwright/", "_pytest/", "pytest/", "pip/", "setuptools/", "troposphere/",
    "db.sqlite3", "zappa_settings.json",
]
# What Lambda's python3.11 runtime provides on its own path, after the package.
RUNTIME_PROVIDED = ["boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"]


def hash_checked(pyc: bytes) -> bool:
    """True for bytecode validated by source hash (PEP 552, flags 0b11), usable on Lambda."""
    return len(pyc) >= 16 and int.from_bytes(pyc[4:8], "little") == 0b11


# Files Zappa writes into every package itself.
ZAPPA_GENERATED = {"__init__.py", "handler.py", "zappa_settings.py", "django_zappa_app.py", "package_info.json"}


def installed_files(site_packages):
    """Paths (relative to site-packages) that pip installed, from every distribution's RECORD."""
    files = set()
    for record in Path(site_packages).glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            name = line.rsplit(",", 2)[0].strip('"')
            if name and not name.startswith(".."):
                files.add(name)
    return files


def unexplained_files(names, *, source_files, installed):
    """Archive entries that are neither committed, installed, nor made from those by the build.

    Made by the build: Zappa's own files, bytecode next to its source, and ``staticfiles/``
    (collectstatic copies every app's ``static/`` files there, plus WhiteNoise's ``.gz``).
    """
    known = set(source_files) | set(installed) | ZAPPA_GENERATED
    static_sources = {name.split("/static/", 1)[1] for name in known if "/static/" in f"/{name}"}
    unexplained = []
    for name in names:
        if name.endswith("/") or name in known:
            continue
        if "/__pycache__/" in f"/{name}" and name.endswith(".pyc"):
            source = name.replace("__pycache__/", "").rsplit(".cpython-", 1)[0] + ".py"
            if source in names:
                continue
        if name.startswith("staticfiles/"):
            relative = name.removeprefix("staticfiles/")
            if relative in static_sources or relative.removesuffix(".gz") in static_sources:
                continue
        unexplained.append(name)
    return sorted(unexplained)


def check_contents(path, *, stage=None):
    """(facts, failures) for the archive at ``path``."""
    failures = []
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        zipped, unzipped = os.path.getsize(path), sum(info.file_size for info in infos)
        if zipped > MAX_ZIPPED:
            failures.append(f"zipped size {zipped} > {MAX_ZIPPED}")
        if unzipped > MAX_UNZIPPED:
            failures.append(f"unzipped size {unzipped} > {MAX_UNZIPPED}")
        failures += [f"missing {name}" for name in REQUIRED if name not in names]
        failures += [f"missing {label}" for label, match in REQUIRED_GLOBS.items() if not any(map(match, names))]
        failures += sorted(
            f"must not be packaged: {name}"
            for name in names for prefix in FORBIDDEN_PREFIXES
            if name == prefix or name.startswith(prefix)
        )
        sources = [n for n in names if n.endswith(".py") and not n.startswith("staticfiles/")]
        compiled = {n for n in names if "/__pycache__/" in f"/{n}" and n.endswith(".pyc")}
        checked = sum(1 for n in compiled if hash_checked(archive.read(n)))
        for module in ("radiant/settings.py", "django/__init__.py", "zappa_settings.py"):
            pyc = f"{Path(module).parent / '__pycache__' / Path(module).stem}.cpython-311.pyc".lstrip("./")
            if pyc not in compiled or not hash_checked(archive.read(pyc)):
                failures.append(f"no hash-checked bytecode for {module}")
        settings_py = archive.read("zappa_settings.py").decode() if "zappa_settings.py" in names else ""
    if "WEBSOCKET_HANDLER_MODULE" in settings_py:
        failures.append("zappa_settings.py names a WEBSOCKET_HANDLER_MODULE (Zappa scanned a stray directory)")
    if stage and f"API_STAGE='{stage}'" not in settings_py:
        failures.append(f"zappa_settings.py is not for stage {stage!r}")
    if stage and stage.startswith("production") and "DEBUG=False" not in settings_py:
        failures.append("zappa_settings.py has DEBUG on in production")
    facts = {
        "archive": str(path),
        "zipped_bytes": zipped,
        "unzipped_bytes": unzipped,
        "zipped_mib": round(zipped / 2**20, 1),
        "unzipped_mib": round(unzipped / 2**20, 1),
        "files": len(names),
        "python_sources": len(sources),
        "hash_checked_pyc": checked,
    }
    return facts, failures


SMOKE = r"""
import base64, gzip, json, sys, time
started = time.perf_counter()
from handler import lambda_handler

def event(path, headers=None):
    host = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    h = {"Host": host, "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", **(headers or {})}
    return {"resource": "/{proxy+}", "path": path, "httpMethod": "GET", "headers": h,
            "multiValueHeaders": {k: [v] for k, v in h.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": {"proxy": path[1:]},
            "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"stage": "production", "path": "/production" + path,
                               "identity": {"sourceIp": "203.0.113.7"}}}

first = lambda_handler(event("/healthz"), None)
first_seconds = time.perf_counter() - started
problem = lambda_handler(event("/api/v1/tenant"), None)
css = lambda_handler(event("/static/admin/css/base.css", {"Accept-Encoding": "gzip"}), None)
css_body = base64.b64decode(css["body"]) if css.get("isBase64Encoded") else css["body"].encode()
print(json.dumps({
    "cold_start_first_event_seconds": round(first_seconds, 3),
    "healthz": [first["statusCode"], json.loads(first["body"])],
    "problem": [problem["statusCode"], problem["headers"].get("Content-Type"), bool(problem.get("isBase64Encoded")),
                json.loads(problem["body"]).get("code")],
    "css": [css["statusCode"], css["headers"].get("Content-Encoding"), bool(css.get("isBase64Encoded")),
            b"font-family" in (gzip.decompress(css_body) if css["headers"].get("Content-Encoding") == "gzip" else css_body)],
    "sys_path_outside_package": [p for p in sys.path if "site-packages" in p],
}))
"""


def smoke(path):
    """Serve three events from the extracted package in a Lambda-like interpreter."""
    import sysconfig

    site_packages = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="radiant-lambda-") as tmp:
        task, runtime = Path(tmp) / "task", Path(tmp) / "runtime"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(task)
        runtime.mkdir()
        for name in RUNTIME_PROVIDED:
            if (site_packages / name).exists():
                (runtime / name).symlink_to(site_packages / name)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": f"{task}{os.pathsep}{runtime}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAMBDA_TASK_ROOT": str(task),
            "AWS_REGION": "us-east-1",
            "RADIANT_ENV": "production",
            "DJANGO_SECRET_KEY": "package-smoke-test-only",
            "ALLOWED_HOSTS": ".execute-api.us-east-1.amazonaws.com",
        }
        result = subprocess.run(
            [sys.executable, "-S", "-c", SMOKE], cwd=task, env=env, capture_output=True, text=True, timeout=120
        )
    if result.returncode != 0:
        return None, [f"smoke run failed: {result.stderr[-2000:]}"]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    failures = []
    if report["healthz"] != [200, {"status": "ok"}]:
        failures.append(f"smoke: /healthz answered {report['healthz']}")
    if report["problem"] != [401, "application/problem+json", False, "not_authenticated"]:
        failures.append(f"smoke: unauthenticated /api/v1/tenant answered {report['problem']}")
    if report["css"] != [200, "gzip", True, True]:
        failures.append(f"smoke: admin CSS answered {report['css']}")
    return report, failures


def check_provenance(path, *, source_dir, site_packages):
    """(facts, failures): every file in the archive is committed or installed (or built from them)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from source_tree import tracked_files

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    unexplained = unexplained_files(names, source_files=tracked_files(source_dir), installed=installed_files(site_packages))
    failures = [f"neither committed nor installed: {name}" for name in unexplained[:50]]
    if len(unexplained) > 50:
        failures.append(f"… and {len(unexplained) - 50} more")
    return {"unexplained_files": len(unexplained)}, failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive")
    parser.add_argument("--stage", default=None)
    parser.add_argument("--no-smoke", action="store_true")
    parser.add_argument("--source", help="the exported committed tree the archive was built from")
    parser.add_argument("--site-packages", help="the build virtualenv's site-packages")
    args = parser.parse_args(argv)
    facts, failures = check_contents(args.archive, stage=args.stage)
    if args.source:
        import sysconfig

        site_packages = args.site_packages or sysconfig.get_paths()["purelib"]
        provenance, provenance_failures = check_provenance(args.archive, source_dir=args.source, site_packages=site_packages)
        facts.update(provenance)
        failures += provenance_failures
    if not args.no_smoke:
        facts["smoke"], smoke_failures = smoke(args.archive)
        failures += smoke_failures
    facts["failures"] = failures
    print(json.dumps(facts, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

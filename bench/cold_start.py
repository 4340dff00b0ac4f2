"""Cold start: a fresh Python process imports Zappa's Lambda handler and serves its first event.

    python bench/cold_start.py [--runs 5] [--profile] [--archive build/radiant-production.zip]

With ``--archive`` (what ``make bench-cold`` runs) both apps start from the extracted Lambda
package, in an interpreter laid out as Lambda's python3.11 runtime lays it out (as
deploy/check_package.py's smoke run does): the package first on the path, then only what the
runtime provides (boto3 and its dependencies), no site-packages, no bytecode writing. The
bare app runs from the same package (its Django, DRF and Zappa) with only its own settings
module and URLs added in front. Without ``--archive`` both run from the working tree.

RADIANT (stage ``production`` of zappa_settings.json, the zappa_settings.py Zappa generates
for it, RADIANT_ENV=production) runs next to a bare Django + DRF app (bench/bare_app) served
by the same handler with the same Zappa settings, alternating, in the same run. Each run is a
new interpreter; the time is from spawning it to reading the first response it writes (what
a cold Lambda pays for the init phase and the first invoke, less the runtime's own start).
One warm-up run of each is not counted (it fills the OS file cache). Prints the medians and
the ratio; ``--profile`` adds the slowest imports of RADIANT's cold start (-X importtime).

The event: an API Gateway REST event for GET /production/api/v1/tenant without an API key,
answered with a 401 problem by both apps, so no database or cache is involved.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from deploy.stage import load_stage  # noqa: E402

EVENT = {
    "resource": "/{proxy+}",
    "path": "/api/v1/tenant",
    "httpMethod": "GET",
    "headers": {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "Accept": "application/json",
                "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
    "multiValueHeaders": None,
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": {"proxy": "api/v1/tenant"},
    "stageVariables": None,
    "requestContext": {"stage": "production", "path": "/production/api/v1/tenant", "identity": {"sourceIp": "203.0.113.7"}},
    "body": None,
    "isBase64Encoded": False,
}

CHILD = """
import json, sys, time
started = time.perf_counter()
from zappa.handler import lambda_handler
response = lambda_handler(json.loads(sys.argv[1]), None)
elapsed = time.perf_counter() - started
sys.stdout.write("RESULT " + json.dumps({"status": response["statusCode"], "in_process_ms": elapsed * 1000}) + "\\n")
sys.stdout.flush()
"""


def prepare(directory):
    """Two settings dirs holding the zappa_settings.py Zappa generates for stage production."""
    generated = load_stage("production").get_zappa_settings_string()
    apps = {}
    for name, django_settings in (("radiant", "radiant.settings"), ("bare", "bench.bare_app.settings")):
        folder = Path(directory) / name
        folder.mkdir()
        (folder / "zappa_settings.py").write_text(
            generated.replace("DJANGO_SETTINGS='radiant.settings'", f"DJANGO_SETTINGS='{django_settings}'")
        )
        apps[name] = folder
    return apps


def prepare_archive(directory, archive):
    """The extracted package (RADIANT as deployed) and, for the bare app, its settings in front."""
    import shutil
    import sysconfig
    import zipfile

    from deploy.check_package import RUNTIME_PROVIDED

    root = Path(directory)
    task, runtime = root / "task", root / "runtime"
    with zipfile.ZipFile(archive) as package:
        package.extractall(task)
    runtime.mkdir()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for name in RUNTIME_PROVIDED:
        if (site_packages / name).exists():
            (runtime / name).symlink_to(site_packages / name)
    bare = root / "bare"
    shutil.copytree(PROJECT_DIR / "bench" / "bare_app", bare / "bench" / "bare_app")
    (bare / "bench" / "__init__.py").write_text("")
    generated = (task / "zappa_settings.py").read_text()
    (bare / "zappa_settings.py").write_text(
        generated.replace("DJANGO_SETTINGS='radiant.settings'", "DJANGO_SETTINGS='bench.bare_app.settings'")
    )
    return {
        "radiant": [str(task), str(runtime)],
        "bare": [str(bare), str(task), str(runtime)],
    }, task


def child_env(settings_dir):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "REDIS_", "CELERY_", "DJANGO_", "RADIANT_"))}
    if isinstance(settings_dir, list):  # from the archive: exactly Lambda's path, no bytecode writes
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1",
               "AWS_REGION": "us-east-1", "PYTHONPATH": os.pathsep.join(settings_dir)}
    else:
        env["PYTHONPATH"] = f"{settings_dir}{os.pathsep}{PROJECT_DIR}"
    env.update({
        # What the production stage's Lambda environment holds (secrets: dummies).
        **load_stage("production").aws_environment_variables,
        "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
    })
    return env


def run_once(settings_dir, extra_args=(), cwd=PROJECT_DIR):
    if isinstance(settings_dir, list):
        extra_args = ("-S", *extra_args)  # no site-packages: only the package and the runtime's boto3
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: -X importtime writes a lot
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, *extra_args, "-c", CHILD, json.dumps(EVENT)],
            cwd=cwd, env=child_env(settings_dir), stdout=subprocess.PIPE, stderr=errors, text=True,
        )
        line = process.stdout.readline()
        while line and not line.startswith("RESULT "):  # Zappa's handler prints "Instancing.."
            line = process.stdout.readline()
        wall_ms = (time.perf_counter() - started) * 1000
        process.communicate(timeout=60)
        errors.seek(0)
        stderr = errors.read()
    if not line:
        raise SystemExit(f"cold start run failed:\n{stderr[-3000:]}")
    result = json.loads(line[len("RESULT "):])
    return wall_ms, result["in_process_ms"], result["status"], stderr


def profile(settings_dir, top=15, cwd=PROJECT_DIR):
    *_, stderr = run_once(settings_dir, ("-X", "importtime"), cwd=cwd)
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:top]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Lambda cold start of RADIANT next to a bare Django + DRF app.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--archive", help="a package built by make package: start both apps from it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="radiant-cold-") as directory:
        if args.archive:
            apps, cwd = prepare_archive(directory, args.archive)
        else:
            apps, cwd = prepare(directory), PROJECT_DIR
        for folder in apps.values():
            run_once(folder, cwd=cwd)  # warm-up, not counted
        results = {name: {"wall": [], "in_process": [], "status": None} for name in apps}
        for _ in range(args.runs):
            for name, folder in apps.items():  # alternate, so machine noise hits both alike
                wall, in_process, status, _ = run_once(folder, cwd=cwd)
                results[name]["wall"].append(wall)
                results[name]["in_process"].append(in_process)
                results[name]["status"] = status
        report = {
            name: {
                "median_ms": round(statistics.median(r["wall"]), 1),
                "median_in_process_ms": round(statistics.median(r["in_process"]), 1),
                "min_ms": round(min(r["wall"]), 1),
                "max_ms": round(max(r["wall"]), 1),
                "first_response_status": r["status"],
            }
            for name, r in results.items()
        }
        report["ratio"] = round(report["radiant"]["median_ms"] / report["bare"]["median_ms"], 2)
        report["ratio_in_process"] = round(
            report["radiant"]["median_in_process_ms"] / report["bare"]["median_in_process_ms"], 2
        )
        report["runs"] = args.runs
        report["from"] = args.archive or "working tree"
        report["python"] = sys.version.split()[0]
        print(f"cold start from {report['from']}, process spawn -> first response, median of {args.runs} runs:")
        radiant = report["radiant"]
        print(f"  radiant  {radiant['median_ms']:7.1f} ms   (in process {radiant['median_in_process_ms']:.1f} ms)")
        print(f"  bare     {report['bare']['median_ms']:7.1f} ms   (in process {report['bare']['median_in_process_ms']:.1f} ms)")
        print(f"  ratio    {report['ratio']:.2f}x   (goal <= 1.5x; in process {report['ratio_in_process']:.2f}x)")
        print(f"  seed goal: radiant median <= 500 ms: {'met' if report['radiant']['median_ms'] <= 500 else 'not met'}")
        if args.profile:
            report["slowest_imports_us"] = profile(apps["radiant"], cwd=cwd)
            print("slowest imports of radiant's cold start (cumulative, microseconds):")
            for cumulative, name in report["slowest_imports_us"]:
                print(f"  {cumulative:9d}  {name}")
        print(json.dumps(report))


if __name__ == "__main__":
    main()

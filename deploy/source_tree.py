"""The committed tree, exported into a build directory that ``zappa package`` runs from.

    python deploy/source_tree.py build/src [--rev HEAD] [--allow-dirty]

Zappa packages its working directory, whatever is in it: git-ignored files (``.pytest_cache``,
a local ``.env``, ``db.sqlite3``) would ship to Lambda. ``git archive`` exports exactly what a
commit holds, nothing else, so the archive is reproducible from the commit named in the
report. A working tree with uncommitted changes to tracked files is refused (what was tested
would not be what ships) unless ``--allow-dirty`` says the committed state is meant anyway.
"""

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def git(*args, cwd=PROJECT_DIR):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True).stdout


def uncommitted_changes(cwd=PROJECT_DIR):
    """Tracked files that differ from HEAD (untracked files never reach the export)."""
    return git("status", "--porcelain", "--untracked-files=no", cwd=cwd).decode().splitlines()


def export(destination, *, rev="HEAD", allow_dirty=False, cwd=PROJECT_DIR):
    """Replace ``destination`` with the tree of ``rev``. Returns the commit id exported."""
    if not allow_dirty:
        changed = uncommitted_changes(cwd)
        if changed:
            raise SystemExit("source_tree: uncommitted changes would not be packaged:\n  " + "\n  ".join(changed)
                             + "\ncommit them, or pass --allow-dirty to package the last commit anyway")
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}", cwd=cwd).decode().strip()
    destination = Path(destination)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(git("archive", "--format=tar", commit, cwd=cwd))) as tar:
        tar.extractall(destination, filter="data")
    return commit


def tracked_files(destination):
    """Paths the export holds (relative, '/'-separated)."""
    root = Path(destination)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--allow-dirty", action="store_true")
    args = parser.parse_args(argv)
    commit = export(args.destination, rev=args.rev, allow_dirty=args.allow_dirty)
    print(f"source_tree: {commit} exported to {args.destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dependencies point one way: ``radiant/`` imports no app, and an app imports none above it.

Every ``import`` and ``from ... import`` in the source is read, at module level and inside
functions alike (an import inside a function is still a dependency; it only hides a cycle
from the interpreter). The project's composition root names apps as strings, which is what
it is for: ``INSTALLED_APPS`` and DRF's authentication class in ``radiant/settings.py``, the
URL includes in ``radiant/urls.py``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower numbers are lower in the stack: an app may import its own layer's apps only where
# the table says (none do), and any app below it.
LAYERS = {
    "tenants": 1,
    "models_catalog": 2, "configuration": 2, "localization": 2, "audit": 2,
    "billing": 3,
    "gateway": 4,
    "demo": 5, "console": 5,
}


def imports(package: str):
    """(file, line, imported top-level package) for every import in ``package``."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path.relative_to(ROOT), node.lineno, name.split(".")[0]


def test_radiant_imports_no_app():
    found = [f"{path}:{line} imports {name}" for path, line, name in imports("radiant") if name in LAYERS]
    assert found == []


@pytest.mark.parametrize("app", sorted(LAYERS))
def test_an_app_imports_none_above_it(app):
    found = [
        f"{path}:{line} imports {name}"
        for path, line, name in imports(app)
        if name in LAYERS and name != app and LAYERS[name] >= LAYERS[app]
    ]
    assert found == []

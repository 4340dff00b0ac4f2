"""A zappa_settings.json stage, resolved by Zappa's own CLI code, without an AWS account.

``zappa package`` resolves the stage (``extends`` included) with ``ZappaCLI.load_settings``
and writes ``ZappaCLI.get_zappa_settings_string()`` into the archive as ``zappa_settings.py``,
the module ``zappa.handler.LambdaHandler`` imports on Lambda. Tests and the cold-start
benchmark use the same two calls, so they run the handler with exactly what would be deployed.
"""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SETTINGS_FILE = PROJECT_DIR / "zappa_settings.json"


def load_stage(stage, settings_file=SETTINGS_FILE):
    """A ``ZappaCLI`` with ``stage`` loaded (credentials are never loaded: nothing calls AWS)."""
    from zappa.cli import ZappaCLI

    cli = ZappaCLI()
    cli.api_stage = stage
    cli.load_credentials = False
    cwd = os.getcwd()
    os.chdir(PROJECT_DIR)  # Zappa scans the working directory (websocket handler detection)
    try:
        cli.load_settings(settings_file=str(settings_file))
    finally:
        os.chdir(cwd)
    return cli


def write_settings_module(stage, directory, module_name="zappa_settings", settings_file=SETTINGS_FILE):
    """Write the stage's generated ``zappa_settings.py`` (as the package has it) into ``directory``."""
    source = load_stage(stage, settings_file).get_zappa_settings_string()
    path = Path(directory) / f"{module_name}.py"
    path.write_text(source)
    return path

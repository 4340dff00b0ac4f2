"""The CI fuzz run (tests/fuzz.py) fails when the API answers a 5xx."""

import pytest

from tests import fuzz

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_the_fuzz_run_fails_on_a_server_error(capfd):
    status = fuzz.main(["--settings", "tests.fuzz_failing_settings", "--max-examples", "3", "--seed", "1"])

    out = capfd.readouterr().out
    assert status != 0
    assert "Server error" in out and "/api/v1/tenant" in out

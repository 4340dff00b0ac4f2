"""No API key, secret key or anything shaped like a key appears in any log of the whole test
run (collected in tests/conftest.py; this module runs last)."""

import logging

from radiant import request_log
from tests.conftest import log_scan


def test_the_scan_sees_a_key_in_a_log_record():
    leaked = "rad_abcd1234_" + "s" * 40
    log_scan.scan()
    already = list(log_scan.offending)

    logging.getLogger("radiant.test").warning("oops %s", leaked)
    log_scan.scan()

    caught = log_scan.offending[len(already):]
    del log_scan.offending[len(already):]  # planted by this test, not a finding
    assert len(caught) == 1 and leaked in caught[0]


def test_the_scan_sees_a_key_in_a_request_line():
    leaked = "rad_abcd1234_" + "t" * 40
    log_scan.scan()
    already = list(log_scan.offending)

    destination = request_log.write_lines_to(None)  # where the run's request lines go now
    request_log.write_lines_to(destination)
    destination(b'{"event": "request", "route": "/' + leaked.encode() + b'"}\n')
    log_scan.scan()

    caught = log_scan.offending[len(already):]
    del log_scan.offending[len(already):]  # planted by this test, not a finding
    assert len(caught) == 1 and leaked in caught[0]


def test_no_api_key_or_secret_in_any_log_of_the_run():
    log_scan.scan()

    assert log_scan.offending == []
    if log_scan.keys:  # the run created keys (the whole suite does): it also logged requests
        assert log_scan.request_lines > 0

"""Fixtures for the request log and metrics tests."""

import json
import logging

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from radiant import request_log


def project_formatter():
    """The JSON formatter exactly as settings.LOGGING configures it."""
    config = dict(settings.LOGGING["formatters"]["json"])
    return import_string(config.pop("()"))(**config)


class Lines(logging.Handler):
    """Log records formatted as the project writes them, and the request log's lines (which
    do not go through ``logging``), parsed back from JSON."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(project_formatter())
        self.text = []

    def emit(self, record):
        self.text.append(self.format(record))

    def requests(self):
        lines = [json.loads(text) for text in self.text]
        return [line for line in lines if line.get("event") == "request"]


@pytest.fixture
def request_lines():
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)

    def collect(line: bytes):
        handler.text.append(line.decode())
        previous(line)

    previous = request_log.write_lines_to(collect)
    yield handler
    request_log.write_lines_to(previous)
    root.removeHandler(handler)

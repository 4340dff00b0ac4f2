"""The one per-request context: the request id, readable anywhere the request's work runs.

Every HTTP response carries ``X-Request-ID``: the client's value when it is sane (1-128
characters of ``[A-Za-z0-9._-]``, so it can go into a log line, a header or an audit row
unescaped), otherwise a new random one. Problem bodies repeat it as ``request_id``.

The id lives in a ``ContextVar`` for the duration of the request, so logs
(``RequestIdLogFilter``), audit records and Celery tasks read it with
``current_request_id()`` instead of having a request object passed down to them. A task
enqueued during a request carries the id in its message headers and the worker restores it
around the task (``radiant.celery``), so a task's log lines and audit records name the
request that caused them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
TASK_HEADER = "radiant_request_id"  # Celery message header
MAX_LENGTH = 128
_SANE = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_LENGTH)


@dataclass(frozen=True)
class RequestContext:
    request_id: str


_current: ContextVar[RequestContext | None] = ContextVar("radiant_request_context", default=None)


def is_sane(value) -> bool:
    return isinstance(value, str) and _SANE.fullmatch(value) is not None


def new_request_id() -> str:
    return os.urandom(16).hex()  # 128 random bits, as uuid4's hex, without building a UUID


def current() -> RequestContext | None:
    """The context of the request (or task) being handled, or None outside one."""
    return _current.get()


def current_request_id() -> str | None:
    """The id of the request (or of the request that enqueued the running task), or None."""
    context = _current.get()
    return context.request_id if context is not None else None


@contextlib.contextmanager
def request_scope(request_id: str | None = None):
    """Run the enclosed code as one request: ``request_id`` if sane, else a new id."""
    token = _current.set(RequestContext(request_id if is_sane(request_id) else new_request_id()))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


class RequestIdMiddleware:
    """Outermost middleware: opens the request's context and stamps every response.

    It sits in front of everything else, the API's own lane included, so every response
    (problems, 404s from Django's handlers, the admin, health checks) carries the header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_scope(request.META.get(META_KEY)) as context:
            response = self.get_response(request)
            response[HEADER] = context.request_id
            return response


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` ("-" outside a request) to every record, for formatters."""

    def filter(self, record):
        record.request_id = current_request_id() or "-"
        return True

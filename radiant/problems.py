"""RFC 9457 problem responses: the one place errors become HTTP (DESIGN.md §8).

Domain code raises a ``Problem`` subclass (or DRF raises its own exceptions); the exception
handler turns either into ``application/problem+json`` with a stable ``code``.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from radiant import tenancy
from radiant.invalidation import InvalidationUnavailable
from radiant.request_context import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://docs.radiant.example/problems/"

# What a dropped connection, a terminated backend or an exhausted pool raises.
DatabaseUnavailable = (OperationalError, InterfaceError)


class Problem(Exception):
    """A domain error with a stable code. Subclass it; map nothing by hand in views."""

    status = status.HTTP_400_BAD_REQUEST
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail=None, *, headers=None, extra=None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}


class TenantSuspended(Problem):
    status = status.HTTP_403_FORBIDDEN
    code = "tenant_suspended"
    title = "Tenant suspended"


class NotFound(Problem):
    status = status.HTTP_404_NOT_FOUND
    code = "not_found"
    title = "Not found"


class ServiceUnavailable(Problem):
    status = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    title = "Service unavailable"


class PayloadTooLarge(Problem):
    status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"
    title = "Request body too large"


# --- rate limits (radiant/ratelimit/) -----------------------------------------


class RateLimited(Problem):
    """The tenant's token bucket is empty; ``Retry-After`` says when the next token comes."""

    status = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"
    title = "Too many requests"


class DailyQuotaExceeded(Problem):
    """The tenant's requests for this UTC day are used up; ``Retry-After`` points at midnight."""

    status = status.HTTP_429_TOO_MANY_REQUESTS
    code = "daily_quota_exceeded"
    title = "Daily quota exceeded"


# --- credits (billing/) -------------------------------------------------------------


class InsufficientCredits(Problem):
    """The tenant's available credits (balance minus open holds) do not cover the cost."""

    status = status.HTTP_402_PAYMENT_REQUIRED
    code = "insufficient_credits"
    title = "Insufficient credits"


class IdempotencyKeyReused(Problem):
    """An ``Idempotency-Key`` already used with a different request."""

    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class HoldNotOpen(Problem):
    """A hold that was already settled, voided or expired cannot change again."""

    status = status.HTTP_409_CONFLICT
    code = "hold_not_open"
    title = "Hold is not open"


# --- model providers (gateway/) ------------------------------------------------------


class UpstreamUnavailable(Problem):
    """The provider cannot take the call now: its circuit breaker is open, it refused the
    connection, or it kept answering 429/503 through the retries. Nothing was charged."""

    status = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "upstream_unavailable"
    title = "Model provider unavailable"


class UpstreamTimeout(Problem):
    """The provider did not answer within its timeout. Nothing was charged."""

    status = status.HTTP_504_GATEWAY_TIMEOUT
    code = "upstream_timeout"
    title = "Model provider timed out"


class UpstreamError(Problem):
    """The provider answered with an error, or with a response that could not be used
    (malformed, or without the usage it must report). Nothing was charged. A request the
    provider refused as invalid is a 400 with the same code and the provider's reason."""

    status = status.HTTP_502_BAD_GATEWAY
    code = "upstream_error"
    title = "Model provider error"


class UpstreamRefused(UpstreamError):
    """The provider refused the request itself as invalid (its reason in ``detail``)."""

    status = status.HTTP_400_BAD_REQUEST


class UnprocessableInput(exceptions.ValidationError):
    """Well-formed JSON whose fields do not validate: 422 ``validation_error``, per field."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


# DRF exception class -> (code, title). Codes are part of the API contract.
_DRF_CODES = [
    (exceptions.NotAuthenticated, "not_authenticated", "Not authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated", "Not authenticated"),
    (exceptions.PermissionDenied, "permission_denied", "Permission denied"),
    (exceptions.NotFound, "not_found", "Not found"),
    (exceptions.ParseError, "validation_error", "Malformed request body"),
    (exceptions.ValidationError, "validation_error", "Invalid input"),
    (exceptions.MethodNotAllowed, "method_not_allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not_acceptable", "Not acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", "Unsupported media type"),
    (exceptions.Throttled, "rate_limited", "Too many requests"),
]


def problem_body(status_code, code, title, detail, **extra) -> dict:
    """The RFC 9457 body: type, title, status, detail, our stable ``code``, the request id
    (so a client can quote it in a support request), and any extra members."""
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": str(detail),
        "code": code,
        **extra,
    }
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return body


def problem_response(status_code, code, title, detail, *, headers=None, **extra):
    body = problem_body(status_code, code, title, detail, **extra)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_for(exc: Problem) -> Response:
    """The response for a domain error. Code that must keep its transaction (a 402 stored
    for idempotent replay) renders it with this instead of raising through the handler."""
    return problem_response(exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extra)


def _flatten_errors(detail):
    """DRF ValidationError detail -> {field: [messages]} (non-field errors under "_")."""
    if isinstance(detail, dict):
        return {
            field: [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            for field, messages in detail.items()
        }
    if isinstance(detail, list):
        return {"_": [str(m) for m in detail]}
    return {"_": [str(detail)]}


# A dependency that failed under the request: the client may retry after this many seconds.
RETRY_AFTER_UNAVAILABLE = 1


def unavailable_response(detail="A dependency is unavailable; retry shortly."):
    """503 ``service_unavailable`` with ``Retry-After``, outside DRF's response machinery."""
    response = json_problem(None, 503, ServiceUnavailable.code, ServiceUnavailable.title, detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    return response


def exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error of the API leaves through here."""
    tenancy.mark_rollback()

    if isinstance(exc, (DatabaseUnavailable, InvalidationUnavailable)):
        # A dropped or refused database connection, an exhausted pool, a cache that could
        # not take a change: the request may succeed if retried; it is never a 500.
        logger.warning("dependency unavailable: %s", type(exc).__name__)
        return problem_response(
            503, ServiceUnavailable.code, ServiceUnavailable.title, "A dependency is unavailable; retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
        )
    if isinstance(exc, Problem):
        return problem_for(exc)
    if isinstance(exc, Http404):
        return problem_response(404, "not_found", "Not found", "Not found.")
    if isinstance(exc, PermissionDenied):
        return problem_response(403, "permission_denied", "Permission denied", "Permission denied.")
    if isinstance(exc, RequestDataTooBig):
        return problem_response(413, PayloadTooLarge.code, PayloadTooLarge.title, "The request body is too large.")

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        code, title = next(
            ((code, title) for cls, code, title in _DRF_CODES if isinstance(exc, cls)), (exc.default_code, "Error")
        )
        extra = {}
        if isinstance(exc, exceptions.ValidationError):
            extra["errors"] = _flatten_errors(exc.detail)
            detail = "The request has invalid fields."
        else:
            detail = exc.detail
        return problem_response(exc.status_code, code, title, detail, headers=headers, **extra)

    logger.exception("unhandled error in API view", exc_info=exc)
    return problem_response(500, "server_error", "Internal server error", "An unexpected error occurred.")


def json_problem(request, status_code, code, title, detail):
    """A problem response outside DRF (Django's 404/500 handlers for /api/ paths)."""
    body = problem_body(status_code, code, title, detail)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)

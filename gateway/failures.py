"""How a provider call can fail, as the gateway decides what to do next.

Adapters raise these; ``gateway.calls`` retries, opens breakers and falls back on them, and
turns the last one into the client's problem response (``problem()``).
"""

from __future__ import annotations

from radiant.problems import UpstreamError, UpstreamRefused, UpstreamTimeout, UpstreamUnavailable


class UpstreamFailure(Exception):
    """A failed call. ``retryable``: worth another attempt at the same provider after a
    backoff (429, 5xx, a refused connection). ``counts``: a failure of the provider (breaker,
    fallback), as opposed to a request the provider refused as invalid."""

    retryable = False
    counts = True

    def __init__(self, detail: str, *, retry_after: float | None = None):
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after

    def problem(self):
        return UpstreamError(self.detail)


class Unavailable(UpstreamFailure):
    """Refused connection, 429 or 503, an open breaker, a disabled provider."""

    retryable = True

    def problem(self):
        headers = {"Retry-After": str(max(1, round(self.retry_after or 1)))}
        return UpstreamUnavailable(self.detail, headers=headers)


class ServerError(UpstreamFailure):
    """A 5xx other than 503: the provider failed this call; another attempt may work."""

    retryable = True


class TimedOut(UpstreamFailure):
    """No answer (or no next chunk) within the provider's timeout."""

    def problem(self):
        return UpstreamTimeout(self.detail)


class Broken(UpstreamFailure):
    """An answer that cannot be used: malformed, no usage, an unexpected status (our key
    refused, the model unknown there). Not retried at the same provider; fallbacks are."""


class Refused(UpstreamFailure):
    """The provider refused the request itself as invalid (400, 413, 422): the same request
    would fail anywhere, so neither retried nor sent to a fallback, and not the provider's
    fault (the breaker does not count it). The client gets a 400 with the provider's reason."""

    counts = False

    def problem(self):
        return UpstreamRefused(self.detail)

"""One model call made resilient: circuit breaker, bounded retries with jitter, fallbacks.

For each target in order (the model asked for, then its fallbacks): the breaker is asked
first (an open one refuses at once, no upstream hit); a failure the provider may recover
from (429, 5xx, a refused connection) is retried after a jittered exponential backoff
within the provider's retry budget; what still fails moves on to the next target. A
request the provider refuses as invalid ends there (it would fail anywhere). The last
failure is what the client hears about.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from django.conf import settings

from gateway import breaker
from gateway.failures import Broken, Unavailable, UpstreamFailure
from gateway.selectors import Target

logger = logging.getLogger(__name__)


def backoff(attempt: int, retry_after: float | None) -> float | None:
    """Seconds before retry number ``attempt + 1`` ("full jitter": uniform between zero and
    an exponentially growing cap), at least what the provider asked for; None when that is
    longer than a request should wait (then the next target is tried instead)."""
    cap = min(settings.GATEWAY_RETRY_MAX_WAIT, settings.GATEWAY_RETRY_BASE * 2**attempt)
    wait = random.uniform(0, cap)
    if retry_after is not None:
        if retry_after > settings.GATEWAY_RETRY_MAX_WAIT:
            return None
        wait = max(wait, retry_after)
    return wait


def call(targets: list[Target], invoke: Callable[[Target], object]) -> tuple[Target, object, breaker.Admission]:
    """``invoke(target)`` on the first target that answers; (target, its result, the
    breaker's admission) or the last ``UpstreamFailure``."""
    last: UpstreamFailure = Broken("No provider could be called.")
    for target in targets:
        provider = target.provider
        if not provider.enabled:
            last = Unavailable(f"{provider.slug} is switched off.")
            continue
        for attempt in range(provider.max_retries + 1):
            admission = breaker.admit(provider.slug, target.model, provider.breaker)
            if not admission.allowed:
                last = Unavailable(
                    f"{provider.slug} ({target.model}) is failing; calls resume after a cooldown.",
                    retry_after=admission.retry_after,
                )
                break
            try:
                result = invoke(target)
            except UpstreamFailure as failure:
                breaker.report(provider.slug, target.model, provider.breaker, admission, ok=not failure.counts)
                if not failure.counts:
                    raise
                logger.warning("upstream %s (%s) failed: %s", provider.slug, target.model, failure.detail)
                last = failure
                wait = backoff(attempt, failure.retry_after) if failure.retryable else None
                if wait is None or attempt == provider.max_retries:
                    break
                time.sleep(wait)
                continue
            breaker.report(provider.slug, target.model, provider.breaker, admission, ok=True)
            return target, result, admission
    raise last

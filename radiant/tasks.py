"""Celery tasks that act for a tenant take its id and run inside its scope."""

import functools
import logging
import threading
import time
import uuid

from celery import shared_task

from radiant import metrics, tenancy
from radiant.actors import acting_as
from radiant.celery import app as _celery_app


def tenant_task(*task_args, **task_options):
    """Like ``shared_task``, for a function taking ``tenant_id`` (a str, JSON-safe).

    The worker runs it in ``tenant_scope(tenant_id)``, so it sees that tenant's rows and
    nothing else. Run eagerly from code already in the same tenant's scope, it joins that
    scope; from another tenant's scope it refuses.
    """

    def decorator(func):
        @functools.wraps(func)
        def run(*args, tenant_id, **kwargs):
            wanted = uuid.UUID(str(tenant_id))
            current = tenancy.current_tenant_id()
            if current is not None:
                if current != wanted:
                    raise tenancy.TenantContextError("task for another tenant inside a tenant scope")
                return func(*args, tenant_id=str(wanted), **kwargs)
            with tenancy.tenant_scope(wanted), acting_as("task", func.__name__):
                return func(*args, tenant_id=str(wanted), **kwargs)

        return shared_task(*task_args, **task_options)(run)

    if len(task_args) == 1 and callable(task_args[0]) and not task_options:
        func, task_args = task_args[0], ()
        return decorator(func)
    return decorator


# --- work queued after commit, or done here when the broker is down --------------------
#
# The one way to hand work to a worker from code that may run in a request:
# ``enqueue_on_commit(task, **kwargs)`` sends a task once the current transaction commits
# (nothing for work that rolls back), ``send_or_run(task, kwargs)`` sends it now. Work that
# must not be lost (audit records) cannot wait for a broker that is down, and work on the
# request path (an API key's last use) must not wait for one: the publish is tried once,
# without Celery's retries (which would hold the request for seconds), with a connect
# timeout of CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"], and if it fails the
# task runs right here instead. After a failure the broker is skipped for BROKER_BACKOFF
# seconds, so while it stays down each request pays for the work itself, not for a connect
# attempt too.

logger = logging.getLogger("radiant.tasks")

BROKER_BACKOFF = 5.0
_broker = threading.local()
_fallbacks = {"count": 0}


def _broker_skipped() -> bool:
    return getattr(_broker, "down_until", 0.0) > time.monotonic()


def send_or_run(task, kwargs: dict, *, count_fallback: str | None = None) -> bool:
    """Publish ``task`` now; run it in-process if the broker cannot take it. True if sent.

    ``count_fallback``: the name of the ``radiant.metrics`` function that counts this task
    running in-process (``"audit_fallback"``: an operator is alerted on audit writes that
    missed the broker)."""
    if not _celery_app.conf.task_always_eager and not _broker_skipped():
        try:
            # The message's kwargs repr names the arguments only: Celery's own repr of the
            # values costs more than the publish itself, and would put them in worker logs.
            task.apply_async(kwargs=kwargs, retry=False, argsrepr="()", kwargsrepr="{%s}" % ", ".join(kwargs))
            return True
        except Exception as exc:  # refused, timed out, DNS: anything the publish raises
            _broker.down_until = time.monotonic() + BROKER_BACKOFF
            logger.warning("broker unavailable (%s); running %s directly", type(exc).__name__, task.name)
    if not _celery_app.conf.task_always_eager:
        _fallbacks["count"] += 1
        if count_fallback is not None:
            getattr(metrics, count_fallback)()
    task(**kwargs)
    return False


def fallback_count() -> int:
    """How many tasks ran in-process because the broker was unreachable."""
    return _fallbacks["count"]


def broker_reset() -> None:
    """Forget a broker failure (tests that bring the broker back)."""
    _broker.down_until = 0.0


def enqueue_on_commit(task, *, count_fallback: str | None = None, **kwargs) -> None:
    """``send_or_run(task, kwargs)`` once the current transaction (on the alias the
    current code writes to) commits; immediately when no transaction is open."""
    tenancy.on_commit(lambda: send_or_run(task, kwargs, count_fallback=count_fallback))

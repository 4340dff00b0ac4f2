"""Celery tasks that act for a tenant take its id and run inside its scope."""

import functools
import uuid

from celery import shared_task

from radiant import tenancy
from radiant.celery import app as _celery_app  # noqa: F401  tasks bind to the project's app


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
            with tenancy.tenant_scope(wanted):
                return func(*args, tenant_id=str(wanted), **kwargs)

        return shared_task(*task_args, **task_options)(run)

    if len(task_args) == 1 and callable(task_args[0]) and not task_options:
        func, task_args = task_args[0], ()
        return decorator(func)
    return decorator

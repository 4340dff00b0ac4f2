"""Periodic billing work. Operator tasks: they cross tenants on the operator alias."""

from celery import shared_task

from radiant.actors import acting_as


@shared_task(ignore_result=True)
def holds_expire_task() -> int:
    """Release every hold past its expiry; a hold outlives its expiry by at most one sweep."""
    from billing.services import holds_expire

    with acting_as("task", "holds_expire"):
        return holds_expire()


@shared_task(ignore_result=True)
def idempotency_keys_purge_task() -> int:
    """Delete stored idempotent responses older than IDEMPOTENCY_KEY_TTL."""
    from billing.idempotency import idempotency_keys_purge

    with acting_as("task", "idempotency_keys_purge"):
        return idempotency_keys_purge()

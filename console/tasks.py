from celery import shared_task

from radiant.actors import acting_as


@shared_task(ignore_result=True)
def usage_rollup_task() -> int:
    """Keep the console's usage table a few minutes behind the ledger at most (operator task:
    it crosses tenants)."""
    from console.usage import usage_rollup

    with acting_as("task", "usage_rollup"):
        return usage_rollup()

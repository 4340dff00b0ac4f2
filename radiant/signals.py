"""Signals for bulk writes, which Django sends none for (``QuerySet.update``).

``bulk_update_starting`` is sent before the UPDATE with the queryset and the new values;
each receiver may return a callable, which is called with the number of rows changed once
the UPDATE has run (the audit log uses it to record old -> new per row).
"""

from django.dispatch import Signal

bulk_update_starting = Signal()


def bulk_update(queryset, values: dict, run):
    """Run ``run()`` (the UPDATE) between the receivers' before and after steps."""
    afterwards = [
        response for _receiver, response in bulk_update_starting.send(sender=queryset.model, queryset=queryset, values=values)
        if callable(response)
    ]
    count = run()
    for after in afterwards:
        after(count)
    return count

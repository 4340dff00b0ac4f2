"""Count SQL sent on every database alias (operator and web role alike)."""

from contextlib import ExitStack, contextmanager

from django.db import connections
from django.test.utils import CaptureQueriesContext


@contextmanager
def captured_queries():
    """Yields a list that holds, after the block, every query run on any alias."""
    queries = []
    with ExitStack() as stack:
        contexts = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
        yield queries
    for context in contexts:
        queries.extend(context.captured_queries)

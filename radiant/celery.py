"""The Celery app. Configured from the CELERY_* Django settings.

A task enqueued while a request is handled carries the request's id in its message headers
(``before_task_publish``), and the worker runs the task inside that request's context
(``task_prerun``/``task_postrun``), so ``current_request_id()`` names the same request in
the task as in the view that queued it.
"""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from radiant import request_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "radiant.settings")

app = Celery("radiant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def _send_request_id(headers=None, **kwargs):
    request_id = request_context.current_request_id()
    if request_id is not None and headers is not None:
        headers.setdefault(request_context.TASK_HEADER, request_id)


_scopes = {}  # task id -> the open request scope of the task running in this worker


@task_prerun.connect
def _restore_request_id(task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, request_context.TASK_HEADER, None) if task is not None else None
    if request_id is None and request_context.current() is not None:
        return  # run eagerly inside the request itself: its context already applies
    scope = request_context.request_scope(request_id)
    scope.__enter__()
    _scopes[task_id] = scope


@task_postrun.connect
def _end_request_id(task_id=None, **kwargs):
    scope = _scopes.pop(task_id, None)
    if scope is not None:
        scope.__exit__(None, None, None)

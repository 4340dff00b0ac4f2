"""The worker function: runs the Celery task messages SQS hands it (docs/DEPLOY.md, "Tasks").

On AWS the functions send tasks with Celery's SQS transport (``CELERY_BROKER_URL=sqs://``) and
the queue triggers the ``production_worker`` stage through a Zappa event source: Zappa's
``LambdaHandler`` looks the queue's ARN up in ``AWS_EVENT_MAPPING`` and calls
``run_task_messages(event, context)`` with a batch of records. Each record's body is what
kombu's SQS transport sent: its JSON envelope (headers, properties, the serialized body),
base64-encoded. The task runs through Celery's own tracer (``celery.app.trace.trace_task``,
what a worker's ``Request.execute`` calls), so signals, ``on_failure``, ``retry()`` and the
tenant task base (``radiant/tasks.py``) behave as on a Celery worker.

What becomes of a record:

- success, or ``retry()`` (Celery has already sent the next attempt to the queue, with its
  ``retries`` count, and ``max_retries`` bounds it): the record is done and SQS deletes it;
- failure (an exception, a message that cannot be decoded, an unknown task, a task not yet
  due): the record is listed in ``batchItemFailures``. The event source mapping reports batch
  item failures (set by ``deploy.zappa_hooks.configure_task_queue``), so SQS makes only
  those records visible again after the visibility timeout, and after ``maxReceiveCount``
  receives (the queue's redrive policy, deploy/cloudformation/radiant.yaml) moves them to the
  dead-letter queue. If every record of a batch failed the function raises instead, which
  SQS treats the same way whether or not the mapping reports item failures.
"""

import base64
import binascii
import json
import logging
import socket
from datetime import UTC, datetime

from celery import states
from celery.app.trace import trace_task
from kombu.serialization import loads as deserialize
from kombu.serialization import prepare_accept_content

from radiant.celery import app

logger = logging.getLogger("radiant.lambda_worker")
HOSTNAME = f"lambda@{socket.gethostname()}"


class TaskMessageError(Exception):
    """A record that is not a runnable Celery task message."""


class BatchFailed(Exception):
    """Every record of the batch failed; raised so SQS retries (and then dead-letters) them."""


def kombu_envelope(sqs_body):
    """The kombu envelope inside an SQS message body (base64-encoded JSON, or plain JSON)."""
    try:
        text = base64.b64decode(sqs_body, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = sqs_body  # a queue configured with sqs_base64_encoding off sends the JSON as is
    try:
        envelope = json.loads(text)
    except ValueError as exc:
        raise TaskMessageError("body is not a kombu message") from exc
    if not isinstance(envelope, dict) or "headers" not in envelope or "body" not in envelope:
        raise TaskMessageError("body is not a kombu message")
    return envelope


def decode_task_message(sqs_body):
    """(headers, args, kwargs, embed) of a Celery protocol 2 message, decoded by kombu."""
    envelope = kombu_envelope(sqs_body)
    headers = envelope.get("headers") or {}
    if "task" not in headers or "id" not in headers:
        raise TaskMessageError("not a Celery task message (protocol 2 headers missing)")
    body = envelope["body"]
    if (envelope.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    try:
        args, kwargs, embed = deserialize(
            body, envelope.get("content-type"), envelope.get("content-encoding"),
            accept=prepare_accept_content(app.conf.accept_content),
        )
    except Exception as exc:  # kombu raises ContentDisallowed / DecodeError / ValueError
        raise TaskMessageError(f"body cannot be decoded: {exc}") from exc
    return headers, args, kwargs, embed or {}


def _moment(value):
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_record(record):
    """Run one SQS record's task. Returns the Celery state it ended in (raises on bad input)."""
    headers, args, kwargs, embed = decode_task_message(record["body"])
    task = app.tasks.get(headers["task"])
    if task is None:
        raise TaskMessageError(f"unknown task {headers['task']!r}")
    now = datetime.now(UTC)
    expires = _moment(headers.get("expires"))
    if expires and expires < now:
        logger.warning("task %s[%s] expired at %s; not run", task.name, headers["id"], expires.isoformat())
        return states.REVOKED
    eta = _moment(headers.get("eta"))
    if eta and eta > now:
        # Lambda cannot hold a message until it is due; it comes back after the visibility timeout.
        raise TaskMessageError(f"task {headers['id']} not due before {eta.isoformat()}")
    attributes = record.get("attributes") or {}
    request = {
        **headers,
        **embed,
        "is_eager": False,
        "hostname": HOSTNAME,
        "delivery_info": {
            "exchange": "",
            "routing_key": app.conf.task_default_queue,
            "redelivered": int(attributes.get("ApproximateReceiveCount", "1")) > 1,
            "sqs_message_id": record.get("messageId"),
        },
    }
    _, info, _, _ = trace_task(task, headers["id"], args, kwargs, request,
                               hostname=HOSTNAME, loader=app.loader, app=app)
    return info.state if info is not None else states.SUCCESS


def run_task_messages(event, context=None):
    """Zappa event-source function for the task queue: run each record, report the failures."""
    records = event.get("Records") or []
    failures = []
    for record in records:
        message_id = record.get("messageId")
        try:
            state = run_record(record)
        except Exception:
            logger.exception("task message %s failed before running", message_id)
            state = states.FAILURE
        if state == states.FAILURE:
            failures.append({"itemIdentifier": message_id})
    if records and len(failures) == len(records):
        raise BatchFailed(f"all {len(records)} task messages failed")
    return {"batchItemFailures": failures}

"""Celery tasks on Lambda: sent through kombu's SQS transport, run by the worker function.

The app sends with ``CELERY_BROKER_URL=sqs://`` as deployed; only SQS itself is stubbed (a
real boto3 client, so each SendMessage is validated against the SQS API and its
MessageBody is exactly what would go over the wire). Those bodies are then
handed, as the SQS event Lambda builds, to Zappa's own ``LambdaHandler`` loaded with the
``production_worker`` stage, which routes them by queue ARN to
``radiant.lambda_worker.run_task_messages``.
"""

import base64
import json
import logging
import os
import sys
import uuid

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from django.utils import timezone
from kombu.pools import ProducerPool
from kombu.transport.SQS import Channel as SqsChannel

from deploy.stage import load_stage
from radiant.celery import app
from radiant.lambda_worker import BatchFailed
from radiant.tasks import tenant_task
from tenants.models import ApiKey
from tenants.tasks import api_key_mark_used

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/radiant-production-tasks"
ATTEMPTS = []


@tenant_task(name="tests.lambda_tasks.always_fails")
def always_fails(*, tenant_id):
    ATTEMPTS.append(("always_fails", tenant_id))
    raise RuntimeError("the provider is down")


@tenant_task(name="tests.lambda_tasks.retried", bind=True, max_retries=2, default_retry_delay=0)
def retried(self, *, tenant_id):
    ATTEMPTS.append(("retried", self.request.retries))
    raise self.retry(exc=RuntimeError("try again"))


AUDIT_TASK = "audit.tasks.audit_write"


@pytest.fixture
def sqs_broker(monkeypatch):
    """The project's Celery app sending to SQS, as a deployed function does; returns the sent bodies.

    A real boto3 SQS client validates every call against the SQS API; a ``before-call`` hook
    (how botocore's Stubber answers too) answers the two calls kombu makes and fails on any other.
    """
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    sent = []

    def answer(model, params, **_):
        params = json.loads(params["body"])  # the JSON request body botocore serialized
        if model.name == "SendMessage":
            # Setting up a test (a tenant, a key) queues audit records too; each test looks
            # at the messages of the tasks it runs itself.
            task = json.loads(base64.b64decode(params["MessageBody"]))["headers"]["task"]
            if task != AUDIT_TASK:
                sent.append(params)
            parsed = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": "0" * 32}
        elif model.name == "GetQueueAttributes":  # kombu's queue declare reads the queue's size
            assert params["QueueUrl"] == QUEUE_URL
            parsed = {"Attributes": {"ApproximateNumberOfMessages": "0"}}
        else:
            raise AssertionError(f"unexpected SQS call {model.name}")
        return AWSResponse(QUEUE_URL, 200, {}, None), parsed

    client.meta.events.register("before-call.sqs.*", answer)
    monkeypatch.setattr(SqsChannel, "new_sqs_client", lambda self, *a, **k: client)
    saved = {key: app.conf[key] for key in ("broker_url", "broker_write_url", "broker_transport_options", "task_always_eager")}
    app.conf.update(
        broker_url="sqs://",
        broker_write_url=None,  # as deployed: writes go where broker_url says
        broker_transport_options={"region": "us-east-1", "predefined_queues": {"celery": {"url": QUEUE_URL}}},
        task_always_eager=False,
    )
    # A producer pool of its own: kombu's process-wide pools would hand a later test this
    # test's connection (and its SQS client).
    app._pool = app.amqp._producer_pool = ProducerPool(app.connection_for_write().Pool(limit=2), limit=2)
    ATTEMPTS.clear()
    yield sent
    app._pool.force_close_all()
    app._pool = app.amqp._producer_pool = None
    app.conf.update(saved)


@pytest.fixture
def worker_handler(tmp_path, monkeypatch):
    """Zappa's LambdaHandler for the production_worker stage; returns (handler, queue ARN)."""
    from zappa.handler import LambdaHandler

    saved_environ = dict(os.environ)
    root_level = logging.getLogger().level
    cli = load_stage("production_worker")
    (tmp_path / "zappa_settings_worker.py").write_text(cli.get_zappa_settings_string())
    monkeypatch.syspath_prepend(str(tmp_path))
    arn = cli.stage_config["events"][0]["event_source"]["arn"]
    yield LambdaHandler("zappa_settings_worker"), arn
    LambdaHandler._LambdaHandler__instance = None
    LambdaHandler.settings = None
    LambdaHandler.settings_name = None
    sys.modules.pop("zappa_settings_worker", None)
    os.environ.clear()
    os.environ.update(saved_environ)
    logging.getLogger().setLevel(root_level)


def sqs_event(arn, bodies, receive_count=1):
    """The event Lambda's SQS poller sends for a batch of received messages."""
    return {"Records": [{
        "messageId": str(uuid.uuid4()),
        "receiptHandle": f"handle-{index}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1764633600000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    } for index, body in enumerate(bodies)]}


def last_used(key):
    return ApiKey.all_tenants.get(pk=key.pk).last_used_at


def test_the_sent_body_is_kombus_base64_envelope_of_a_celery_task_message(sqs_broker, tenant):
    api_key_mark_used.delay(tenant_id=str(tenant.id), key_id=1, at=timezone.now().isoformat())

    (params,) = sqs_broker
    assert params["QueueUrl"] == QUEUE_URL
    envelope = json.loads(base64.b64decode(params["MessageBody"]))
    assert envelope["headers"]["task"] == "tenants.tasks.api_key_mark_used"
    assert envelope["content-type"] == "application/json"
    assert json.loads(base64.b64decode(envelope["body"]))[1]["tenant_id"] == str(tenant.id)


@pytest.mark.postgres
def test_a_queued_task_runs_under_its_tenant_through_zappas_handler(
    sqs_broker, worker_handler, tenant, other_tenant, api_client_for
):
    handler, arn = worker_handler
    key_a = api_client_for(tenant).api_key
    key_b = api_client_for(other_tenant).api_key
    at = timezone.now().isoformat()
    # Tenant A's task names B's key too: under A's context (RLS) that row does not exist.
    api_key_mark_used.delay(tenant_id=str(tenant.id), key_id=key_a.id, at=at)
    api_key_mark_used.delay(tenant_id=str(tenant.id), key_id=key_b.id, at=at)
    assert last_used(key_a) is None  # sent, not run

    result = handler.handler(sqs_event(arn, [p["MessageBody"] for p in sqs_broker]), None)

    assert result == {"batchItemFailures": []}
    assert last_used(key_a) is not None
    assert last_used(key_b) is None


def test_only_the_failed_records_of_a_batch_are_reported_for_retry(sqs_broker, worker_handler, tenant):
    handler, arn = worker_handler
    always_fails.delay(tenant_id=str(tenant.id))
    api_key_mark_used.delay(tenant_id=str(tenant.id), key_id=0, at=timezone.now().isoformat())
    event = sqs_event(arn, [p["MessageBody"] for p in sqs_broker] + ["not a task message"])

    result = handler.handler(event, None)

    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    ids = [record["messageId"] for record in event["Records"]]
    assert failed == {ids[0], ids[2]}  # the exception and the garbage; the good one is done
    assert [("always_fails", str(tenant.id))] == ATTEMPTS


def test_a_batch_that_fails_entirely_raises_so_sqs_retries_it(sqs_broker, worker_handler, tenant):
    handler, arn = worker_handler
    always_fails.delay(tenant_id=str(tenant.id))

    with pytest.raises(BatchFailed):
        handler.handler(sqs_event(arn, [sqs_broker[0]["MessageBody"]]), None)


def test_retries_go_back_through_the_queue_and_stop_at_max_retries(sqs_broker, worker_handler, tenant):
    handler, arn = worker_handler
    retried.delay(tenant_id=str(tenant.id))
    outcomes = []

    for attempt in range(3):
        body = sqs_broker[attempt]["MessageBody"]
        try:
            outcomes.append(handler.handler(sqs_event(arn, [body]), None))
        except BatchFailed:  # the last attempt: max_retries exceeded, the task failed
            outcomes.append("BatchFailed")

    assert ATTEMPTS == [("retried", 0), ("retried", 1), ("retried", 2)]
    # Each retry is a new message (retries + 1) sent by Celery; the received one is done.
    assert [json.loads(base64.b64decode(p["MessageBody"]))["headers"]["retries"] for p in sqs_broker] == [0, 1, 2]
    assert outcomes == [{"batchItemFailures": []}, {"batchItemFailures": []}, "BatchFailed"]
    assert len(sqs_broker) == 3  # nothing sent after the last attempt: it goes to the dead-letter queue


def test_a_task_not_yet_due_is_not_run_early(sqs_broker, worker_handler, tenant):
    handler, arn = worker_handler
    always_fails.apply_async(kwargs={"tenant_id": str(tenant.id)}, countdown=3600)

    with pytest.raises(BatchFailed):
        handler.handler(sqs_event(arn, [sqs_broker[0]["MessageBody"]]), None)
    assert ATTEMPTS == []

"""A model call, metered exactly into the credit ledger (DESIGN.md §12).

Each call:

1. resolves the model (and its fallbacks) as the tenant may use it;
2. reserves a hold for the most the call can cost on any of them (``gateway.pricing``) and,
   with an ``Idempotency-Key``, claims the key, in ONE transaction that commits before the
   provider is called: no row lock is held during the call. Not covered: 402
   ``insufficient_credits``, nothing else happens;
3. calls the provider (``gateway.calls``: breaker, retries, fallbacks);
4. settles the hold to the usage the provider reported, at the catalog prices of the model
   that answered, and stores the response for the key, in one transaction. An upstream
   failure voids the hold instead: it costs nothing.

A stream is settled when it ends: at the usage its last chunk reports; or, when the
client goes away or the provider cuts it, for what was delivered (the usage the provider
last reported, else the prompt estimated at ``BYTES_PER_TOKEN_ESTIMATE`` bytes a token and
one token per delivered chunk of output). The settlement runs after the view returned,
so it opens the tenant's scope itself, as the same actor and request id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import orjson
from django.conf import settings

from billing.idempotency import Stored, cached, replay
from billing.services import hold_reserve, hold_settle, hold_void
from gateway import breaker, calls, pricing
from gateway import idempotency as keys
from gateway.adapters import Chunk, Usage, adapter_for
from gateway.failures import Broken, UpstreamFailure
from gateway.inputs import ChatCall, EmbeddingCall
from gateway.selectors import Target, targets_for
from radiant import tenancy
from radiant.actors import acting_as, current_actor
from radiant.problems import HoldNotOpen, InsufficientCredits, ServiceUnavailable, UnprocessableInput, problem_body
from radiant.request_context import current_request_id, request_scope

logger = logging.getLogger(__name__)

CHAT = ("chat", "code")
EMBEDDING = ("embedding",)
SSE_DONE = b"data: [DONE]\n\n"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
PROBLEM = "application/problem+json"


@dataclass
class Answer:
    """What the view sends: a body (bytes, or an iterator of bytes for a stream)."""

    status: int
    content_type: str
    body: bytes | Iterator[bytes]
    headers: dict = field(default_factory=dict)
    replayed: bool = False


@dataclass
class _Opened:
    tenant_id: object
    hold_id: object | None  # None: nothing to charge (a free model)
    key: str | None = None
    fingerprint: str | None = None
    claim_id: int | None = None
    request_id: str = ""


def _hold_ttl() -> timedelta:
    return timedelta(seconds=settings.GATEWAY_HOLD_TTL)


def _problem_bytes(exc) -> bytes:
    return orjson.dumps(problem_body(exc.status, exc.code, exc.title, exc.detail, **exc.extra))


def _open(*, tenant_id, plan, key: str | None, fingerprint: str | None):
    """``plan()`` -> (targets, the most the call can cost), then the hold (and the key's
    claim), in one transaction, committed: (targets, the opened call); or the answer to give
    instead (a replay, a stored 402)."""
    request_id = current_request_id() or ""
    if key is not None:
        stored = cached(tenant_id, key)
        if stored is not None and stored.status is not None:
            return None, _replayed(stored, fingerprint)
    tenancy.commit_scope_transaction()  # whatever ran before (a key's last-use stamp) is not held open
    deadline = time.monotonic() + settings.GATEWAY_HOLD_TTL
    targets = None
    while True:
        claim_id = None
        with tenancy.atomic():
            if targets is None:
                targets, amount = plan()  # the model's route: read in the hold's transaction
            if key is not None:
                claimed = keys.claim(tenant_id=tenant_id, key=key, fingerprint=fingerprint, lease=_hold_ttl())
                if not isinstance(claimed, Stored):
                    claim_id = claimed
                elif claimed.status is not None or claimed.fingerprint != fingerprint:
                    return None, _replayed(claimed, fingerprint)
            if key is None or claim_id is not None:
                try:
                    hold_id = hold_reserve(
                        tenant_id=tenant_id, amount=amount, ttl=_hold_ttl(), request_id=request_id,
                    ).id if amount > 0 else None
                except InsufficientCredits as exc:
                    if claim_id is None:
                        raise
                    refusal = Stored(fingerprint, exc.status, PROBLEM, _problem_bytes(exc))
                    keys.store(tenant_id=tenant_id, key=key, claim_id=claim_id, stored=refusal)
                    return None, Answer(exc.status, PROBLEM, refusal.body)
                opened = _Opened(tenant_id, hold_id, key, fingerprint, claim_id, request_id)
        if claim_id is not None or key is None:
            tenancy.lend_connection_back()  # for the length of the provider call
            return targets, opened
        # The key is held by a request still running: wait for its response.
        if time.monotonic() >= deadline:
            raise ServiceUnavailable("A request with this Idempotency-Key is still running; retry later.")
        stored = keys.wait(tenant_id=tenant_id, key=key, fingerprint=fingerprint, lease=_hold_ttl(), deadline=deadline)
        if stored is not None:
            return None, _replayed(stored, fingerprint)


def _replayed(stored: Stored, fingerprint: str) -> Answer:
    response = replay(stored, fingerprint)  # 422 when the key was used for another request
    return Answer(response.status_code, stored.content_type, stored.body, replayed=True)


def _fail(opened: _Opened) -> None:
    """The call failed upstream: release the hold and the key; nothing is charged."""
    with tenancy.atomic():
        if opened.hold_id is not None:
            try:
                hold_void(tenant_id=opened.tenant_id, hold_id=opened.hold_id, request_id=opened.request_id)
            except HoldNotOpen:
                pass  # expired meanwhile and released by the sweep: the same outcome
        if opened.claim_id is not None:
            keys.give_up(claim_id=opened.claim_id)


def _settle(opened: _Opened, target: Target, usage: Usage, answer: Answer) -> Decimal:
    """Charge ``usage`` at ``target``'s prices (at most the hold) and store the response for
    the key, in one transaction. Returns what was charged."""
    charged = Decimal(0)
    with tenancy.atomic():
        if opened.hold_id is not None:
            try:
                row = hold_settle(
                    tenant_id=opened.tenant_id, hold_id=opened.hold_id, request_id=opened.request_id,
                    cost=pricing.cost(target, usage.input_tokens, usage.output_tokens),
                    model_slug=target.model, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                    input_price_per_1k=target.input_price, output_price_per_1k=target.output_price,
                )
                charged = -row.amount
            except HoldNotOpen:
                # The call outlived its hold (expired and released by the sweep): it is free.
                logger.warning("hold %s expired before its call was settled; not charged", opened.hold_id)
        if opened.claim_id is not None:
            stored = Stored(opened.fingerprint, answer.status, answer.content_type, answer.body)
            keys.store(tenant_id=opened.tenant_id, key=opened.key, claim_id=opened.claim_id, stored=stored)
    return charged


def _max_tokens_checked(call: ChatCall, target: Target) -> None:
    if call.max_tokens is not None and call.max_tokens > target.max_output_tokens:
        field = "max_completion_tokens" if "max_completion_tokens" in call.payload else "max_tokens"
        raise UnprocessableInput({field: [f"At most {target.max_output_tokens} for {target.model}."]})


def _chat_payload(call: ChatCall, target: Target) -> dict:
    payload = {**call.payload, "model": target.upstream_model, "max_tokens": pricing.output_limit(call, target)}
    payload.pop("max_completion_tokens", None)
    payload.pop("stream_options", None)
    return payload


def _headers(target: Target, charged: Decimal | None = None) -> dict:
    headers = {"X-Radiant-Model": target.model}
    if charged is not None:
        headers["X-Credits-Charged"] = str(charged)
    return headers


# --- chat/completions ---------------------------------------------------------------------


def chat_completion(*, tenant_id, call: ChatCall, key: str | None = None, fingerprint: str | None = None) -> Answer:
    prompt_bytes = pricing.chat_prompt_bytes(call)

    def plan():
        targets = targets_for(slug=call.payload["model"], categories=CHAT)
        _max_tokens_checked(call, targets[0])
        return targets, max(pricing.chat_bound(call, target, prompt_bytes) for target in targets)

    targets, opened = _open(tenant_id=tenant_id, plan=plan, key=key, fingerprint=fingerprint)
    if isinstance(opened, Answer):
        return opened
    if call.stream:
        return _stream(opened, call, targets, prompt_bytes)
    return _call_and_settle(opened, targets, lambda t: adapter_for(t).chat(t, _chat_payload(call, t)))


def _called(opened: _Opened, targets: list[Target], send):
    """``calls.call(targets, send)``; if it fails, the hold and the key are released (a
    failed call costs nothing) and the failure leaves as its problem."""
    try:
        return calls.call(targets, send)
    except UpstreamFailure as failure:
        _fail(opened)
        raise failure.problem() from None
    except BaseException:
        _fail(opened)
        raise


def _call_and_settle(opened: _Opened, targets: list[Target], send) -> Answer:
    """A call answered in one body: made, then settled to the usage it reports."""
    target, reply, _ = _called(opened, targets, send)
    answer = Answer(200, JSON, reply.body)
    answer.headers = _headers(target, _settle(opened, target, reply.usage, answer))
    return answer


# --- streams ------------------------------------------------------------------------------


def _stream(opened: _Opened, call: ChatCall, targets: list[Target], prompt_bytes: int) -> Answer:
    def open_stream(target):
        chunks = adapter_for(target).chat_stream(target, _chat_payload(call, target))
        try:
            first = next(chunks)
        except StopIteration:
            raise Broken(f"{target.provider.slug} sent an empty stream.") from None
        except BaseException:
            chunks.close()
            raise
        return chunks, first

    target, (chunks, first), _admission = _called(opened, targets, open_stream)
    body = _StreamBody(opened, call, target, chunks, first, prompt_bytes, current_actor())
    headers = {**_headers(target), "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Answer(200, EVENT_STREAM, body, headers)


class _StreamBody:
    """The SSE body: the provider's chunks passed on as they arrive; settled at the end.

    An iterator with ``close()``, which the server calls when the response is done or the
    client has gone (Django passes it on): a body never iterated at all is settled there too,
    for nothing delivered, and its upstream connection closed.
    """

    def __init__(self, opened, call, target, chunks, first, prompt_bytes, actor):
        self.opened, self.call, self.target = opened, call, target
        self.chunks, self.first = chunks, first
        self.prompt_bytes, self.actor = prompt_bytes, actor
        self.reported = first.usage  # the provider's latest report of what was delivered
        self.final = None  # its report at the end of a complete stream
        self.delivered_chunks = 0
        self.sent: list[bytes] = []  # kept for an idempotent replay
        self.started = self.settled = False
        self._body = self._run()

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        self.started = True
        return next(self._body)

    def close(self) -> None:
        if self.started:
            self._body.close()
        elif not self.settled:
            self.chunks.close()
            self._settle(False)

    def _pieces(self) -> Iterator[tuple[bytes, Chunk | None]]:
        yield from self._chunk_pieces(self.first)
        for chunk in self.chunks:
            yield from self._chunk_pieces(chunk)

    def _chunk_pieces(self, chunk: Chunk):
        if chunk.usage_only:
            self.final = chunk.usage
            if not self.call.include_usage:
                return
        yield b"data: " + chunk.data + b"\n\n", chunk

    def _run(self) -> Iterator[bytes]:
        complete = False
        try:
            try:
                for piece, chunk in self._pieces():
                    yield piece
                    # Back here, the piece was handed to the client's connection.
                    self.sent.append(piece)
                    if chunk.content:
                        self.delivered_chunks += 1
                    if chunk.usage is not None and not chunk.usage_only:
                        self.reported = chunk.usage
                yield SSE_DONE
                self.sent.append(SSE_DONE)
                complete = self.final is not None
            except UpstreamFailure as failure:
                provider = self.target.provider
                breaker.report(provider.slug, self.target.model, provider.breaker, breaker.Admission(True, clean=False), ok=False)
                logger.warning("upstream %s (%s) failed mid-stream: %s", provider.slug, self.target.model, failure.detail)
                problem = failure.problem()
                event = b"data: " + orjson.dumps({"error": {
                    "message": problem.detail, "type": problem.code, "code": problem.code,
                }}) + b"\n\n"
                yield event
                self.sent.append(event)
                yield SSE_DONE
                self.sent.append(SSE_DONE)
        finally:
            self.chunks.close()
            self._settle(complete)

    def usage(self, complete: bool) -> Usage:
        if complete and self.final.complete:
            return self.final
        reported = self.reported or Usage()
        prompt = reported.input_tokens
        if prompt is None:
            prompt = pricing.chat_prompt_estimate(self.call, self.target, self.prompt_bytes)
        return Usage(prompt, max(reported.output_tokens or 0, self.delivered_chunks))

    def _settle(self, complete: bool) -> None:
        self.settled = True
        usage = self.usage(complete)
        answer = Answer(200, EVENT_STREAM, b"".join(self.sent))
        with tenancy.tenant_scope(self.opened.tenant_id), acting_as(*self.actor), request_scope(self.opened.request_id):
            try:
                _settle(self.opened, self.target, usage, answer)
            except Exception:
                # The client has its answer; the hold expires and is released by the sweep.
                logger.exception("a streamed call could not be settled")


# --- embeddings ---------------------------------------------------------------------------


def embedding_create(*, tenant_id, call: EmbeddingCall, key: str | None = None, fingerprint: str | None = None) -> Answer:
    def plan():
        targets = targets_for(slug=call.payload["model"], categories=EMBEDDING)
        return targets, max(pricing.embedding_bound(call, target) for target in targets)

    targets, opened = _open(tenant_id=tenant_id, plan=plan, key=key, fingerprint=fingerprint)
    if isinstance(opened, Answer):
        return opened
    return _call_and_settle(
        opened, targets, lambda t: adapter_for(t).embed(t, {**call.payload, "model": t.upstream_model}),
    )

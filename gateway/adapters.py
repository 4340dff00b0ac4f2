"""Provider adapters: one call in OpenAI's request shape, one answer in OpenAI's response shape.

- ``openai``: any OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, OpenRouter, ...). The
  request is passed on with the provider's model name and the ``max_tokens`` the call was
  held for; the answer's bytes are passed back unchanged. Streams ask for
  ``stream_options.include_usage`` so the last chunk reports the usage.
- ``anthropic``: Anthropic's messages API, translated both ways (text chat).
- ``echo``: built in, no network and no key: answers with the last user message, counts a
  token per whitespace-separated word, and embeds text as a hash. Deterministic, so the
  embedded default and the demo work anywhere.

Every failure is raised as a ``gateway.failures.UpstreamFailure``; nothing else escapes.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson

from gateway import client as http_client
from gateway.credentials import CredentialUnavailable, credential_value
from gateway.failures import Broken, Refused, ServerError, TimedOut, Unavailable, UpstreamFailure
from gateway.selectors import Target

logger = logging.getLogger(__name__)

ERROR_BODY_LIMIT = 4096
REASON_LIMIT = 300
RETRY_AFTER_LIMIT = 60.0
ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def complete(self) -> bool:
        return self.input_tokens is not None and self.output_tokens is not None


@dataclass(frozen=True)
class Reply:
    body: bytes  # OpenAI-shaped JSON, returned to the client as it is
    usage: Usage  # complete


@dataclass(frozen=True)
class Chunk:
    data: bytes  # the JSON of one chat.completion.chunk
    usage: Usage | None = None  # what the provider reported with it (cumulative)
    content: bool = False  # it carries generated output
    usage_only: bool = False  # the include_usage chunk: no choices, only usage


def _usage(obj, *, output: bool = True) -> Usage | None:
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens", None if output else 0))
    if not output and completion is None:
        completion = 0
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (prompt, completion)):
        return None
    return Usage(prompt, completion)


def _loads(data: bytes, what: str):
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise Broken(f"the provider's {what} is not valid JSON") from None


# --- HTTP --------------------------------------------------------------------------------


def _retry_after(headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, RETRY_AFTER_LIMIT))


def _reason(content: bytes) -> str:
    """The provider's own message for a refused request, short and as text."""
    try:
        body = orjson.loads(content)
        message = body.get("error", body)
        message = message.get("message") if isinstance(message, dict) else message
    except (orjson.JSONDecodeError, AttributeError):
        message = content.decode(errors="replace")
    return str(message)[:REASON_LIMIT]


def _status_failure(target: Target, status: int, content: bytes, headers) -> UpstreamFailure:
    name = f"{target.provider.slug} ({target.model})"
    if status == 429 or status == 503:
        return Unavailable(f"{name} is overloaded or rate-limited ({status}).", retry_after=_retry_after(headers))
    if status == 504:
        return TimedOut(f"{name} timed out ({status}).")
    if status >= 500:
        return ServerError(f"{name} failed ({status}).")
    if status in (400, 413, 422):
        return Refused(f"{name} refused the request ({status}): {_reason(content)}")
    # 401/403 (our key), 404 (the model is unknown there), anything else: a configuration
    # problem on our side; the provider's message may quote the key, so it is not passed on.
    return Broken(f"{name} answered {status}.")


def _headers(target: Target, *, anthropic: bool = False) -> dict[str, str]:
    try:
        key = credential_value(target.provider.credential)
    except CredentialUnavailable as exc:
        logger.error("provider %s: credential unavailable: %s", target.provider.slug, exc)
        raise Broken(f"{target.provider.slug}'s credential is not available.") from None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if anthropic:
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if key:
            headers["x-api-key"] = key
    elif key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _post(target: Target, path: str, payload: dict, *, stream: bool, anthropic: bool = False) -> httpx.Response:
    provider = target.provider
    client = http_client.http()
    try:
        request = client.build_request(
            "POST", provider.base_url.rstrip("/") + path, content=orjson.dumps(payload),
            headers=_headers(target, anthropic=anthropic),
            timeout=http_client.timeout(read=provider.timeout, connect=provider.connect_timeout),
        )
        response = client.send(request, stream=stream)
    except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError):
        raise Unavailable(f"{provider.slug} could not be reached.") from None
    except httpx.TimeoutException:
        raise TimedOut(f"{provider.slug} did not answer within {provider.timeout:g} s.") from None
    except httpx.TransportError as exc:
        raise ServerError(f"{provider.slug}: the connection failed ({type(exc).__name__}).") from None
    if response.status_code != 200:
        try:
            content = b"".join(_limited(response, ERROR_BODY_LIMIT))
        except httpx.HTTPError:
            content = b""
        finally:
            response.close()
        raise _status_failure(target, response.status_code, content, response.headers)
    return response


def _limited(response, limit):
    seen = 0
    for piece in response.iter_bytes():
        yield piece[: limit - seen]
        seen += len(piece)
        if seen >= limit:
            return


def _read(target: Target, response: httpx.Response) -> bytes:
    try:
        return response.read()
    except httpx.TimeoutException:
        raise TimedOut(f"{target.provider.slug} did not finish its answer within {target.provider.timeout:g} s.") from None
    except httpx.TransportError:
        raise ServerError(f"{target.provider.slug}: the answer was cut off.") from None
    finally:
        response.close()


def _sse(target: Target, response: httpx.Response) -> Iterator[tuple[str | None, bytes]]:
    """(event name, data) of each server-sent event, as it arrives."""
    buffer = b""
    try:
        for piece in response.iter_bytes():
            buffer = (buffer + piece).replace(b"\r\n", b"\n")
            while True:
                end = buffer.find(b"\n\n")
                if end < 0:
                    break
                block, buffer = buffer[:end], buffer[end + 2:]
                name, data = None, []
                for line in block.split(b"\n"):
                    if line.startswith(b"data:"):
                        data.append(line[5:].lstrip(b" "))
                    elif line.startswith(b"event:"):
                        name = line[6:].strip().decode(errors="replace")
                if data:
                    yield name, b"\n".join(data)
    except httpx.TimeoutException:
        raise TimedOut(f"{target.provider.slug} went silent for {target.provider.timeout:g} s mid-stream.") from None
    except httpx.TransportError:
        raise ServerError(f"{target.provider.slug}: the stream was cut off.") from None


# --- OpenAI-compatible -------------------------------------------------------------------


class OpenAICompatible:
    def chat(self, target: Target, payload: dict) -> Reply:
        body = _read(target, _post(target, "/chat/completions", payload, stream=False))
        answer = _loads(body, "answer")
        usage = _usage(answer)
        if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
            raise Broken(f"{target.provider.slug}'s answer is not a chat completion.")
        if usage is None:
            raise Broken(f"{target.provider.slug}'s answer reports no usage.")
        return Reply(body=body, usage=usage)

    def chat_stream(self, target: Target, payload: dict) -> Iterator[Chunk]:
        payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        response = _post(target, "/chat/completions", payload, stream=True)
        try:
            for _, data in _sse(target, response):
                if data == b"[DONE]":
                    return
                chunk = _loads(data, "stream")
                if not isinstance(chunk, dict):
                    raise Broken(f"{target.provider.slug} sent a chunk that is not an object.")
                choices = chunk.get("choices")
                content = isinstance(choices, list) and any(
                    isinstance(c, dict) and isinstance(c.get("delta"), dict)
                    and (c["delta"].get("content") or c["delta"].get("tool_calls") or c["delta"].get("refusal"))
                    for c in choices
                )
                usage = _usage(chunk)
                yield Chunk(data=data, usage=usage, content=content, usage_only=usage is not None and not choices)
            raise ServerError(f"{target.provider.slug}'s stream ended before it was complete.")
        finally:
            response.close()

    def embed(self, target: Target, payload: dict) -> Reply:
        body = _read(target, _post(target, "/embeddings", payload, stream=False))
        answer = _loads(body, "answer")
        usage = _usage(answer, output=False)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise Broken(f"{target.provider.slug}'s answer is not an embedding list.")
        if usage is None:
            raise Broken(f"{target.provider.slug}'s answer reports no usage.")
        return Reply(body=body, usage=usage)


# --- Anthropic ---------------------------------------------------------------------------

_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
_ANTHROPIC_UNSUPPORTED = ("tools", "tool_choice", "response_format", "logprobs", "top_logprobs", "logit_bias", "seed")


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


class Anthropic:
    def _request(self, target: Target, payload: dict) -> dict:
        unsupported = [name for name in _ANTHROPIC_UNSUPPORTED if payload.get(name) is not None]
        if unsupported or (payload.get("n") or 1) > 1:
            raise Refused(f"{target.model} (Anthropic) does not support {', '.join(unsupported) or 'n > 1'} here.")
        system = "\n\n".join(_text(m.get("content")) for m in payload["messages"] if m["role"] in ("system", "developer"))
        messages = [
            {"role": "assistant" if m["role"] == "assistant" else "user", "content": _text(m.get("content"))}
            for m in payload["messages"] if m["role"] not in ("system", "developer")
        ]
        request = {"model": target.upstream_model, "max_tokens": payload["max_tokens"], "messages": messages}
        if system:
            request["system"] = system
        for name in ("temperature", "top_p"):
            if payload.get(name) is not None:
                request[name] = payload[name]
        stop = payload.get("stop")
        if stop:
            request["stop_sequences"] = [stop] if isinstance(stop, str) else stop
        if payload.get("user"):
            request["metadata"] = {"user_id": payload["user"]}
        return request

    def chat(self, target: Target, payload: dict) -> Reply:
        body = _read(target, _post(target, "/messages", self._request(target, payload), stream=False, anthropic=True))
        answer = _loads(body, "answer")
        usage = _usage(answer)
        if not isinstance(answer, dict) or not isinstance(answer.get("content"), list) or usage is None:
            raise Broken(f"{target.provider.slug}'s answer is not a message with usage.")
        completion = {
            "id": f"chatcmpl-{answer.get('id', '')}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.get("model", target.upstream_model),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": _text(answer["content"])},
                "finish_reason": _STOP_REASONS.get(answer.get("stop_reason"), "stop"),
            }],
            "usage": {
                "prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                "total_tokens": usage.input_tokens + usage.output_tokens,
            },
        }
        return Reply(body=orjson.dumps(completion), usage=usage)

    def chat_stream(self, target: Target, payload: dict) -> Iterator[Chunk]:
        request = {**self._request(target, payload), "stream": True}
        response = _post(target, "/messages", request, stream=True, anthropic=True)
        ident, created, model = "chatcmpl-", int(time.time()), target.upstream_model
        input_tokens, output_tokens, finish = None, 0, None

        def chunk(delta, finish_reason=None):
            return orjson.dumps({
                "id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            })

        try:
            for _, data in _sse(target, response):
                event = _loads(data, "stream")
                kind = event.get("type") if isinstance(event, dict) else None
                if kind == "message_start":
                    message = event.get("message") or {}
                    ident = f"chatcmpl-{message.get('id', '')}"
                    model = message.get("model", model)
                    usage = _usage(message) or Usage()
                    input_tokens = usage.input_tokens
                    output_tokens = usage.output_tokens or 0
                    yield Chunk(data=chunk({"role": "assistant", "content": ""}), usage=Usage(input_tokens, output_tokens))
                elif kind == "content_block_delta":
                    text = (event.get("delta") or {}).get("text")
                    if text:
                        yield Chunk(data=chunk({"content": text}), content=True)
                elif kind == "message_delta":
                    finish = _STOP_REASONS.get((event.get("delta") or {}).get("stop_reason"), "stop")
                    reported = (event.get("usage") or {}).get("output_tokens")
                    if isinstance(reported, int) and not isinstance(reported, bool) and reported >= 0:
                        output_tokens = reported
                elif kind == "message_stop":
                    if input_tokens is None:
                        raise Broken(f"{target.provider.slug}'s stream reported no usage.")
                    yield Chunk(data=chunk({}, finish or "stop"))
                    usage = Usage(input_tokens, output_tokens)
                    yield Chunk(
                        data=orjson.dumps({
                            "id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": {
                                "prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                                "total_tokens": input_tokens + output_tokens,
                            },
                        }),
                        usage=usage, usage_only=True,
                    )
                    return
                elif kind == "error":
                    raise ServerError(f"{target.provider.slug} reported an error mid-stream.")
            raise ServerError(f"{target.provider.slug}'s stream ended before it was complete.")
        finally:
            response.close()

    def embed(self, target: Target, payload: dict) -> Reply:
        raise Refused(f"{target.model} (Anthropic) has no embeddings.")


# --- echo --------------------------------------------------------------------------------

ECHO_DIMENSIONS = 16


def _words(text: str) -> list[str]:
    return text.split()


class Echo:
    """Answers "echo: <the last user message>", a token per word; embeds by hashing."""

    def _answer(self, target: Target, payload: dict):
        messages = payload["messages"]
        prompt_tokens = sum(len(_words(_text(m.get("content")))) for m in messages)
        last_user = next((_text(m.get("content")) for m in reversed(messages) if m["role"] == "user"), "")
        words = ["echo:", *_words(last_user)]
        limit = payload["max_tokens"]
        finish = "length" if len(words) > limit else "stop"
        words = words[:limit]
        digest = hashlib.sha256(orjson.dumps(messages)).hexdigest()[:24]
        return f"chatcmpl-echo-{digest}", words, prompt_tokens, finish

    def chat(self, target: Target, payload: dict) -> Reply:
        ident, words, prompt_tokens, finish = self._answer(target, payload)
        n = payload.get("n") or 1
        completion = {
            "id": ident, "object": "chat.completion", "created": int(time.time()), "model": target.upstream_model,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": " ".join(words)}, "finish_reason": finish}
                for i in range(n)
            ],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(words) * n,
                      "total_tokens": prompt_tokens + len(words) * n},
        }
        return Reply(body=orjson.dumps(completion), usage=Usage(prompt_tokens, len(words) * n))

    def chat_stream(self, target: Target, payload: dict) -> Iterator[Chunk]:
        ident, words, prompt_tokens, finish = self._answer(target, payload)
        created, model = int(time.time()), target.upstream_model

        def chunk(delta, finish_reason=None, **extra):
            return orjson.dumps({
                "id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra,
            })

        yield Chunk(data=chunk({"role": "assistant", "content": ""}))
        for index, word in enumerate(words):
            yield Chunk(data=chunk({"content": word if index == 0 else " " + word}), content=True)
        yield Chunk(data=chunk({}, finish))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words), "total_tokens": prompt_tokens + len(words)}
        yield Chunk(
            data=orjson.dumps({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [], "usage": usage}),
            usage=Usage(prompt_tokens, len(words)), usage_only=True,
        )

    def embed(self, target: Target, payload: dict) -> Reply:
        texts = payload["input"]
        texts = [texts] if isinstance(texts, str) or (texts and isinstance(texts[0], int)) else texts
        dimensions = payload.get("dimensions") or ECHO_DIMENSIONS
        data, tokens = [], 0
        for index, item in enumerate(texts):
            raw = item.encode() if isinstance(item, str) else orjson.dumps(item)
            tokens += len(_words(item)) if isinstance(item, str) else len(item)
            stream = b""
            counter = 0
            while len(stream) < dimensions:
                stream += hashlib.sha256(raw + counter.to_bytes(4, "big")).digest()
                counter += 1
            vector = [round(byte / 127.5 - 1, 6) for byte in stream[:dimensions]]
            data.append({"object": "embedding", "index": index, "embedding": vector})
        answer = {"object": "list", "data": data, "model": target.upstream_model,
                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return Reply(body=orjson.dumps(answer), usage=Usage(tokens, 0))


ADAPTERS = {"openai": OpenAICompatible(), "anthropic": Anthropic(), "echo": Echo()}


def adapter_for(target: Target):
    return ADAPTERS[target.provider.kind]

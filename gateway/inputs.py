"""The request bodies of ``chat/completions`` and ``embeddings``: OpenAI's shapes, checked.

Hand-written rather than DRF serializers: a chat body is a list of nested messages, and a
serializer tree for it costs more than the rest of the request. The rules are the
project's (DESIGN.md §8): unknown fields are refused, numbers are JSON numbers in range,
strings are strings; every problem is reported per field as a 422 ``validation_error``.

Fields OpenAI's API accepts and the gateway passes on (to OpenAI-compatible providers) are
listed in ``CHAT_FIELDS``; anything else is refused rather than silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from radiant.parsers import UnstorableJSON, check_json_value
from radiant.problems import PayloadTooLarge, UnprocessableInput

MAX_MESSAGES = 2048
MAX_TOOLS = 128
MAX_EMBEDDING_INPUTS = 2048
MAX_TOKENS = 1_000_000
MAX_N = 8

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
MESSAGE_FIELDS = {"role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal"}
CHAT_FIELDS = {
    "model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options", "temperature",
    "top_p", "n", "stop", "presence_penalty", "frequency_penalty", "seed", "user", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "logprobs", "top_logprobs", "logit_bias",
}
EMBEDDING_FIELDS = {"model", "input", "encoding_format", "dimensions", "user"}


def parse_body(raw: bytes, limit: int):
    """The JSON body, or a 400/413 problem (through DRF's error types for the 400)."""
    from rest_framework.exceptions import ParseError

    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    try:
        data = orjson.loads(raw)
        check_json_value(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    except (UnstorableJSON, RecursionError) as exc:
        raise ParseError(str(exc)) from None
    return data


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Errors(dict):
    def add(self, field, message):
        self.setdefault(field, []).append(message)


def _check_number(errors, data, name, low, high, *, integer=False):
    if name not in data or data[name] is None:
        return
    value = data[name]
    if not (_is_int(value) if integer else _is_number(value)):
        errors.add(name, "A valid integer is required." if integer else "A valid number is required.")
    elif not low <= value <= high:
        errors.add(name, f"Must be between {low} and {high}.")


def _check_type(errors, data, name, kinds, message):
    if name in data and data[name] is not None and not isinstance(data[name], kinds):
        errors.add(name, message)


@dataclass(frozen=True)
class ChatCall:
    payload: dict  # the validated body, as the client sent it
    stream: bool
    include_usage: bool
    max_tokens: int | None
    n: int


@dataclass(frozen=True)
class EmbeddingCall:
    payload: dict
    texts: list  # strings, or lists of token ids


def _check_model(errors, data):
    model = data.get("model")
    if "model" not in data:
        errors.add("model", "This field is required.")
    elif not isinstance(model, str) or not 1 <= len(model) <= 100:
        errors.add("model", "A model slug from GET models (1-100 characters).")


def _check_messages(errors, messages):
    if not isinstance(messages, list) or not messages:
        errors.add("messages", "A non-empty list of messages is required.")
        return
    if len(messages) > MAX_MESSAGES:
        errors.add("messages", f"At most {MAX_MESSAGES} messages.")
        return
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            errors.add(where, "A message is an object with role and content.")
            continue
        unknown = set(message) - MESSAGE_FIELDS
        if unknown:
            errors.add(where, f"Unknown fields: {', '.join(sorted(unknown))}.")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            errors.add(f"{where}.role", f"One of {', '.join(sorted(ROLES))}.")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            errors.add(f"{where}.content", "A string, a list of content parts, or null.")
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    errors.add(f"{where}.content", "Each content part is an object with a type.")
                    break
        if "name" in message and not isinstance(message["name"], str):
            errors.add(f"{where}.name", "A string.")


def chat_call(data) -> ChatCall:
    errors = _Errors()
    if not isinstance(data, dict):
        raise UnprocessableInput({"_": ["The body is a JSON object."]})
    unknown = set(data) - CHAT_FIELDS
    for name in sorted(unknown):
        errors.add(name, "Unknown field.")
    _check_model(errors, data)
    _check_messages(errors, data.get("messages"))
    _check_number(errors, data, "max_tokens", 1, MAX_TOKENS, integer=True)
    _check_number(errors, data, "max_completion_tokens", 1, MAX_TOKENS, integer=True)
    _check_number(errors, data, "n", 1, MAX_N, integer=True)
    _check_number(errors, data, "temperature", 0, 2)
    _check_number(errors, data, "top_p", 0, 1)
    _check_number(errors, data, "presence_penalty", -2, 2)
    _check_number(errors, data, "frequency_penalty", -2, 2)
    _check_number(errors, data, "seed", -(2**63), 2**63 - 1, integer=True)
    _check_number(errors, data, "top_logprobs", 0, 20, integer=True)
    for flag in ("stream", "parallel_tool_calls", "logprobs"):
        _check_type(errors, data, flag, bool, "A boolean.")
    _check_type(errors, data, "user", str, "A string.")
    _check_type(errors, data, "response_format", dict, "An object.")
    _check_type(errors, data, "logit_bias", dict, "An object.")
    _check_type(errors, data, "tool_choice", (str, dict), "A string or an object.")
    stop = data.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop))
    ):
        errors.add("stop", "A string or a list of at most 4 strings.")
    tools = data.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and len(tools) <= MAX_TOOLS and all(isinstance(t, dict) for t in tools)
    ):
        errors.add("tools", f"A list of at most {MAX_TOOLS} tool objects.")
    options = data.get("stream_options")
    if options is not None:
        include_usage = options.get("include_usage", False) if isinstance(options, dict) else None
        if not isinstance(options, dict) or set(options) - {"include_usage"} or not isinstance(include_usage, bool):
            errors.add("stream_options", 'Only {"include_usage": true|false}.')
        elif not data.get("stream"):
            errors.add("stream_options", "Only with stream: true.")
    if "max_tokens" in data and "max_completion_tokens" in data and data["max_tokens"] != data["max_completion_tokens"]:
        errors.add("max_completion_tokens", "Send max_tokens or max_completion_tokens, not two different values.")
    if errors:
        raise UnprocessableInput(dict(errors))
    max_tokens = data.get("max_completion_tokens") or data.get("max_tokens")
    return ChatCall(
        payload=data, stream=bool(data.get("stream")),
        include_usage=bool((data.get("stream_options") or {}).get("include_usage")),
        max_tokens=max_tokens, n=data.get("n") or 1,
    )


def embedding_call(data) -> EmbeddingCall:
    errors = _Errors()
    if not isinstance(data, dict):
        raise UnprocessableInput({"_": ["The body is a JSON object."]})
    for name in sorted(set(data) - EMBEDDING_FIELDS):
        errors.add(name, "Unknown field.")
    _check_model(errors, data)
    raw = data.get("input")
    texts = None
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(_is_int(t) for t in raw):
        texts = [raw]  # one input given as token ids
    elif isinstance(raw, list) and raw and all(
        isinstance(t, str) or (isinstance(t, list) and t and all(_is_int(i) for i in t)) for t in raw
    ):
        texts = raw
    if texts is None or any(len(t) == 0 for t in texts):
        errors.add("input", "A non-empty string, a list of them, or token ids (a list of integers, or of such lists).")
    elif len(texts) > MAX_EMBEDDING_INPUTS:
        errors.add("input", f"At most {MAX_EMBEDDING_INPUTS} inputs.")
    if data.get("encoding_format") not in (None, "float", "base64"):
        errors.add("encoding_format", "float or base64.")
    _check_number(errors, data, "dimensions", 1, 65_536, integer=True)
    _check_type(errors, data, "user", str, "A string.")
    if errors:
        raise UnprocessableInput(dict(errors))
    return EmbeddingCall(payload=data, texts=texts)

"""What a call may cost at most (its hold), and what it did cost (its settlement).

Nothing here knows a tokenizer, and nothing needs to: the hold must only be *at least* the
cost. Every tokenizer the providers use (byte-level BPE, SentencePiece with byte fallback)
spends at least one byte of UTF-8 per token, and a chat template adds a handful of tokens
per message, fewer than the JSON punctuation of the message itself; so the byte length of
the messages as JSON bounds the prompt's tokens (and the model's context window bounds it
again). An image is worth a fixed ``IMAGE_TOKENS`` whatever its URL's length. The output is
bounded by ``max_tokens``, which the gateway always sends. A provider that reports more
than the hold covers is charged at most the hold (``hold_settle``).

The cost itself is the catalog's: input_tokens/1000 × input price + output_tokens/1000 ×
output price, exact in Decimal (``billing.services.usage_cost``).
"""

from __future__ import annotations

import math
from decimal import Decimal

import orjson

from billing.services import usage_cost
from gateway.inputs import ChatCall, EmbeddingCall
from gateway.selectors import Target

IMAGE_TOKENS = 6_000  # more than any provider bills for one image today
# No single call is held or charged for more input tokens than the ledger's own bound for
# one call (so even at the catalog's highest price a hold fits its column).
MAX_INPUT_TOKENS = 10_000_000
# A cut stream whose provider never reported usage: the prompt at this many bytes a token
# (the usual average for English text), an estimate, and never above the bound.
BYTES_PER_TOKEN_ESTIMATE = 4


def _images(messages) -> int:
    count = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            count += sum(
                1 for part in content if isinstance(part, dict) and part.get("type") in ("image_url", "image", "input_audio")
            )
    return count


def chat_prompt_bytes(call: ChatCall) -> int:
    payload = call.payload
    size = len(orjson.dumps(payload["messages"]))
    if payload.get("tools"):
        size += len(orjson.dumps(payload["tools"]))
    if payload.get("response_format"):
        size += len(orjson.dumps(payload["response_format"]))
    return size + IMAGE_TOKENS * _images(payload["messages"])


def chat_prompt_bound(call: ChatCall, target: Target, prompt_bytes: int) -> int:
    return min(prompt_bytes, target.context_window, MAX_INPUT_TOKENS)


def chat_prompt_estimate(call: ChatCall, target: Target, prompt_bytes: int) -> int:
    return min(math.ceil(prompt_bytes / BYTES_PER_TOKEN_ESTIMATE), chat_prompt_bound(call, target, prompt_bytes))


def output_limit(call: ChatCall, target: Target) -> int:
    """The max_tokens sent to ``target``: what the client asked for, within the route's limit."""
    return min(call.max_tokens or target.max_output_tokens, target.max_output_tokens)


def chat_bound(call: ChatCall, target: Target, prompt_bytes: int) -> Decimal:
    return cost(target, chat_prompt_bound(call, target, prompt_bytes), output_limit(call, target) * call.n)


def embedding_prompt_bound(call: EmbeddingCall, target: Target) -> int:
    total = 0
    for item in call.texts:
        tokens = len(item) if isinstance(item, list) else len(item.encode())
        total += min(tokens, target.context_window)
    return min(total, MAX_INPUT_TOKENS)


def embedding_bound(call: EmbeddingCall, target: Target) -> Decimal:
    return cost(target, embedding_prompt_bound(call, target), 0)


def cost(target: Target, input_tokens: int, output_tokens: int) -> Decimal:
    return usage_cost(
        input_tokens=input_tokens, output_tokens=output_tokens,
        input_price_per_1k=target.input_price, output_price_per_1k=target.output_price,
    )

"""``POST chat/completions`` and ``POST embeddings``: OpenAI's API, through the gateway.

Thin views on ``TenantAPIView`` (authentication, the tenant's rate limit and daily quota,
the tenant scope): parse and check the body, call one service, send what it answers.
"""

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import BaseParser

from billing import idempotency
from billing.api import IDEMPOTENCY_HEADER
from gateway import inputs, services
from radiant.api import TenantAPIView


class JSONBody(BaseParser):
    """The body as JSON, read whole up to ``GATEWAY_MAX_REQUEST_BYTES`` (a prompt is larger
    than the rest of the API's bodies), parsed with orjson."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.GATEWAY_MAX_REQUEST_BYTES
        return inputs.parse_body(stream.read(limit + 1) if stream is not None else b"", limit)


def _response(answer: services.Answer):
    if isinstance(answer.body, bytes):
        response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    else:
        response = StreamingHttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers.items():
        response[name] = value
    if answer.replayed:
        response[idempotency.REPLAYED] = "true"
    return response


def _key_and_fingerprint(request, data):
    key = idempotency.request_key(request)
    if key is None:
        return None, None
    return key, idempotency.fingerprint(method="POST", path=request.path_info, data=data)


_UPSTREAM = {
    402: OpenApiResponse(
        description="insufficient_credits: the call's maximum cost is not covered; nothing was called or charged",
    ),
    404: OpenApiResponse(description="not_found: no such model for this tenant, or no provider serves it"),
    422: OpenApiResponse(description="validation_error (per field), or idempotency_key_reused"),
    502: OpenApiResponse(description="upstream_error: the provider failed or answered unusably; nothing was charged"),
    503: OpenApiResponse(description=(
        "upstream_unavailable: the provider cannot be reached, is overloaded or its circuit breaker is open "
        "(Retry-After); nothing was charged"
    )),
    504: OpenApiResponse(description="upstream_timeout: the provider did not answer in time; nothing was charged"),
}

_MESSAGES = inline_serializer("ChatMessage", {
    "role": serializers.ChoiceField(choices=sorted(inputs.ROLES)),
    "content": serializers.CharField(allow_null=True, help_text="Text, a list of content parts, or null."),
    "name": serializers.CharField(required=False),
}, many=True)

_CHAT_REQUEST = inline_serializer("ChatCompletionRequest", {
    "model": serializers.CharField(max_length=100, help_text="A chat model's slug from GET models."),
    "messages": _MESSAGES,
    "max_tokens": serializers.IntegerField(min_value=1, max_value=inputs.MAX_TOKENS, required=False,
                                           help_text="The most output tokens; the model's limit when absent."),
    "max_completion_tokens": serializers.IntegerField(min_value=1, max_value=inputs.MAX_TOKENS, required=False),
    "stream": serializers.BooleanField(required=False, help_text="Server-sent events, as OpenAI sends them."),
    "stream_options": inline_serializer("StreamOptions", {"include_usage": serializers.BooleanField()}, required=False),
    "temperature": serializers.FloatField(min_value=0, max_value=2, required=False),
    "top_p": serializers.FloatField(min_value=0, max_value=1, required=False),
    "n": serializers.IntegerField(min_value=1, max_value=inputs.MAX_N, required=False),
    "stop": serializers.ListField(child=serializers.CharField(), max_length=4, required=False),
    "presence_penalty": serializers.FloatField(min_value=-2, max_value=2, required=False),
    "frequency_penalty": serializers.FloatField(min_value=-2, max_value=2, required=False),
    "seed": serializers.IntegerField(required=False),
    "user": serializers.CharField(required=False),
})

_USAGE = inline_serializer("CompletionUsage", {
    "prompt_tokens": serializers.IntegerField(), "completion_tokens": serializers.IntegerField(),
    "total_tokens": serializers.IntegerField(),
})

_CHAT_COMPLETION = inline_serializer("ChatCompletion", {
    "id": serializers.CharField(), "object": serializers.CharField(), "created": serializers.IntegerField(),
    "model": serializers.CharField(help_text="The provider's name for the model."),
    "choices": serializers.ListField(child=serializers.DictField()),
    "usage": _USAGE,
})



class ChatCompletionsView(TenantAPIView):
    """An OpenAI-compatible chat completion, routed to the model's provider and charged
    exactly the usage it reports (a hold for the most it can cost is taken first)."""

    parser_classes = [JSONBody]

    @extend_schema(
        operation_id="chat_completions_create",
        parameters=[IDEMPOTENCY_HEADER],
        request=_CHAT_REQUEST,
        responses={
            (200, "application/json"): _CHAT_COMPLETION,
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With stream: chat.completion.chunk events as the provider sends them, then [DONE].",
            ),
            **_UPSTREAM,
        },
        examples=[OpenApiExample("chat", request_only=True, value={
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 64,
        })],
    )
    def post(self, request):
        call = inputs.chat_call(request.data)
        key, fingerprint = _key_and_fingerprint(request, request.data)
        return _response(services.chat_completion(
            tenant_id=self.tenant.tenant_id, call=call, key=key, fingerprint=fingerprint,
        ))


_EMBEDDING_REQUEST = inline_serializer("EmbeddingRequest", {
    "model": serializers.CharField(max_length=100, help_text="An embedding model's slug from GET models."),
    "input": serializers.ListField(child=serializers.CharField(), help_text="A string, a list of strings, or token ids."),
    "encoding_format": serializers.ChoiceField(choices=["float", "base64"], required=False),
    "dimensions": serializers.IntegerField(min_value=1, max_value=65536, required=False),
    "user": serializers.CharField(required=False),
})

_EMBEDDINGS = inline_serializer("EmbeddingList", {
    "object": serializers.CharField(), "data": serializers.ListField(child=serializers.DictField()),
    "model": serializers.CharField(),
    "usage": inline_serializer("EmbeddingUsage", {
        "prompt_tokens": serializers.IntegerField(), "total_tokens": serializers.IntegerField(),
    }),
})


class EmbeddingsView(TenantAPIView):
    """OpenAI-compatible embeddings, charged the input tokens the provider reports."""

    parser_classes = [JSONBody]

    @extend_schema(
        operation_id="embeddings_create",
        parameters=[IDEMPOTENCY_HEADER],
        request=_EMBEDDING_REQUEST,
        responses={200: _EMBEDDINGS, **_UPSTREAM},
    )
    def post(self, request):
        call = inputs.embedding_call(request.data)
        key, fingerprint = _key_and_fingerprint(request, request.data)
        return _response(services.embedding_create(
            tenant_id=self.tenant.tenant_id, call=call, key=key, fingerprint=fingerprint,
        ))

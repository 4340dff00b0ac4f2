from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from billing import idempotency, selectors, services
from billing.models import CreditTransaction
from radiant.api import TenantAPIView
from radiant.inputs import StrictInput, body_input
from radiant.pagination import CursorPagination, PageInput
from radiant.problems import InsufficientCredits, problem_for

# A single call's token counts: far above any context window, and low enough that even at
# the catalog's highest possible price (999,999.999999 per 1,000) a cost fits NUMERIC(20, 9).
MAX_TOKENS = 10_000_000


class JsonInteger(serializers.IntegerField):
    """A JSON integer and nothing else: no "12", no 12.0, no true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class BalanceOutput(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=20, decimal_places=9)
    held = serializers.DecimalField(max_digits=20, decimal_places=9, help_text="Reserved by open holds.")
    available = serializers.DecimalField(max_digits=20, decimal_places=9, help_text="balance - held")
    currency = serializers.CharField()


class TransactionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    seq = serializers.IntegerField(help_text="Position in the ledger, from 1, without gaps.")
    type = serializers.ChoiceField(choices=CreditTransaction.Type.choices)
    amount = serializers.DecimalField(max_digits=20, decimal_places=9, help_text="Change to the balance.")
    held_change = serializers.DecimalField(max_digits=20, decimal_places=9)
    balance_after = serializers.DecimalField(max_digits=20, decimal_places=9)
    held_after = serializers.DecimalField(max_digits=20, decimal_places=9)
    model = serializers.CharField(source="model_slug", allow_blank=True)
    input_tokens = serializers.IntegerField(allow_null=True)
    output_tokens = serializers.IntegerField(allow_null=True)
    input_price_per_1k = serializers.DecimalField(max_digits=12, decimal_places=6, allow_null=True)
    output_price_per_1k = serializers.DecimalField(max_digits=12, decimal_places=6, allow_null=True)
    hold_id = serializers.UUIDField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    request_id = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class UsageOutput(serializers.Serializer):
    transaction = TransactionOutput()
    balance = serializers.DecimalField(max_digits=20, decimal_places=9)
    available = serializers.DecimalField(max_digits=20, decimal_places=9)


class CreditsView(TenantAPIView):
    """The tenant's credits: balance, held by open holds, available, currency."""

    @extend_schema(operation_id="v1_credits", responses=BalanceOutput)
    def get(self, request):
        balance = selectors.credits_get()
        return Response(BalanceOutput(balance).data)


class TransactionPage(serializers.Serializer):
    results = TransactionOutput(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class TransactionListView(TenantAPIView):
    """The tenant's ledger, newest first. Paging is by the ledger's own sequence (commit
    order), so rows written while a client pages never shift, repeat or hide a row."""

    pagination = CursorPagination("-seq")

    class FilterInput(PageInput):
        type = serializers.ChoiceField(choices=CreditTransaction.Type.choices, required=False)
        since = serializers.DateTimeField(required=False, help_text="Rows created at or after this time.")
        until = serializers.DateTimeField(required=False, help_text="Rows created before this time.")

    query_input = FilterInput

    @extend_schema(operation_id="v1_credit_transactions_list", parameters=[FilterInput], responses=TransactionPage)
    def get(self, request):
        query = self.context.query
        filters = {name: query[name] for name in ("type", "since", "until") if name in query}
        return Response(self.paginate(
            selectors.transaction_list(**filters), lambda rows: TransactionOutput(rows, many=True).data,
        ))


class TransactionDetailView(TenantAPIView):
    """One ledger row of this tenant."""

    @extend_schema(
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={200: TransactionOutput, 404: OpenApiResponse(description="not_found: no such transaction")},
    )
    def get(self, request, id):
        return Response(TransactionOutput(selectors.transaction_get(id=id)).data)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Send the same key to retry safely: the first response is replayed (with "
    "Idempotent-Replayed: true) and the call is charged once. Kept at least 24 h.",
)


class UsageView(TenantAPIView):
    """Charge a model call: input_tokens/1000 × input price + output_tokens/1000 × output price."""

    @extend_schema_serializer(component_name="UsageRequest")
    class InputSerializer(StrictInput):
        model = serializers.CharField(max_length=100, help_text="A model slug from GET models.")
        input_tokens = JsonInteger(min_value=0, max_value=MAX_TOKENS)
        output_tokens = JsonInteger(min_value=0, max_value=MAX_TOKENS)

    @extend_schema(
        operation_id="v1_usage_create",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={
            201: UsageOutput,
            402: OpenApiResponse(description="insufficient_credits: nothing was charged"),
            404: OpenApiResponse(description="not_found: no such model for this tenant"),
            422: OpenApiResponse(description="validation_error (per field), or idempotency_key_reused"),
        },
    )
    def post(self, request):
        key = idempotency.request_key(request)
        data = body_input(self.InputSerializer, request.data)
        tenant_id = self.tenant.tenant_id
        if key is None:
            return self._charge(data)
        return idempotency.idempotent(
            tenant_id=tenant_id, key=key,
            fingerprint=idempotency.fingerprint(method="POST", path=request.path_info, data=data),
            run=lambda: self._charge(data, keep_refusal=True),
        )

    def _charge(self, data, keep_refusal=False):
        try:
            row = services.usage_charge(
                tenant_id=self.tenant.tenant_id, model=data["model"],
                input_tokens=data["input_tokens"], output_tokens=data["output_tokens"],
                request_id=self.context.request_id,
            )
        except InsufficientCredits as exc:
            if not keep_refusal:
                raise
            # Stored for replay: rendered here so the transaction (the key's row) commits.
            return _rendered(problem_for(exc))
        body = {
            "transaction": _TRANSACTION.to_representation(row),
            "balance": _MONEY.to_representation(row.balance_after),
            "available": _MONEY.to_representation(row.balance_after - row.held_after),
        }
        return _rendered(Response(body, status=201))


_MONEY = serializers.DecimalField(max_digits=20, decimal_places=9)
# Bound once and reused: a new serializer per response deep-copies its fields, which costs
# more than rendering one row; rendering keeps no state on the instance.
_TRANSACTION = TransactionOutput()


def _rendered(response: Response) -> HttpResponse:
    """The response with its body rendered now (the bytes an idempotent replay repeats)."""
    content_type = response.content_type or "application/json"
    rendered = HttpResponse(
        JSONRenderer().render(response.data), status=response.status_code, content_type=content_type
    )
    for name, value in response.items():
        if name.lower() != "content-type":
            rendered[name] = value
    return rendered

"""Strict input serializers: an unknown field is a 400, not silently ignored (DESIGN.md §8)."""

from rest_framework import serializers
from rest_framework.fields import empty

from radiant.problems import UnprocessableInput


class StrictInput(serializers.Serializer):
    """A Serializer that rejects fields it does not declare (a typo must not pass unnoticed)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def query_input(serializer_class, request) -> dict:
    """Validate the query string with ``serializer_class``; 400 ``validation_error`` if bad.

    The tenant base class calls it once per request, for the view's ``query_input``. An
    empty query string against a serializer whose fields are all optional without defaults
    is ``{}`` without building the serializer (building one deep-copies its fields on every
    request).
    """
    if not request.META.get("QUERY_STRING") and _all_optional(serializer_class):
        return {}
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_body_validators: dict[type, serializers.Serializer] = {}


def body_input(serializer_class, data) -> dict:
    """Validate a request body with ``serializer_class``; 422 ``validation_error`` with the
    errors per field if it does not validate.

    One instance of each input serializer validates every request: building a serializer
    deep-copies its declared fields, which costs more than validating a small body. Its
    fields are bound once; validation keeps no state on the instance (``run_validation``
    returns the data or raises), so the instance is shared safely.
    """
    validator = _body_validators.get(serializer_class)
    if validator is None:
        validator = _body_validators[serializer_class] = serializer_class()
    try:
        return validator.run_validation(data)
    except serializers.ValidationError as exc:
        raise UnprocessableInput(exc.detail) from None


_optional: dict[type, bool] = {}
_BASE_VALIDATION = ("validate", "to_internal_value", "run_validation", "run_validators", "get_validators")


def _all_optional(serializer_class) -> bool:
    """Empty input certainly validates to ``{}``: every declared field is optional without a
    default, and no validation step is customised beyond StrictInput's unknown-field check."""
    if serializer_class not in _optional:
        _optional[serializer_class] = all(
            not field.required and field.default is empty
            for field in serializer_class._declared_fields.values()
        ) and all(
            getattr(serializer_class, name) is getattr(StrictInput, name) for name in _BASE_VALIDATION
        ) and not getattr(getattr(serializer_class, "Meta", None), "validators", None)
    return _optional[serializer_class]

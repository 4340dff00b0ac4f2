"""Strict input serializers: an unknown field is a 400, not silently ignored (DESIGN.md §8)."""

from rest_framework import serializers


class StrictInput(serializers.Serializer):
    """A Serializer that rejects fields it does not declare (a typo must not pass unnoticed)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def query_input(serializer_class, request) -> dict:
    """Validate the query string with ``serializer_class``; 400 ``validation_error`` if bad."""
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

"""What each declared config type accepts: one set of rules for the API, the admin and the ORM."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

from radiant.parsers import MAX_DEPTH, UnstorableJSON, check_json_value

MAX_VALUE_BYTES = 8 * 1024  # encoded JSON; the whole request body has its own, larger limit
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

STRING, INTEGER, NUMBER, BOOLEAN, JSON = "string", "integer", "number", "boolean", "json"
TYPES = (STRING, INTEGER, NUMBER, BOOLEAN, JSON)


class InvalidValue(ValueError):
    """The value does not fit its entry's declared type or constraints; the message says why."""


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def encode(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _check_type(value_type: str, value) -> None:
    if value is None:
        raise InvalidValue("A value is required; null is not allowed.")
    if value_type == STRING:
        ok = isinstance(value, str)
    elif value_type == INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValue("The integer is out of range (64-bit signed).")
    elif value_type == NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue("The number must be finite.")
    elif value_type == BOOLEAN:
        ok = isinstance(value, bool)
    elif value_type == JSON:
        ok = True
    else:
        raise InvalidValue(f"Unknown type {value_type!r}.")
    if not ok:
        wanted = {STRING: "a string", INTEGER: "an integer", NUMBER: "a number", BOOLEAN: "a boolean"}
        raise InvalidValue(f"Expected {wanted[value_type]}, got {_kind(value)}.")


def check(
    *, value_type: str, value, choices=None, min_value=None, max_value=None, max_length=None,
    json_schema=None,
) -> None:
    """Raise InvalidValue unless ``value`` fits the declared type and constraints."""
    try:
        size = len(encode(value).encode())
    except (TypeError, ValueError):
        raise InvalidValue("The value is not JSON.") from None
    if size > MAX_VALUE_BYTES:
        raise InvalidValue(f"The value is too large: {size} bytes as JSON, the limit is {MAX_VALUE_BYTES}.")
    _check_type(value_type, value)
    if value_type == STRING and max_length is not None and len(value) > max_length:
        raise InvalidValue(f"At most {max_length} characters (got {len(value)}).")
    if value_type in (INTEGER, NUMBER):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if min_value is not None and number < Decimal(min_value):
            raise InvalidValue(f"Must be at least {_plain(min_value)}.")
        if max_value is not None and number > Decimal(max_value):
            raise InvalidValue(f"Must be at most {_plain(max_value)}.")
    if choices and value not in choices:
        raise InvalidValue("Must be one of: " + ", ".join(encode(choice) for choice in choices) + ".")
    if value_type == JSON and json_schema:
        from jsonschema import validators

        error = next(iter(validators.validator_for(json_schema)(json_schema).iter_errors(value)), None)
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path)
            raise InvalidValue(f"Does not match the schema{' at ' + where if where else ''}: {error.message}")


def check_declaration(
    *, value_type: str, choices=None, min_value=None, max_value=None, max_length=None, json_schema=None,
) -> dict[str, str]:
    """Errors (field -> message) in an entry's declared constraints themselves."""
    errors = {}
    if (min_value is not None or max_value is not None) and value_type not in (INTEGER, NUMBER):
        errors["min_value"] = "Minimum and maximum apply to integer and number entries only."
    elif min_value is not None and max_value is not None and Decimal(min_value) > Decimal(max_value):
        errors["max_value"] = "The maximum must not be below the minimum."
    if max_length is not None and value_type != STRING:
        errors["max_length"] = "A maximum length applies to string entries only."
    if choices is not None:
        if value_type not in (STRING, INTEGER, NUMBER):
            errors["choices"] = "Choices apply to string, integer and number entries only."
        elif not isinstance(choices, list) or not choices:
            errors["choices"] = "Choices must be a non-empty JSON list, e.g. [\"light\", \"dark\"]."
        else:
            for choice in choices:
                try:
                    _check_type(value_type, choice)
                except InvalidValue as exc:
                    errors["choices"] = f"Choice {encode(choice)}: {exc}"
                    break
    if json_schema is not None:
        if value_type != JSON:
            errors["json_schema"] = "A JSON Schema applies to json entries only."
        elif not isinstance(json_schema, dict):
            errors["json_schema"] = "A JSON Schema is a JSON object."
        else:
            from jsonschema import exceptions, validators

            try:
                validators.validator_for(json_schema).check_schema(json_schema)
            except exceptions.SchemaError as exc:
                errors["json_schema"] = f"Not a valid JSON Schema: {exc.message}"
    return errors


def _plain(number) -> str:
    text = format(Decimal(number).normalize(), "f")
    return text


_INTEGER_TEXT = re.compile(r"\A[+-]?\d{1,20}\Z")
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def parse_text(value_type: str, text: str):
    """An operator's text in the admin -> a value of the type (strings need no quotes)."""
    if value_type == STRING:
        return text.replace("\r\n", "\n")
    stripped = text.strip()
    if value_type == INTEGER:
        if not _INTEGER_TEXT.match(stripped):
            raise InvalidValue(f"Expected an integer such as 42, got {stripped!r}.")
        return int(stripped)
    if value_type == NUMBER:
        try:
            number = json.loads(stripped)
        except ValueError:
            number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise InvalidValue(f"Expected a number such as 0.7, got {stripped!r}.")
        return number
    if value_type == BOOLEAN:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise InvalidValue(f"Expected true or false, got {stripped!r}.")
    try:
        value = json.loads(stripped, parse_constant=_reject_constant)
        check_json_value(value)
    except UnstorableJSON as exc:
        raise InvalidValue(str(exc)) from None
    except RecursionError:
        raise InvalidValue(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:
        raise InvalidValue(f"Not valid JSON: {exc}") from None
    return value


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def to_text(value_type: str, value) -> str:
    """The admin's text for a stored value (the inverse of parse_text)."""
    if value_type == STRING and isinstance(value, str):
        return value
    if value_type == BOOLEAN and isinstance(value, bool):
        return "true" if value else "false"
    if value_type == JSON:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return encode(value) if value is not None else ""

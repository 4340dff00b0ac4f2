"""The API's JSON body parser: what PostgreSQL or Python cannot hold is a 400, not a 500.

DRF's parser hands on anything ``json.loads`` accepts. Two kinds of that still failed later:
a NUL character (``\\u0000``), which no PostgreSQL text or jsonb value can store, and deep
nesting, which exhausts Python's recursion (the decoder at about 1,000 levels, and any code
that walks the value before that). Both are refused here, for every endpoint at once.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser

# No API body needs more; a value this deep is an attack or a bug.
MAX_DEPTH = 32


class UnstorableJSON(ValueError):
    """A JSON value we refuse to keep: a NUL character, or nesting deeper than MAX_DEPTH."""


def check_json_value(value) -> None:
    """Raise ``UnstorableJSON`` if ``value`` nests deeper than MAX_DEPTH or holds a NUL
    anywhere, in a key or a string. Iterative: the check itself cannot run out of stack."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise UnstorableJSON("JSON strings may not contain the NUL character (\\u0000).")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise UnstorableJSON(f"JSON nested deeper than {MAX_DEPTH} levels.")
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)


class JSONParser(DRFJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            check_json_value(data)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        except UnstorableJSON as exc:
            raise ParseError(str(exc)) from None
        return data

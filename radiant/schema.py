"""The OpenAPI schema's finishing pass (drf-spectacular ``POSTPROCESSING_HOOKS``).

The views document their own success responses and parameters; what every tenant endpoint
shares is added here, once, so the schema tells the whole truth about each operation: the
problem responses it can give (one ``Problem`` schema, ``application/problem+json``), the
headers (``X-Request-ID`` on every response, rate-limit headers, ``Retry-After``, and on
every GET ``ETag``, ``Cache-Control``, ``If-None-Match`` and ``304``: the tenant base class
answers every GET conditionally, cached or not, radiant/conditional.py), and operation ids in
one style, ``<resource>_<action>``.
"""

import json

PROBLEM = "application/problem+json"
REF = "#/components/schemas/"

# Serializer class names are internal; clients see these.
COMPONENT_NAMES = {
    "ApiKeyOutput": "ApiKey", "ApiKeyPage": "ApiKeyList", "ConfigEntryOutput": "ConfigEntry",
    "ConfigListOutput": "ConfigEntryList", "I18nBundleOutput": "I18nBundle", "LimitsOutput": "Limits",
    "ModelDetailOutput": "ModelDetail", "ModelListOutput": "ModelList", "ModelOutput": "Model",
    "Input": "ConfigValue", "Output": "Tenant", "BalanceOutput": "CreditBalance",
    "TransactionOutput": "CreditTransaction", "TransactionPage": "CreditTransactionList",
    "UsageOutput": "UsageCharge",
}

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details, with a stable `code`.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. not_found."},
        "request_id": {"type": "string", "description": "The response's X-Request-ID."},
        "errors": {
            "type": "object", "description": "validation_error only: messages per field (`_`: not about one field).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail", "code", "request_id"],
}

HEADERS = {
    "X-Request-ID": {
        "description": "The client's X-Request-ID when sane (1-128 of [A-Za-z0-9._-]), else a generated one.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
    "X-RateLimit-Limit": {"description": "The bucket's capacity (burst).", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the bucket.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Seconds until the bucket is full again.", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
    "ETag": {"description": "Strong validator of the body; send it back in If-None-Match.", "schema": {"type": "string"}},
    "Cache-Control": {"description": "private, max-age=..., stale-while-revalidate=...", "schema": {"type": "string"}},
}

PROBLEMS = {
    "400": "validation_error: a query parameter or the body is invalid (`errors` per field).",
    "401": "not_authenticated: a missing, malformed, unknown, revoked or expired API key.",
    "403": "tenant_suspended, or permission_denied for what this tenant may not do.",
    "404": "not_found: no such resource for this tenant.",
    "406": "not_acceptable: the API answers application/json only.",
    "413": "payload_too_large: the body is over the size limit.",
    "414": "uri_too_long: the URL (path and query) is over the length limit.",
    "415": "unsupported_media_type: the body must be application/json.",
    "429": "rate_limited or daily_quota_exceeded (Retry-After says when to retry).",
    "503": "service_unavailable: a dependency is down; retry later.",
}

ACTIONS = {"put": "set", "delete": "clear", "post": "create", "patch": "update"}


def _header(name, required=False):
    return {**HEADERS[name], "required": required}


def _operation_id(path, method, operation, schemas):
    """``<resource>_<action>``: the path's fixed segments (``credits_transactions``), and
    ``list`` for a GET that answers a paginated envelope, else ``get`` (or the write's verb)."""
    parts = [p for p in path.removeprefix("/api/v1/").split("/") if p]
    resource = "_".join(p for p in parts if not p.startswith("{")).replace("-", "_")
    if method != "get":
        return f"{resource}_{ACTIONS[method]}"
    ok = operation.get("responses", {}).get("200", {})
    body = next(iter(ok.get("content", {}).values()), {}).get("schema", {})
    body = schemas.get(body.get("$ref", "").removeprefix(REF), body)
    if not parts[-1].startswith("{") and "next" in body.get("properties", {}):
        return f"{resource}_list"
    return f"{resource}_get"


def postprocess(result, generator, request, public):
    text = json.dumps(result, default=str)  # lazy translations -> text
    for old, new in COMPONENT_NAMES.items():
        text = text.replace(f'"{REF}{old}"', f'"{REF}{new}"')
    result = json.loads(text)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for old, new in COMPONENT_NAMES.items():
        if old in schemas:
            schemas[new] = schemas.pop(old)
    schemas["Problem"] = PROBLEM_SCHEMA
    result["components"]["schemas"] = dict(sorted(schemas.items()))

    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            operation["operationId"] = _operation_id(path, method, operation, schemas)
            responses = operation.setdefault("responses", {})
            has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            has_path = "{" in path
            has_body = "requestBody" in operation
            codes = ["401", "403", "406", "414", "429", "503"]
            if has_query or has_body:
                codes.append("400")
            if has_path:
                codes.append("404")
            if has_body:
                codes += ["413", "415"]
            for code in sorted(codes):
                headers = {"X-Request-ID": _header("X-Request-ID", True)}
                if code in ("429", "503"):
                    headers["Retry-After"] = _header("Retry-After", code == "429")
                own = responses.get(code, {}).get("description")  # the view's own meaning of it, kept
                responses[code] = {
                    "description": PROBLEMS[code] + (f" Or {own}" if own else ""),
                    "headers": headers,
                    "content": {PROBLEM: {"schema": {"$ref": REF + "Problem"}}},
                }
            for code, response in responses.items():
                if code[0] in "45":  # a view's own error responses are problems too
                    response.setdefault("content", {PROBLEM: {"schema": {"$ref": REF + "Problem"}}})
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = _header("X-Request-ID", True)
                if code[0] in "23" or code in ("403", "429"):
                    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                        headers[name] = _header(name)
            if method == "get":  # every GET: radiant/conditional.py
                ok = responses["200"]
                ok["headers"]["ETag"] = _header("ETag", True)
                ok["headers"]["Cache-Control"] = _header("Cache-Control", True)
                responses["304"] = {
                    "description": "Not modified: If-None-Match matched the current ETag.",
                    "headers": {
                        "X-Request-ID": _header("X-Request-ID", True), "ETag": _header("ETag", True),
                        "Cache-Control": _header("Cache-Control", True),
                    },
                }
                operation.setdefault("parameters", []).append({
                    "name": "If-None-Match", "in": "header", "required": False,
                    "description": "An ETag from an earlier response: 304 if it is still current.",
                    "schema": {"type": "string"},
                })
            operation["responses"] = dict(sorted(responses.items()))
    return result

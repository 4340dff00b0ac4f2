"""Synthetic AWS events, shaped as API Gateway (REST API, Lambda proxy) and EventBridge send them."""

import base64
import uuid
from urllib.parse import parse_qsl, urlsplit

API_ID = "a1b2c3d4e5"
REGION = "us-east-1"
API_HOST = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


def rest_event(method, url, *, headers=None, body=None, source_ip="203.0.113.7", binary_support=True):
    """The event API Gateway sends for ``method url`` (``url`` as the client typed it).

    On the execute-api host the first path segment is the stage; API Gateway strips it from
    ``path`` and keeps it in ``requestContext``. With binary support on (media types */*),
    API Gateway hands every request body to Lambda base64-encoded.
    """
    parts = urlsplit(url)
    host = parts.hostname or API_HOST
    full_path = parts.path
    if host.endswith(".amazonaws.com"):
        stage, _, rest = full_path.lstrip("/").partition("/")
        path = "/" + rest
    else:
        stage, path = "production", full_path
    all_headers = {
        "Host": host,
        "Accept": "application/json",
        "User-Agent": "radiant-tests",
        # API Gateway appends the address it saw to whatever the client sent.
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    query = parse_qsl(parts.query, keep_blank_values=True)
    multi_query = {}
    for key, value in query:
        multi_query.setdefault(key, []).append(value)
    encoded = False
    if isinstance(body, str):
        body = body.encode()
    if body is not None and binary_support:
        body, encoded = base64.b64encode(body).decode(), True
    elif body is not None:
        body = body.decode()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {key: [value] for key, value in all_headers.items()},
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": full_path,
            "stage": stage,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": API_ID,
            "identity": {"sourceIp": source_ip, "userAgent": all_headers["User-Agent"]},
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def scheduled_event(rule_name):
    """What an EventBridge schedule rule delivers through Zappa's input template."""
    return {
        "time": "2026-01-01T03:30:00Z",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "region": REGION,
        "detail": {},
        "version": "0",
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{rule_name}"],
        "id": str(uuid.uuid4()),
        "kwargs": {},
    }


def response_body(response):
    """The bytes the client receives (API Gateway decodes base64 bodies for binary types)."""
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def response_cookies(response):
    """Set-Cookie values (Zappa lower-cases the header name so API Gateway keeps them all)."""
    cookies = {}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower() == "set-cookie":
            for value in values:
                key, _, rest = value.strip().partition("=")
                cookies[key] = rest.split(";", 1)[0]
    return cookies

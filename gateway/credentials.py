"""Provider API keys, resolved from the reference a ``Provider`` holds; never stored or logged.

``env:NAME`` reads the process environment (on Lambda: the function's environment, filled
from SSM at deploy time, docs/DEPLOY.md). ``aws-secretsmanager:SECRET-ID[#field]`` reads AWS
Secrets Manager with the function's own role (a JSON secret's ``field``, or the whole
string), and keeps the value in this process for ``SECRET_TTL`` seconds so a call does not
pay for a Secrets Manager round trip; a rotated key is picked up within that time.
"""

from __future__ import annotations

import json
import os
import threading
import time

SECRET_TTL = 300.0


class CredentialUnavailable(Exception):
    """The reference names nothing that can be read (the message says which, never a value)."""


_secrets: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()
_client = None


def _secrets_manager():
    global _client
    if _client is None:
        import boto3  # provided by the Lambda runtime; only loaded when a provider needs it

        _client = boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    return _client


def _from_secrets_manager(secret_id: str, field: str | None) -> str:
    cache_key = f"{secret_id}#{field or ''}"
    now = time.monotonic()
    with _lock:
        cached = _secrets.get(cache_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        secret = _secrets_manager().get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:
        raise CredentialUnavailable(f"secret {secret_id!r} could not be read ({type(exc).__name__})") from None
    if field:
        try:
            secret = json.loads(secret)[field]
        except (ValueError, KeyError, TypeError):
            raise CredentialUnavailable(f"secret {secret_id!r} has no JSON field {field!r}") from None
    if not isinstance(secret, str) or not secret:
        raise CredentialUnavailable(f"secret {secret_id!r} is empty or not a string")
    with _lock:
        _secrets[cache_key] = (now + SECRET_TTL, secret)
    return secret


def credential_value(reference: str) -> str | None:
    """The key ``reference`` points at; None for an empty reference (no key needed)."""
    if not reference:
        return None
    scheme, _, rest = reference.partition(":")
    if scheme == "env":
        value = os.environ.get(rest)
        if not value:
            raise CredentialUnavailable(f"environment variable {rest} is not set")
        return value
    if scheme == "aws-secretsmanager":
        secret_id, _, field = rest.partition("#")
        return _from_secrets_manager(secret_id, field or None)
    raise CredentialUnavailable(f"unknown credential scheme {scheme!r}")


def forget() -> None:
    """Drop the kept secrets (tests; a forced rotation)."""
    global _client
    with _lock:
        _secrets.clear()
    _client = None

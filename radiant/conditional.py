"""Conditional GETs: every GET answer carries ``ETag`` and ``Cache-Control`` and honours
``If-None-Match`` with 304 (DESIGN.md §6), cached or not, through ``respond`` alone.

A response body is JSON bytes (``render``), its ETag a strong validator over exactly those
bytes. The response cache (radiant/cache.py) stores both, so a cached GET pays for neither
again; any other GET renders its data and hashes it when it answers (radiant/api.py does
it for every ``Response`` a GET handler returns).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from rest_framework.renderers import JSONRenderer

from radiant import metrics

_renderer = JSONRenderer()


@dataclass(frozen=True)
class HttpPolicy:
    """What a GET's response tells clients (and their caches) about freshness. ``private``
    always: no shared cache may store a tenant's response (radiant/shared_caches.py)."""

    max_age: int
    stale_while_revalidate: int
    cache_control: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(
            self, "cache_control",
            f"private, max-age={self.max_age}, stale-while-revalidate={self.stale_while_revalidate}",
        )


# For a GET that names no policy of its own: revalidate on every use, and a client may show
# what it has for a few seconds while it does.
REVALIDATE = HttpPolicy(max_age=0, stale_while_revalidate=5)


@dataclass(frozen=True)
class Payload:
    """A rendered JSON body and its ETag."""

    body: bytes
    etag: str


def etag_of(body: bytes) -> str:
    return '"%s"' % hashlib.blake2b(body, digest_size=16).hexdigest()


def render(data: Any) -> Payload:
    """JSON bytes as the API renders them, and their ETag."""
    body = _renderer.render(data)
    return Payload(body=body, etag=etag_of(body))


def build(data: Any) -> Payload:
    """``render`` for a response built from the database (counted as a cache miss)."""
    metrics.cache_miss()
    return render(data)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, ``*`` matches any current representation."""
    tags = parse_etags(if_none_match)
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def respond(request, payload: Payload, policy: HttpPolicy, status: int = 200) -> HttpResponse:
    """``payload`` as a JSON response, or 304 when the client already has it."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if status == 200 and if_none_match and _matches(if_none_match, payload.etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(payload.body, content_type="application/json", status=status)
    headers = response.headers
    headers["ETag"] = payload.etag
    headers["Cache-Control"] = policy.cache_control
    headers["Vary"] = "Authorization"
    return response

"""Cursor pagination for every tenant list: one envelope, a bounded page, stable positions.

A list response is ``{"results": [...], "next": <absolute URL of the next page, or null>}``.
A client follows ``next`` until it is null; ``page_size`` (1..``MAX_PAGE_SIZE``, default
``DEFAULT_PAGE_SIZE``) bounds each page.

The cursor is *keyset* based: it holds the ordering values of the last row of the page,
and the next page is "rows strictly after that position" in the list's ordering, which ends
in a unique column (``("-created_at", "-id")``, ``("slug", "id")``, ...). Unlike an
offset, a position does not move when rows are inserted or deleted in front of it, so
while a client pages through a list that others are writing to, no row is returned twice
and no row that existed throughout is skipped.

Cursors are opaque to clients: signed (``django.core.signing``) with a salt naming the
list's ordering, so a tampered cursor, or one taken from another list, is a 400
``validation_error`` on ``cursor`` rather than a surprising page.

Use from a view on ``radiant.api.TenantAPIView``: declare ``pagination =
CursorPagination("-created_at", "-id")`` and return ``Response(self.paginate(queryset,
serialize))``. A list with filters declares its ``query_input`` as a subclass of
``PageInput``, so ``cursor`` and ``page_size`` are known fields there (``StrictInput``
refuses unknown ones) and appear in the schema; a list without filters is validated with
``PageInput`` itself.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils.http import urlencode
from rest_framework import serializers

from radiant.inputs import StrictInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 512
PARTS_KEPT = 4096  # remembered page keys per list (they carry client input: bounded)


class PageInput(StrictInput):
    """The query parameters every list accepts; a list's filter serializer subclasses it."""

    cursor = serializers.CharField(
        required=False, max_length=MAX_CURSOR_LENGTH,
        help_text="Opaque position from a previous page's `next`; omit for the first page.",
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE,
        help_text=f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
    )


@dataclass(frozen=True)
class PageRequest:
    """Which page a client asked for: rows after ``after`` (None: from the start), ``size`` of them."""

    after: tuple | None
    size: int
    cursor: str  # as the client sent it ("" for the first page)


@dataclass(frozen=True)
class Page:
    items: list
    next_after: tuple | None  # the position after which the next page starts, or None (last page)


def _encode(value):
    """Ordering values -> JSON-safe values the ORM accepts back as lookups (datetimes keep
    their microseconds: a coarser value would land between two rows)."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal, datetime.date)):
        return str(value)
    return value


class CursorPagination:
    """Keyset pagination over ``ordering`` (Django ``order_by`` names; the last must be unique)."""

    def __init__(self, *ordering: str, default_size: int = DEFAULT_PAGE_SIZE):
        if not ordering:
            raise ValueError("a paginated list needs an ordering that ends in a unique field")
        if not 1 <= default_size <= MAX_PAGE_SIZE:
            raise ValueError(f"default_size must be within 1..{MAX_PAGE_SIZE}")
        self.ordering = tuple(ordering)
        self.fields = tuple(name.lstrip("-") for name in ordering)
        self.descending = tuple(name.startswith("-") for name in ordering)
        self.default_size = default_size
        self._salt = "radiant.pagination:" + ",".join(self.ordering)
        self._parts: dict[tuple, str] = {}

    # --- cursors --------------------------------------------------------------------------

    def cursor_for(self, position: tuple) -> str:
        return signing.dumps([_encode(value) for value in position], salt=self._salt, compress=True)

    def _decode(self, cursor: str) -> tuple:
        try:
            values = signing.loads(cursor, salt=self._salt)
        except (signing.BadSignature, ValueError, TypeError):
            values = None
        if not isinstance(values, list) or len(values) != len(self.fields):
            raise serializers.ValidationError({"cursor": ["Invalid cursor: use the `next` link of a previous page."]})
        return tuple(values)

    def request_of(self, query: dict) -> PageRequest:
        """The page asked for by a validated ``PageInput`` (or subclass) query."""
        cursor = query.get("cursor") or ""
        return PageRequest(
            after=self._decode(cursor) if cursor else None,
            size=query.get("page_size") or self.default_size,
            cursor=cursor,
        )

    # --- reading --------------------------------------------------------------------------

    def _after(self, position: tuple) -> Q:
        """Rows strictly after ``position`` in this ordering: for (a, b) ascending,
        ``a > A OR (a = A AND b > B)``; descending fields compare the other way."""
        condition = Q(pk__in=[])
        for i, field in enumerate(self.fields):
            lookup = "lt" if self.descending[i] else "gt"
            step = Q(**{f"{field}__{lookup}": position[i]})
            for j in range(i):
                step &= Q(**{self.fields[j]: position[j]})
            condition |= step
        return condition

    def page(self, queryset: QuerySet, page_request: PageRequest) -> Page:
        """One page of ``queryset`` (its own ordering is replaced by this one)."""
        rows = queryset.order_by(*self.ordering)
        if page_request.after is not None:
            try:
                rows = rows.filter(self._after(page_request.after))
            except (ValueError, TypeError, DjangoValidationError) as exc:  # a value the field cannot hold
                raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from exc
        items = list(rows[: page_request.size + 1])
        more = len(items) > page_request.size
        items = items[: page_request.size]
        next_after = self.position_of(items[-1]) if more else None
        return Page(items=items, next_after=next_after)

    def position_of(self, row) -> tuple:
        return tuple(_attribute(row, field) for field in self.fields)

    # --- rendering ------------------------------------------------------------------------

    def next_url(self, request, page: Page) -> str | None:
        if page.next_after is None:
            return None
        params = [(name, value) for name, value in request.GET.items() if name != "cursor"]
        params.append(("cursor", self.cursor_for(page.next_after)))
        return request.build_absolute_uri(request.path) + "?" + urlencode(params)

    def envelope(self, request, page: Page, results: list) -> dict:
        return {"results": results, "next": self.next_url(request, page)}

    def cache_part(self, request, page_request: PageRequest) -> str:
        """What a cached page's key must add to the list's key: the page asked for and the
        base URL its ``next`` link is built on (a digest: the cursor is client input).

        A pure function of what the request says about its URL, so each process remembers
        it (bounded): nearly every request of a list asks for the same few pages."""
        meta = request.META
        memo_key = (
            meta.get("wsgi.url_scheme"), meta.get("HTTP_X_FORWARDED_PROTO"), meta.get("HTTP_HOST"),
            meta.get("SERVER_NAME"), meta.get("SERVER_PORT"), request.path, meta.get("QUERY_STRING", ""),
        )
        part = self._parts.get(memo_key)
        if part is None:
            if len(self._parts) >= PARTS_KEPT:
                self._parts.clear()
            part = self._parts[memo_key] = self._cache_part(request, page_request)
        return part

    def _cache_part(self, request, page_request: PageRequest) -> str:
        digest = hashlib.blake2b(digest_size=12)
        for part in (request.build_absolute_uri(request.path), page_request.cursor, str(page_request.size),
                     *sorted(f"{k}={v}" for k, v in request.GET.items() if k not in ("cursor", "page_size"))):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()


def _attribute(row, field: str):
    value = row
    for part in field.split("__"):
        value = getattr(value, part)
    return value


def paginate(request, pagination: CursorPagination, queryset: QuerySet, serialize: Callable[[list], Iterable[Any]],
             page_request: PageRequest) -> dict:
    """The list envelope for the page of ``queryset`` that ``page_request`` asks for;
    ``serialize`` turns the page's rows into the ``results`` list."""
    page = pagination.page(queryset, page_request)
    return pagination.envelope(request, page, list(serialize(page.items)))

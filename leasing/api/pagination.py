"""Keyset pagination with opaque cursors.

A cursor is the (timestamp, id) sort key of the last item served, plus the name of the
list it belongs to, as URL-safe base64 JSON. Filtering "after this key" instead of
counting an offset means items added or removed meanwhile never make a page skip or
repeat one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from leasing.services.errors import FieldProblem

DEFAULT_LIMIT = 100
MAX_LIMIT = 200
_DIGITS = re.compile(r"^[0-9]{1,4}$")

M = TypeVar("M", bound=Model)
SortId = int | str


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: tuple[datetime, SortId] | None


@dataclass(frozen=True)
class Keyset:
    """How one list is ordered: a timestamp field, then the primary key, both one way."""

    name: str
    time_field: str
    descending: bool
    id_type: type[int] | type[str]


def encode_cursor(keyset: Keyset, moment: datetime, pk: SortId) -> str:
    raw = json.dumps([keyset.name, moment.isoformat(), pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(keyset: Keyset, cursor: str) -> tuple[datetime, SortId] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, moment_text, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(moment_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    if (
        name != keyset.name
        or moment.tzinfo is None
        or isinstance(pk, bool)
        or not isinstance(pk, keyset.id_type)
    ):
        return None
    return moment, pk


def page_request(request: HttpRequest, keyset: Keyset) -> tuple[PageRequest, list[FieldProblem]]:
    """The page asked for, and every problem with `limit` and `cursor`."""
    problems = []
    limit = DEFAULT_LIMIT
    raw_limit = request.GET.get("limit")
    if raw_limit is not None:
        if _DIGITS.match(raw_limit) and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            problems.append(
                FieldProblem("limit", f"must be a whole number between 1 and {MAX_LIMIT}")
            )
    after = None
    raw_cursor = request.GET.get("cursor")
    if raw_cursor is not None:
        after = decode_cursor(keyset, raw_cursor)
        if after is None:
            problems.append(
                FieldProblem("cursor", "is not a cursor of this list; pass nextCursor back as is")
            )
    return PageRequest(limit=limit, after=after), problems


def paginate(
    queryset: QuerySet[M], keyset: Keyset, page: PageRequest
) -> tuple[list[M], str | None]:
    """One page of `queryset` in the keyset's order, and the cursor of the next page."""
    field = keyset.time_field
    if keyset.descending:
        ordering = [f"-{field}", "-pk"]
        after_op = "lt"
    else:
        ordering = [field, "pk"]
        after_op = "gt"
    if page.after is not None:
        moment, pk = page.after
        queryset = queryset.filter(
            Q(**{f"{field}__{after_op}": moment}) | Q(**{field: moment, f"pk__{after_op}": pk})
        )
    rows = list(queryset.order_by(*ordering)[: page.limit + 1])
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_cursor(keyset, getattr(last, field), last.pk)

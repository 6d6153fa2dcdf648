"""Query-string helpers the console's list pages share: sortable headers and paging links
that keep every other filter in the URL."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import QueryDict


def url_with(path: str, data: QueryDict, **changes: list[str]) -> str:
    """`path` with the current query, `changes` applied and the page reset."""
    query = data.copy()
    for key in ("page", "after", "before"):
        query.pop(key, None)
    for key, values in changes.items():
        if values:
            query.setlist(key, values)
        else:
            query.pop(key, None)
    encoded = query.urlencode()
    return f"{path}?{encoded}" if encoded else path


def page_url(path: str, data: QueryDict, page: int, *, after: str = "", before: str = "") -> str:
    """The list's page `page`; `after`/`before` carry the row it continues from, so the
    database seeks there instead of counting rows (leasing/paging.py)."""
    query = data.copy()
    query["page"] = str(page)
    for key, cursor in (("after", after), ("before", before)):
        query.pop(key, None)
        if cursor:
            query[key] = cursor
    return f"{path}?{query.urlencode()}"


@dataclass(frozen=True)
class SortHeader:
    label: str
    url: str
    # "ascending", "descending" or "none": the column header's aria-sort.
    aria_sort: str


def sort_headers(
    path: str,
    data: QueryDict,
    *,
    current: str,
    columns: list[tuple[str, str, bool]],
) -> dict[str, SortHeader]:
    """Clickable headers from (key, label, first_is_descending) columns.

    A column's first click sorts its natural way ("burn" highest first, "runway" shortest
    first); a second click reverses it ("-burn").
    """
    headers = {}
    for key, label, first_is_descending in columns:
        first = "descending" if first_is_descending else "ascending"
        second = "ascending" if first_is_descending else "descending"
        if current == key:
            target, state = f"-{key}", first
        elif current == f"-{key}":
            target, state = key, second
        else:
            target, state = key, "none"
        headers[key] = SortHeader(label, url_with(path, data, sort=[target]), state)
    return headers

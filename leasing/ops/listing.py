"""Query-string helpers the console's list pages share: sortable headers and paging links
that keep every other filter in the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class PageOfRows(Protocol):
    """What the Previous and Next links need of a page (selectors.Paged, QueuePage)."""

    @property
    def page(self) -> int: ...
    @property
    def has_previous(self) -> bool: ...
    @property
    def has_next(self) -> bool: ...
    @property
    def previous_cursor(self) -> str: ...
    @property
    def next_cursor(self) -> str: ...


def pager_urls(path: str, data: QueryDict, shown: PageOfRows | None) -> dict[str, str]:
    """previous_url and next_url (includes/pager.html) for the pages either side of
    `shown`, each continuing from the row at its edge."""
    urls = {}
    if shown is not None and shown.has_previous:
        urls["previous_url"] = page_url(path, data, shown.page - 1, before=shown.previous_cursor)
    if shown is not None and shown.has_next:
        urls["next_url"] = page_url(path, data, shown.page + 1, after=shown.next_cursor)
    return urls


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

"""Next and Previous links continue from a row (a cursor): the same pages as counting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from leasing import paging, selectors
from leasing.models import Lease, PoolAccount
from tests import factories

pytestmark = pytest.mark.django_db


def _query(text: str, **extra: str) -> QueryDict:
    data = QueryDict(text, mutable=True)
    for key, value in extra.items():
        data[key] = value
    return data


def _pk(row) -> str:
    """A queue row is a dict of values; other lists' rows are model instances."""
    return str(row["id"] if isinstance(row, dict) else row.pk)


def _walk(fetch, text: str) -> tuple[list[str], list[str]]:
    """Every row, by page numbers alone and by following the Next cursors."""
    by_number, by_cursor = [], []
    number, cursor = 1, ""
    while True:
        counted = fetch(_query(text), number)
        followed = fetch(_query(text, **({"after": cursor} if cursor else {})), number)
        by_number += [_pk(row) for row in counted.rows]
        by_cursor += [_pk(row) for row in followed.rows]
        if not counted.has_next:
            assert not followed.has_next
            return by_number, by_cursor
        number, cursor = number + 1, followed.next_cursor


@pytest.fixture
def queue_world(project, other_project):
    now = timezone.now()
    for i in range(23):
        factories.make_request(
            project if i % 3 else other_project,
            count=1 + i % 4,
            # Several requests share a time, so the id has to break ties.
            submitted_at=now - timedelta(hours=i // 3),
        )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sort=newest",
        "sort=count",
        "sort=partner",
        "status=requested&status=in_progress&status=assigned&status=partial&status=rejected",
    ],
)
def test_queue_pages_by_cursor_match_pages_by_number(ops_user, queue_world, monkeypatch, text):
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 5)

    def fetch(data, number):
        return selectors.queue_page(user=ops_user, data=data, page=number)

    by_number, by_cursor = _walk(fetch, text)
    assert len(by_number) == 23
    assert by_cursor == by_number


@pytest.mark.parametrize(
    "text", ["", "state=ready", "vertical=coffee", "sort=handle", "sort=newest"]
)
def test_pool_pages_by_cursor_match_pages_by_number(ops_user, monkeypatch, text):
    monkeypatch.setattr(selectors, "POOL_PAGE_SIZE", 4)
    for i in range(17):
        factories.make_account(
            f"walk_{i:02d}",
            followers=100 * (i % 5),  # ties on followers
            verticals=["coffee"] if i % 2 else ["tea"],
            state=PoolAccount.State.READY if i % 3 else PoolAccount.State.WARMING,
        )

    def fetch(data, number):
        page = selectors.pool_page(user=ops_user, data=data, page=number)
        assert page.paged is not None
        return page.paged

    by_number, by_cursor = _walk(fetch, text)
    assert by_cursor == by_number
    assert by_number


def test_previous_cursor_gives_the_page_before(ops_user, queue_world, monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 5)
    pages = [selectors.queue_page(user=ops_user, data=_query(""), page=n) for n in (1, 2, 3)]
    back = selectors.queue_page(
        user=ops_user, data=_query("", before=pages[2].previous_cursor), page=2
    )
    assert [r["id"] for r in back.rows] == [r["id"] for r in pages[1].rows]
    assert back.has_next


def test_a_cursor_that_is_not_ours_falls_back_to_the_page_number(
    ops_user, queue_world, monkeypatch
):
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 5)
    second = selectors.queue_page(user=ops_user, data=_query(""), page=2)
    for junk in ("%%%", "bm9wZQ", "WzEsMiwzLDRd"):
        tampered = selectors.queue_page(user=ops_user, data=_query("", after=junk), page=2)
        assert [r["id"] for r in tampered.rows] == [r["id"] for r in second.rows]


def test_next_links_carry_the_cursor(client, ops_user, queue_world, monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 5)
    client.force_login(ops_user)
    body = client.get("/?sort=newest").content.decode()
    assert "page=2&amp;after=" in body


def test_orderings_with_an_empty_column_are_not_sought(ops_user):
    warmed = selectors.pool_rows(PoolAccount.objects.all()).order_by("warmed_since", "id")
    assert paging.sort_keys(warmed) is None
    assert paging.sort_keys(PoolAccount.objects.order_by("-followers", "id")) is not None


def test_an_empty_column_is_sought_when_the_filter_excludes_empty_rows():
    renewing = Lease.objects.filter(status="assigned").order_by("next_renewal_at", "id")
    assert paging.sort_keys(renewing) is None
    assert paging.sort_keys(renewing.filter(next_renewal_at__isnull=False)) is not None
    # Excluding the empty rows of a joined table proves nothing about this one's column.
    assert paging.sort_keys(renewing.filter(account__warmed_since__isnull=False)) is None


def _rows_queries(captured) -> list[str]:
    return [q["sql"] for q in captured if "leasing_organization" in q["sql"]]


@pytest.mark.parametrize(
    ("sort", "direct"), [("oldest", True), ("newest", True), ("count", True), ("partner", False)]
)
def test_a_first_page_in_the_lists_own_order_is_read_directly(
    ops_user, queue_world, monkeypatch, sort, direct
):
    """Ordered by the request's own columns, page 1 and Next pages are one plain query
    (the keys-only inner query would only add work); ordered through a join (partner),
    the keys are found first, or every candidate row would be joined before sorting."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 5)
    first = selectors.queue_page(user=ops_user, data=_query(f"sort={sort}"), page=1)
    with CaptureQueriesContext(connection) as ctx:
        selectors.queue_page(
            user=ops_user, data=_query(f"sort={sort}", after=first.next_cursor), page=2
        )
    [rows_sql] = _rows_queries(ctx.captured_queries)
    assert (" IN (SELECT " not in rows_sql) is direct
    assert first.next_cursor


def test_a_typed_deep_page_still_finds_its_keys_first(ops_user, queue_world, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 5)
    with CaptureQueriesContext(connection) as ctx:
        page = selectors.queue_page(user=ops_user, data=_query(""), page=2)
    [rows_sql] = _rows_queries(ctx.captured_queries)
    assert " IN (SELECT " in rows_sql
    assert page.rows

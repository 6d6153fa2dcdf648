"""Paging through every list: stable order, ties by id, no skips or repeats."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from leasing.services.leases import lease_release
from tests import factories
from tests.api.conftest import OPS, assert_error, assert_ok, assign

SAME_SECOND = datetime(2026, 4, 20, 16, 12, 2, tzinfo=UTC)


def walk(api: Any, url: str, limit: int, **query: Any) -> tuple[list[str], int]:
    """Every page of a list; returns the ids in order and the number of pages."""
    seen, pages, cursor = [], 0, None
    while True:
        params = {"limit": limit, **query}
        if cursor:
            params["cursor"] = cursor
        data = assert_ok(api.get(url, **params))
        assert len(data["items"]) <= limit
        pages += 1
        key = "requestId" if "requestId" in (data["items"] or [{}])[0] else "socialAccountId"
        seen += [item[key] for item in data["items"]]
        cursor = data["nextCursor"]
        if cursor is None:
            return seen, pages
        assert pages < 50


@pytest.fixture
def requests_with_ties(project):
    """Eight requests, five of them submitted in the same second."""
    made = [factories.make_request(project, submitted_at=SAME_SECOND) for _ in range(5)]
    made += [
        factories.make_request(project, submitted_at=datetime(2026, 4, day, tzinfo=UTC))
        for day in (1, 25, 10)
    ]
    return made


def test_requests_page_newest_first_ties_by_id(api, project, requests_with_ties):
    expected = [
        r.request_key
        for r in sorted(requests_with_ties, key=lambda r: (r.submitted_at, r.pk), reverse=True)
    ]
    url = f"/v1/projects/{project.pk}/leased-accounts/requests"
    everything = [i["requestId"] for i in assert_ok(api.get(url))["items"]]
    assert everything == expected
    for limit in (1, 2, 3, 7, 8):
        seen, pages = walk(api, url, limit)
        assert seen == expected, limit
        assert pages == -(-len(expected) // limit)  # no empty trailing page


def test_a_full_last_page_still_ends_with_a_null_cursor(api, project, requests_with_ties):
    url = f"/v1/projects/{project.pk}/leased-accounts/requests"
    first = assert_ok(api.get(url, limit=4))
    second = assert_ok(api.get(url, limit=4, cursor=first["nextCursor"]))
    assert len(second["items"]) == 4
    assert second["nextCursor"] is None


def test_the_status_filter_pages_too(api, project, requests_with_ties):
    assign(requests_with_ties[0])
    assign(requests_with_ties[3])
    url = f"/v1/projects/{project.pk}/leased-accounts/requests"
    seen, _ = walk(api, url, 2, status="requested")
    assert len(seen) == 6
    assert len(set(seen)) == 6


@pytest.fixture
def leases_with_ties(project):
    """Seven leases: three assignments, the first of four accounts in one second."""
    with time_machine.travel(SAME_SECOND, tick=False):
        leases = assign(factories.make_request(project, count=4))
    leases += assign(factories.make_request(project, count=2))
    leases += assign(factories.make_request(project, count=1))
    return leases


@pytest.mark.parametrize("path", ["leased-accounts", "social-accounts"])
def test_leases_page_oldest_first_ties_by_id(api, project, leases_with_ties, path):
    expected = [lease.account_id for lease in leases_with_ties]
    url = f"/v1/projects/{project.pk}/{path}"
    for limit in (1, 2, 3, 6, 7, 200):
        seen, _ = walk(api, url, limit)
        assert seen == expected, limit


def test_changes_while_paging_never_skip_or_repeat(api, project, leases_with_ties):
    url = f"/v1/projects/{project.pk}/leased-accounts"
    first = assert_ok(api.get(url, limit=3))
    # Meanwhile an already-seen account is released and a new one assigned.
    lease_release(lease=leases_with_ties[0], actor=OPS)
    (new,) = assign(factories.make_request(project, count=1))
    rest, cursor = [], first["nextCursor"]
    while cursor:
        page = assert_ok(api.get(url, limit=3, cursor=cursor))
        rest += [item["socialAccountId"] for item in page["items"]]
        cursor = page["nextCursor"]
    seen = [item["socialAccountId"] for item in first["items"]] + rest
    assert seen == [lease.account_id for lease in leases_with_ties] + [new.account_id]


def test_disconnected_leases_page(api, project, leases_with_ties):
    for lease in leases_with_ties[:5]:
        lease_release(lease=lease, actor=OPS)
    seen, pages = walk(api, f"/v1/projects/{project.pk}/leased-accounts", 2, status="disconnected")
    assert seen == [lease.account_id for lease in leases_with_ties[:5]]
    assert pages == 3


def test_the_default_page_is_100(api, project):
    for _ in range(101):
        factories.make_request(project, submitted_at=SAME_SECOND)
    url = f"/v1/projects/{project.pk}/leased-accounts/requests"
    first = assert_ok(api.get(url))
    assert len(first["items"]) == 100
    assert first["nextCursor"]
    assert len(assert_ok(api.get(url, cursor=first["nextCursor"]))["items"]) == 1
    assert len(assert_ok(api.get(url, limit=200))["items"]) == 101


@pytest.mark.parametrize("limit", ["0", "201", "-1", "1.5", "ten", "", "+5", "00001000"])
@pytest.mark.parametrize("path", ["leased-accounts/requests", "leased-accounts", "social-accounts"])
def test_a_bad_limit_is_422(api, project, path, limit):
    assert_error(
        api.get(f"/v1/projects/{project.pk}/{path}", limit=limit),
        422,
        "VALIDATION",
        details={
            "fields": [{"field": "limit", "problem": "must be a whole number between 1 and 200"}]
        },
    )


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!",
        _b64(["requests", "2026-04-20T16:12:02+00:00"]),
        _b64(["requests", "yesterday", "lreq_x"]),
        _b64(["requests", "2026-04-20T16:12:02", "lreq_x"]),  # no time zone
        _b64(["requests", "2026-04-20T16:12:02+00:00", 5]),  # wrong id type
        _b64(["leased-accounts", "2026-04-20T16:12:02+00:00", 5]),  # another list's cursor
        _b64({"a": 1}),
    ],
)
def test_a_bad_cursor_is_422(api, project, cursor):
    assert_error(
        api.get(f"/v1/projects/{project.pk}/leased-accounts/requests", cursor=cursor),
        422,
        "VALIDATION",
        details={
            "fields": [
                {
                    "field": "cursor",
                    "problem": "is not a cursor of this list; pass nextCursor back as is",
                }
            ]
        },
    )


def test_filter_limit_and_cursor_problems_are_listed_together(api, project):
    error = assert_error(
        api.get(f"/v1/projects/{project.pk}/leased-accounts", status="x", limit="0", cursor="?"),
        422,
        "VALIDATION",
        has_details=True,
    )
    assert [f["field"] for f in error["details"]["fields"]] == ["status", "limit", "cursor"]

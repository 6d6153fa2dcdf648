"""A request keeps a copy of its latest note (LeaseRequest.latest_note and
latest_note_visibility) for the queue: every service that adds a note sets it in the same
transaction, a refused note or close leaves it alone, and migration 0011 fills it from the
notes already there. (The package's conftest also checks it against the notes after each
test, through tests/invariants.py.)"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from leasing.models import LeaseRequest, RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.errors import InvalidState, ValidationFailed
from leasing.services.requests import lease_request_close, request_note_add
from tests import factories
from tests.invariants import latest_note_problems, snapshot

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def latest_of(request: LeaseRequest) -> tuple[str, str]:
    request.refresh_from_db()
    return request.latest_note, request.latest_note_visibility


def first_by_time(request: LeaseRequest) -> tuple[str, str]:
    """The note the old queue subquery found: ORDER BY created_at DESC, id DESC."""
    note = RequestNote.objects.filter(request=request).order_by("-created_at", "-id").first()
    return (note.body, note.visibility) if note else ("", "")


def test_a_request_without_notes_has_no_latest_note(project):
    req = factories.make_request(project)
    assert latest_of(req) == ("", "")


@pytest.mark.parametrize("visibility", ["internal", "partner"])
def test_adding_a_note_makes_it_the_requests_latest_note(project, ops, visibility):
    req = factories.make_request(project)
    request_note_add(request=req, body="older", visibility="partner", actor=ops)

    request_note_add(request=req, body="  Waiting on warm-up \n", visibility=visibility, actor=ops)

    assert latest_of(req) == ("Waiting on warm-up", visibility)
    assert latest_of(req) == first_by_time(req)


def test_notes_added_in_the_same_instant_keep_the_last_one_as_latest(project, ops):
    # Equal created_at: the higher id sorts first, and it is the note added last.
    req = factories.make_request(project)
    with time_machine.travel(NOON, tick=False):
        for n in range(4):
            request_note_add(
                request=req, body=f"note {n}", visibility=("internal", "partner")[n % 2], actor=ops
            )
    assert latest_of(req) == ("note 3", "partner") == first_by_time(req)


def test_rejecting_makes_the_closing_partner_note_the_latest(project, ops):
    req = factories.make_request(project)
    request_note_add(request=req, body="looking for accounts", actor=ops)

    lease_request_close(request=req, outcome="rejected", note=" None in stock ", actor=ops)

    assert latest_of(req) == ("None in stock", "partner") == first_by_time(req)


def test_closing_as_partial_makes_the_closing_partner_note_the_latest(project, ops):
    req = factories.make_request(project, count=3)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    request_note_add(request=req, body="one of three so far", actor=ops)

    lease_request_close(request=req, outcome="partial", note="only one fits", actor=ops)

    assert latest_of(req) == ("only one fits", "partner") == first_by_time(req)


def test_a_note_after_closing_becomes_the_latest(project, ops):
    req = factories.make_request(project)
    lease_request_close(request=req, outcome="rejected", note="None in stock", actor=ops)

    request_note_add(request=req, body="partner called back", actor=ops)

    assert latest_of(req) == ("partner called back", "internal") == first_by_time(req)


@pytest.mark.parametrize(
    ("body", "visibility"),
    [
        ("", "internal"),
        ("   \n ", "partner"),
        ("x" * 2001, "internal"),
        ("fine", "public"),
    ],
)
def test_a_refused_note_leaves_the_latest_note_as_it_was(project, ops, body, visibility):
    req = factories.make_request(project)
    request_note_add(request=req, body="kept", visibility="partner", actor=ops)
    before = snapshot()

    with pytest.raises(ValidationFailed):
        request_note_add(request=req, body=body, visibility=visibility, actor=ops)

    assert snapshot() == before
    assert latest_of(req) == ("kept", "partner")


@pytest.mark.parametrize(
    ("outcome", "note", "error"),
    [
        ("rejected", "   ", ValidationFailed),
        ("rejected", "x" * 2001, ValidationFailed),
        ("cancelled", "fine", ValidationFailed),
        ("partial", "none assigned yet", InvalidState),  # refused under the row lock
    ],
)
def test_a_refused_close_leaves_the_latest_note_as_it_was(project, ops, outcome, note, error):
    req = factories.make_request(project)
    request_note_add(request=req, body="kept", actor=ops)
    before = snapshot()

    with pytest.raises(error):
        lease_request_close(request=req, outcome=outcome, note=note, actor=ops)

    assert snapshot() == before
    assert latest_of(req) == ("kept", "internal")


# ------------------------------------------------------------------ migration 0011


def test_migration_fills_each_request_with_its_latest_note(project, ops):
    migration = importlib.import_module("leasing.migrations.0011_lease_request_latest_note")
    by_time, tied, by_service, without = (factories.make_request(project) for _ in range(4))
    # Written straight to the table, as older data may be: the note with the later time
    # wins even with the lower id, and on equal times the higher id wins.
    RequestNote.objects.create(request=by_time, body="later", visibility="partner", created_at=NOON)
    RequestNote.objects.create(
        request=by_time, body="earlier", created_at=NOON - timedelta(minutes=1)
    )
    RequestNote.objects.create(request=tied, body="first", visibility="partner", created_at=NOON)
    RequestNote.objects.create(request=tied, body="second", created_at=NOON)
    request_note_add(request=by_service, body="one", actor=ops)
    request_note_add(request=by_service, body="two", visibility="partner", actor=ops)
    LeaseRequest.objects.update(latest_note="", latest_note_visibility="")

    with connection.cursor() as cursor:
        cursor.execute(migration.FILL_LATEST_NOTES)

    assert latest_of(by_time) == ("later", "partner")
    assert latest_of(tied) == ("second", "internal")
    assert latest_of(by_service) == ("two", "partner")
    assert latest_of(without) == ("", "")
    assert latest_note_problems() == []

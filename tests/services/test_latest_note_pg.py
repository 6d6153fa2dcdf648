"""The request's copy of its latest note under real parallel connections (PostgreSQL only):
notes added to one request at once, beside the other services that lock it, leave the
request holding the note that really sorts first by (created_at, id), and nothing fails
or deadlocks."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from leasing.models import LeaseRequest, RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.requests import lease_request_claim, lease_request_close, request_note_add
from tests import factories
from tests.invariants import assert_invariants
from tests.services.test_concurrency_pg import in_parallel, kinds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.for_system("tests")
WORKERS = 8


def truly_latest(request: LeaseRequest) -> tuple[str, str]:
    note = RequestNote.objects.filter(request=request).order_by("-created_at", "-id").first()
    assert note is not None
    return note.body, note.visibility


def kept(request: LeaseRequest) -> tuple[str, str]:
    request.refresh_from_db()
    return request.latest_note, request.latest_note_visibility


def note_calls(request: LeaseRequest, round_: int) -> list[Callable[[], Any]]:
    return [
        partial(
            request_note_add,
            request=request,
            body=f"round {round_} note {n}",
            visibility=("internal", "partner")[n % 2],
            actor=SYSTEM,
        )
        for n in range(WORKERS)
    ]


def test_notes_added_to_one_request_at_once_leave_the_truly_latest_on_it():
    request = factories.make_request(count=3)
    for round_ in range(5):
        results = in_parallel(note_calls(request, round_))
        assert kinds(results) == ["ok"] * WORKERS, results
        assert kept(request) == truly_latest(request)
        assert kept(request)[0].startswith(f"round {round_} ")
    assert RequestNote.objects.filter(request=request).count() == 5 * WORKERS
    assert_invariants()


def test_notes_added_while_the_request_is_claimed_and_assigned_at_once():
    ops = Actor.for_user(get_user_model().objects.create_user(username="ops"))
    request = factories.make_request(count=3)
    accounts = [factories.make_account() for _ in range(2)]
    calls = note_calls(request, 0)
    calls += [
        partial(lease_request_claim, request=request, actor=ops),
        partial(accounts_assign, request=request, account_ids=[a.pk for a in accounts], actor=ops),
    ]
    results = in_parallel(calls)
    assert kinds(results) == ["ok"] * len(calls), results
    assert kept(request) == truly_latest(request)
    assert LeaseRequest.objects.get(pk=request.pk).assigned_count == 2
    assert_invariants()


def test_notes_added_while_the_request_is_rejected_at_once():
    request = factories.make_request(count=3)
    calls = note_calls(request, 0)
    calls.append(
        partial(
            lease_request_close, request=request, outcome="rejected", note="closing", actor=SYSTEM
        )
    )
    results = in_parallel(calls)
    assert kinds(results) == ["ok"] * len(calls), results
    assert kept(request) == truly_latest(request)
    assert LeaseRequest.objects.get(pk=request.pk).status == "rejected"
    assert_invariants()

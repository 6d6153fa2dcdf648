from __future__ import annotations

import pytest

from leasing.models import RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from tests import factories
from tests.commands.conftest import db_state


@pytest.fixture
def half_done(project, ops_user):
    request_ = factories.make_request(project, count=4)
    account = factories.make_account()
    accounts_assign(request=request_, account_ids=[account.pk], actor=Actor.for_user(ops_user))
    return request_


def test_partial_closes_a_request_with_some_accounts(run, half_done):
    result = run(
        "close_request",
        half_done.pk,
        "--partial",
        "--note=Only one account fits; closing with it.",
        "--by=olive_ops",
    )

    half_done.refresh_from_db()
    assert half_done.status == "partial"
    assert half_done.closed_at is not None
    note = half_done.notes.get()
    assert (note.visibility, note.body) == ("partner", "Only one account fits; closing with it.")
    assert note.author.username == "olive_ops"
    assert "as partial: 1 of 4 account(s) assigned" in result.out


def test_reject_closes_a_request_with_none_by_partner_request_id(run, project, ops_user):
    request_ = factories.make_request(project, request_key="BRW-7")

    run("close_request", "BRW-7", "--reject", "--note=No Japanese accounts yet.", "--by=olive_ops")

    request_.refresh_from_db()
    assert request_.status == "rejected"
    assert request_.notes.get().visibility == RequestNote.Visibility.PARTNER


def test_partial_with_nothing_assigned_is_refused(fail, project, ops_user):
    request_ = factories.make_request(project)
    before = db_state()

    result = fail("close_request", request_.pk, "--partial", "--note=n", "--by=olive_ops")

    assert result.error == f"request {request_.pk} has no accounts assigned; reject it instead"
    assert db_state() == before


def test_reject_with_accounts_assigned_is_refused(fail, half_done):
    before = db_state()

    result = fail("close_request", half_done.pk, "--reject", "--note=n", "--by=olive_ops")

    assert "already has 1 account(s) assigned; close it as partial instead" in result.error
    assert db_state() == before


def test_closing_twice_is_refused(run, fail, half_done):
    run("close_request", half_done.pk, "--partial", "--note=Done.", "--by=olive_ops")
    before = db_state()

    result = fail("close_request", half_done.pk, "--partial", "--note=Again.", "--by=olive_ops")

    assert result.error == f"request {half_done.pk} is already partial"
    assert db_state() == before


def test_a_blank_note_is_refused(fail, half_done):
    before = db_state()

    result = fail("close_request", half_done.pk, "--partial", "--note=  ", "--by=olive_ops")

    assert result.error == "--note: a partner-visible note is required to close a request"
    assert db_state() == before


def test_support_cannot_close(fail, half_done, support_user):
    before = db_state()

    result = fail("close_request", half_done.pk, "--partial", "--note=x", "--by=sam_support")

    assert result.error == "--by: sam_support (support) is not allowed to close requests"
    assert db_state() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--note=x", "--by=olive_ops"], "one of the arguments --partial --reject is required"),
        (["--partial", "--reject", "--note=x", "--by=olive_ops"], "not allowed with argument"),
        (["--partial", "--by=olive_ops"], "the following arguments are required: --note"),
    ],
)
def test_bad_arguments_are_refused(fail, half_done, args, message):
    before = db_state()

    result = fail("close_request", half_done.pk, *args)

    assert message in result.error
    assert db_state() == before

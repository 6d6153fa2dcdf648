from __future__ import annotations

import pytest

from leasing.models import Lease, LedgerEntry
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from tests import factories
from tests.commands.conftest import db_state


@pytest.fixture
def request_(project):
    return factories.make_request(project, count=3, vertical="coffee", language="en")


def test_best_assigns_the_top_ranked_accounts_and_charges_for_them(run, ops_user, request_):
    big = factories.make_account("big_brew", followers=90_000)
    mid = factories.make_account("mid_brew", followers=5_000)
    factories.make_account("small_brew", followers=100)
    factories.make_account("french_brew", followers=1_000_000, language="fr")

    result = run("assign_accounts", request_.pk, "--best=2", "--by=olive_ops")

    leases = Lease.objects.filter(request=request_).order_by("id")
    assert [lease.account_id for lease in leases] == [big.pk, mid.pk]
    assert all(lease.assigned_by == ops_user for lease in leases)
    request_.refresh_from_db()
    assert (request_.status, request_.assigned_count) == ("in_progress", 2)
    request_.organization.refresh_from_db()
    assert request_.organization.balance_cents == 150_000 - 2 * 15_000
    assert LedgerEntry.objects.filter(kind="lease_charge").count() == 2
    assert "Assigned 2 account(s)" in result.out
    assert "2 of 3 assigned, request now in_progress." in result.out
    assert f"  {big.pk}  @big_brew  90,000 followers  en  US  renews " in result.out
    assert (
        "Charged $300.00 (2 x $150.00). Wallet balance of Brewline Coffee is now $1,200.00."
    ) in result.out


def test_accounts_assigns_the_named_accounts_by_partner_request_id(run, project, ops_user):
    request_ = factories.make_request(project, count=2, request_key="BRW-0042")
    first, second = factories.make_account(), factories.make_account()

    result = run(
        "assign_accounts", "BRW-0042", f"--accounts={second.pk}, {first.pk}", "--by=olive_ops"
    )

    request_.refresh_from_db()
    assert request_.status == "assigned"
    assert set(request_.leases.values_list("account_id", flat=True)) == {first.pk, second.pk}
    assert "request now assigned" in result.out


def test_a_partner_request_id_used_by_two_partners_is_ambiguous(
    fail, project, other_project, ops_user
):
    factories.make_request(project, request_key="launch-1")
    factories.make_request(other_project, request_key="launch-1")
    account = factories.make_account()
    before = db_state()

    result = fail("assign_accounts", "launch-1", f"--accounts={account.pk}", "--by=olive_ops")

    assert "requestId 'launch-1' is used by more than one partner (Brewline Coffee: lreq_" in (
        result.error
    )
    assert "give the lreq_ id instead" in result.error
    assert db_state() == before


def test_an_unknown_request_is_a_clear_error(fail, ops_user):
    result = fail(
        "assign_accounts", "lreq_01J00000000000000000000000", "--best=1", "--by=olive_ops"
    )

    assert result.error == (
        "no lease request 'lreq_01J00000000000000000000000' (give its lreq_ id or the "
        "partner's requestId)"
    )


def test_an_unknown_by_user_is_a_clear_error(fail, request_):
    factories.make_account()
    before = db_state()

    result = fail("assign_accounts", request_.pk, "--best=1", "--by=ghost")

    assert result.error == "--by: no staff user named 'ghost'"
    assert db_state() == before


def test_support_cannot_assign(fail, support_user, request_):
    factories.make_account()
    before = db_state()

    result = fail("assign_accounts", request_.pk, "--best=1", "--by=sam_support")

    assert result.error == "--by: sam_support (support) is not allowed to assign accounts"
    assert db_state() == before


def test_a_wallet_that_cannot_cover_every_account_refuses_the_whole_assignment(fail, ops_user):
    org = factories.make_org("Thin Wallet", balance_cents=20_000)
    request_ = factories.make_request(factories.make_project(org), count=2)
    accounts = [factories.make_account(), factories.make_account()]
    before = db_state()

    result = fail(
        "assign_accounts",
        request_.pk,
        f"--accounts={accounts[0].pk},{accounts[1].pk}",
        "--by=olive_ops",
    )

    assert result.error == (
        "Thin Wallet's wallet holds $200.00, which covers 1 of the 2 account(s) at $150.00 "
        "each. Nothing was assigned."
    )
    assert db_state() == before


def test_an_account_already_leased_refuses_the_whole_assignment(fail, ops_user, project, request_):
    taken = factories.make_account("taken")
    free = factories.make_account("free")
    other = factories.make_request(project, count=1)
    accounts_assign(request=other, account_ids=[taken.pk], actor=Actor.for_user(ops_user))
    before = db_state()

    result = fail(
        "assign_accounts", request_.pk, f"--accounts={free.pk},{taken.pk}", "--by=olive_ops"
    )

    assert f"{taken.pk} (@taken) is already taken by another lease" in result.error
    assert db_state() == before


def test_assigning_to_a_closed_request_is_refused(fail, ops_user, project):
    request_ = factories.make_request(project, count=1)
    account = factories.make_account()
    accounts_assign(request=request_, account_ids=[account.pk], actor=Actor.for_user(ops_user))
    factories.make_account()
    before = db_state()

    for option in ("--best=1", f"--accounts={factories.make_account().pk}"):
        result = fail("assign_accounts", request_.pk, option, "--by=olive_ops")
        assert result.error.startswith(f"request {request_.pk} is already assigned")
    assert db_state()["leases"] == before["leases"]
    assert db_state()["ledger"] == before["ledger"]


def test_best_more_than_the_request_needs_is_refused(fail, ops_user, request_):
    for _ in range(5):
        factories.make_account()
    before = db_state()

    result = fail("assign_accounts", request_.pk, "--best=4", "--by=olive_ops")

    assert result.error == f"--best 4: request {request_.pk} needs only 3 more account(s)"
    assert db_state() == before


def test_best_with_too_few_candidates_is_refused(fail, ops_user, request_):
    factories.make_account(verticals=["coffee"])
    factories.make_account(verticals=["fitness"])
    factories.make_account(verticals=["coffee"], state="warming")
    before = db_state()

    result = fail("assign_accounts", request_.pk, "--best=2", "--by=olive_ops")

    assert result.error == (
        "--best 2: only 1 ready account(s) tagged 'coffee' are available; nothing was assigned"
    )
    assert db_state() == before


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--accounts=sa_nope,acct_1", "--accounts: not pool account ids: sa_nope, acct_1"),
        ("--accounts=sa_01J00000000000000000000000", "--accounts: no such pool account: sa_01J"),
        ("--accounts=,", "--accounts: name at least one pool account id"),
        ("--best=0", "argument --best: must be 1 or more"),
        ("--best=two", "argument --best: 'two' is not a whole number"),
    ],
)
def test_bad_account_choices_are_refused(fail, ops_user, request_, option, message):
    before = db_state()

    result = fail("assign_accounts", request_.pk, option, "--by=olive_ops")

    assert message in result.error
    assert db_state() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by=olive_ops"], "one of the arguments --best --accounts is required"),
        (["--best=1", "--accounts=sa_x", "--by=olive_ops"], "not allowed with argument"),
        (["--best=1"], "the following arguments are required: --by"),
    ],
)
def test_bad_arguments_are_refused(fail, ops_user, request_, args, message):
    result = fail("assign_accounts", request_.pk, *args)

    assert message in result.error

"""Candidate ranking and assignment: who may be leased, what it costs, what it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine

from leasing.models import AuditEvent, Lease, LeaseRequest, LedgerEntry, PoolAccount
from leasing.services.allocation import accounts_assign, assignment_preview, candidates_rank
from leasing.services.billing import organization_set_price, wallet_adjust
from leasing.services.errors import (
    BillingExhausted,
    Conflict,
    InvalidState,
    ServiceError,
    ValidationFailed,
)
from leasing.services.leases import lease_release
from leasing.services.partners import organization_set_status
from leasing.services.pool import pool_account_retire
from leasing.services.requests import lease_request_close
from tests import factories
from tests.invariants import snapshot

# --- candidates ---------------------------------------------------------------------


def ranked(request, **options) -> list[str]:
    return [c.account.handle for c in candidates_rank(request=request, **options)]


def test_only_ready_accounts_tagged_with_the_vertical_are_candidates(project):
    req = factories.make_request(project, vertical="Coffee")
    factories.make_account("ready_coffee")
    factories.make_account("ready_tea_coffee", verticals=["tea", "coffee"])
    factories.make_account("ready_tea", verticals=["tea"])
    factories.make_account("warming_coffee", state=PoolAccount.State.WARMING)
    factories.make_account("retired_coffee", state=PoolAccount.State.RETIRED)
    factories.make_account("coffee_substring", verticals=["coffeehouse"])
    assert sorted(ranked(req)) == ["ready_coffee", "ready_tea_coffee"]


def test_vertical_matches_case_insensitively(project):
    factories.make_account("shouty", verticals=["COFFEE Beans"])
    req = factories.make_request(project, vertical="coffee BEANS")
    assert ranked(req) == ["shouty"]


def test_leased_accounts_are_not_candidates(project, ops):
    req = factories.make_request(project, count=2)
    taken = factories.make_account("taken")
    factories.make_account("free")
    accounts_assign(request=req, account_ids=[taken.pk], actor=ops)
    assert ranked(req) == ["free"]


def test_language_match_outranks_countries_and_followers(project):
    req = factories.make_request(project, language="en-GB", geo=["US", "GB"])
    factories.make_account("fr_big_both", language="fr", countries=["US", "GB"], followers=9000)
    factories.make_account("en_us_small_none", language="en-US", countries=["DE"], followers=10)
    assert ranked(req) == ["en_us_small_none", "fr_big_both"]


def test_more_countries_matched_outranks_followers(project):
    req = factories.make_request(project, language="en", geo=["US", "GB", "CA"])
    factories.make_account("one_big", countries=["US", "DE"], followers=9000)
    factories.make_account("two_small", countries=["GB", "CA", "FR"], followers=10)
    factories.make_account("none_huge", countries=["FR"], followers=90000)
    assert ranked(req) == ["two_small", "one_big", "none_huge"]


def test_more_followers_outranks_longer_warming(project):
    req = factories.make_request(project)
    factories.make_account("old_small", followers=100, warmed_since=date(2023, 1, 1))
    factories.make_account("new_big", followers=200, warmed_since=date(2025, 1, 1))
    assert ranked(req) == ["new_big", "old_small"]


def test_longest_warmed_breaks_a_follower_tie(project):
    req = factories.make_request(project)
    factories.make_account("recent", warmed_since=date(2025, 6, 1))
    factories.make_account("veteran", warmed_since=date(2024, 1, 1))
    assert ranked(req) == ["veteran", "recent"]


def test_id_breaks_a_complete_tie(project):
    req = factories.make_request(project)
    a = factories.make_account("zed", warmed_since=date(2024, 1, 1))
    b = factories.make_account("abe", warmed_since=date(2024, 1, 1))
    assert [c.account.pk for c in candidates_rank(request=req)] == sorted([a.pk, b.pk])


def test_candidates_explain_why_they_match(project):
    req = factories.make_request(project, language="en", geo=["US", "GB", "CA"])
    factories.make_account("match", language="en-US", countries=["US", "GB"])
    factories.make_account("other", language="de", countries=["CA"], verticals=["tea"])
    by_handle = {c.account.handle: c for c in candidates_rank(request=req, vertical="")}
    match, other = by_handle["match"], by_handle["other"]
    assert (match.vertical_match, match.language_match) == (True, True)
    assert (match.countries_matched, match.countries_requested) == (2, 3)
    assert (other.vertical_match, other.language_match) == (False, False)
    assert (other.countries_matched, other.countries_requested) == (1, 3)


def test_language_match_is_none_when_the_request_names_no_language(project):
    req = factories.make_request(project, language=None, geo=None)
    factories.make_account("any", language="fr")
    [candidate] = candidates_rank(request=req)
    assert candidate.language_match is None
    assert (candidate.countries_matched, candidate.countries_requested) == (0, 0)


def test_vertical_override_searches_another_vertical(project):
    req = factories.make_request(project, vertical="coffee")
    factories.make_account("coffee_one")
    factories.make_account("tea_one", verticals=["tea"])
    assert ranked(req, vertical="TEA") == ["tea_one"]
    assert sorted(ranked(req, vertical="")) == ["coffee_one", "tea_one"]


def test_same_language_only_drops_other_languages(project):
    req = factories.make_request(project, language="pt-BR")
    factories.make_account("pt", language="pt")
    factories.make_account("en", language="en")
    assert ranked(req) == ["pt", "en"]
    assert ranked(req, same_language_only=True) == ["pt"]


def test_country_filter_keeps_accounts_with_followers_there(project):
    req = factories.make_request(project)
    factories.make_account("us_only", countries=["US"])
    factories.make_account("br_too", countries=["US", "BR"])
    assert ranked(req, country="br") == ["br_too"]


def test_limit_caps_the_candidate_list(project):
    req = factories.make_request(project)
    for n in range(5):
        factories.make_account(f"many_{n}", followers=n)
    assert ranked(req, limit=2) == ["many_4", "many_3"]


# --- assign: the happy path ---------------------------------------------------------


def test_assign_charges_leases_and_moves_the_request_on(project, ops, ops_user):
    req = factories.make_request(project, count=3)
    a, b = factories.make_account("first"), factories.make_account("second")
    with time_machine.travel(datetime(2026, 4, 20, 16, 12, 2, 345, tzinfo=UTC), tick=False):
        leases = accounts_assign(request=req, account_ids=[b.pk, a.pk], actor=ops)
    at = datetime(2026, 4, 20, 16, 12, 2, tzinfo=UTC)

    assert [lease.account_id for lease in leases] == [b.pk, a.pk]
    for lease in leases:
        lease.refresh_from_db()
        assert lease.status == Lease.Status.ASSIGNED
        assert (lease.assigned_at, lease.next_renewal_at) == (
            at,
            datetime(2026, 5, 20, 16, 12, 2, tzinfo=UTC),
        )
        assert lease.monthly_price_cents == 15_000
        assert lease.periods_charged == 1
        assert (lease.project, lease.request, lease.assigned_by) == (project, req, ops_user)
        assert lease.organization_id == project.organization_id
        assert lease.account.state == PoolAccount.State.LEASED

    charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.LEASE_CHARGE).order_by("id")
    assert [(c.lease_id, c.period, c.amount_cents) for c in charges] == [
        (leases[0].pk, 0, -15_000),
        (leases[1].pk, 0, -15_000),
    ]
    assert [c.balance_after_cents for c in charges] == [135_000, 120_000]
    assert charges[0].actor_user == ops_user

    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.IN_PROGRESS
    assert req.assigned_count == 2
    assert req.first_assigned_at == at
    assert req.closed_at is None
    project.organization.refresh_from_db()
    assert project.organization.balance_cents == 120_000

    event = AuditEvent.objects.get(action="request.assign", object_id=req.pk)
    assert event.actor_user == ops_user
    assert event.organization_id == project.organization_id
    assert event.after is not None
    assert event.after["accounts"] == [b.pk, a.pk]
    assert event.after["charged_cents"] == 30_000


def test_reaching_the_count_closes_the_request_as_assigned(project, ops):
    req = factories.make_request(project, count=2)
    with time_machine.travel(datetime(2026, 1, 5, tzinfo=UTC), tick=False):
        accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    with time_machine.travel(datetime(2026, 1, 9, tzinfo=UTC), tick=False):
        accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.ASSIGNED
    assert req.assigned_count == 2
    assert req.first_assigned_at == datetime(2026, 1, 5, tzinfo=UTC)
    assert req.closed_at == datetime(2026, 1, 9, tzinfo=UTC)


def test_assign_updates_the_callers_request_instance(project, ops):
    req = factories.make_request(project, count=1)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    assert (req.status, req.assigned_count) == (LeaseRequest.Status.ASSIGNED, 1)


@pytest.mark.parametrize(
    ("assigned", "renews"),
    [
        (datetime(2026, 1, 31, 9, 30, tzinfo=UTC), datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2028, 1, 31, 9, 30, tzinfo=UTC), datetime(2028, 2, 29, 9, 30, tzinfo=UTC)),
        (datetime(2026, 3, 31, 0, 0, tzinfo=UTC), datetime(2026, 4, 30, 0, 0, tzinfo=UTC)),
        (datetime(2026, 12, 15, 23, 59, tzinfo=UTC), datetime(2027, 1, 15, 23, 59, tzinfo=UTC)),
    ],
)
def test_next_renewal_is_one_calendar_month_later_clamped(project, ops, assigned, renews):
    req = factories.make_request(project, count=1)
    with time_machine.travel(assigned, tick=False):
        [lease] = accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    lease.refresh_from_db()
    assert lease.next_renewal_at == renews


def test_assign_uses_the_price_at_assignment_time(project, ops, finance):
    organization_set_price(
        organization=project.organization, monthly_price_cents=9_900, actor=finance
    )
    req = factories.make_request(project, count=1)
    [lease] = accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    assert lease.monthly_price_cents == 9_900
    assert LedgerEntry.objects.get(lease=lease).amount_cents == -9_900


def test_account_released_by_another_partner_can_be_assigned_again(project, other_project, ops):
    account = factories.make_account()
    theirs = factories.make_request(other_project, count=1)
    [old] = accounts_assign(request=theirs, account_ids=[account.pk], actor=ops)
    lease_release(lease=old, actor=ops)
    mine = factories.make_request(project, count=1)
    [new] = accounts_assign(request=mine, account_ids=[account.pk], actor=ops)
    assert new.organization_id == project.organization_id
    assert Lease.objects.filter(account=account).count() == 2


def test_preview_says_what_an_assignment_would_cost(project):
    req = factories.make_request(project)
    with time_machine.travel(datetime(2026, 1, 31, 12, tzinfo=UTC), tick=False):
        preview = assignment_preview(request=req, count=3)
    assert preview.charge_cents == 45_000
    assert (preview.balance_before_cents, preview.balance_after_cents) == (150_000, 105_000)
    assert preview.renews_at == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert preview.covered is True
    assert preview.accounts_covered == 10
    assert assignment_preview(request=req, count=11).covered is False


# --- assign: refusals ---------------------------------------------------------------


def assert_refused(
    exc_type: type[ServiceError], match: str, **kwargs: Any
) -> pytest.ExceptionInfo[ServiceError]:
    before = snapshot()
    with pytest.raises(exc_type, match=match) as exc:
        accounts_assign(**kwargs)
    assert snapshot() == before
    return exc


def test_account_already_leased_refuses_the_whole_assignment(project, other_project, ops):
    taken = factories.make_account("taken")
    accounts_assign(
        request=factories.make_request(other_project, count=1), account_ids=[taken.pk], actor=ops
    )
    free = factories.make_account("free")
    req = factories.make_request(project)
    exc = assert_refused(
        Conflict,
        "already taken",
        request=req,
        account_ids=[free.pk, taken.pk],
        actor=ops,
    )
    assert exc.value.details == {"accounts": [taken.pk]}
    assert "@taken" in exc.value.message


@pytest.mark.parametrize("state", [PoolAccount.State.WARMING, PoolAccount.State.RETIRED])
def test_account_that_is_not_ready_refuses_the_whole_assignment(project, ops, state):
    bad = factories.make_account("not_ready", state=state)
    good = factories.make_account("good")
    req = factories.make_request(project)
    assert_refused(
        Conflict, f"is {state}, not ready", request=req, account_ids=[good.pk, bad.pk], actor=ops
    )


def test_unknown_account_ids_are_refused(project, ops):
    good = factories.make_account()
    req = factories.make_request(project)
    assert_refused(
        ValidationFailed,
        "no such pool account: sa_nope",
        request=req,
        account_ids=[good.pk, "sa_nope"],
        actor=ops,
    )


def test_an_account_listed_twice_is_refused(project, ops):
    good = factories.make_account()
    req = factories.make_request(project)
    assert_refused(
        ValidationFailed, "listed twice", request=req, account_ids=[good.pk, good.pk], actor=ops
    )


def test_no_accounts_is_refused(project, ops):
    req = factories.make_request(project)
    assert_refused(ValidationFailed, "at least one", request=req, account_ids=[], actor=ops)


def test_more_accounts_than_remaining_is_refused(project, ops):
    req = factories.make_request(project, count=3)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    three = [factories.make_account().pk for _ in range(3)]
    assert_refused(
        ValidationFailed, "needs 2 more account", request=req, account_ids=three, actor=ops
    )


@pytest.mark.parametrize("outcome", ["assigned", "partial", "rejected"])
def test_closed_request_takes_no_more_accounts(project, ops, outcome):
    req = factories.make_request(project, count=2)
    if outcome == "assigned":
        ids = [factories.make_account().pk, factories.make_account().pk]
        accounts_assign(request=req, account_ids=ids, actor=ops)
    elif outcome == "partial":
        accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
        lease_request_close(request=req, outcome="partial", note="n", actor=ops)
    else:
        lease_request_close(request=req, outcome="rejected", note="n", actor=ops)
    assert_refused(
        InvalidState,
        f"already {outcome}",
        request=req,
        account_ids=[factories.make_account().pk],
        actor=ops,
    )


def test_wallet_that_cannot_cover_every_account_refuses_all(project, ops, system):
    org = project.organization
    wallet_adjust(organization=org, amount_cents=-110_000, memo="leave $400", actor=system)
    req = factories.make_request(project, count=5)
    five = [factories.make_account().pk for _ in range(5)]
    exc = assert_refused(
        BillingExhausted, "covers 2 of the 5", request=req, account_ids=five, actor=ops
    )
    assert exc.value.details == {"covers": 2, "balanceCents": 40_000}
    assert "$400.00" in exc.value.message


def test_wallet_covering_exactly_the_charge_is_enough(project, ops, system):
    org = project.organization
    wallet_adjust(organization=org, amount_cents=-120_000, memo="leave $300", actor=system)
    req = factories.make_request(project, count=2)
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk for _ in range(2)], actor=ops
    )
    org.refresh_from_db()
    assert org.balance_cents == 0


def test_suspended_partner_gets_no_new_leases(project, ops, system):
    req = factories.make_request(project)
    organization_set_status(organization=project.organization, status="suspended", actor=system)
    assert_refused(
        InvalidState,
        "suspended",
        request=req,
        account_ids=[factories.make_account().pk],
        actor=ops,
    )


def test_retired_account_cannot_be_assigned_even_if_listed_first(project, ops, system):
    acct = factories.make_account()
    pool_account_retire(account=acct, reason="banned", actor=system)
    req = factories.make_request(project)
    assert_refused(Conflict, "retired", request=req, account_ids=[acct.pk], actor=ops)

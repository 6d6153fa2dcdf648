"""The ReadySupply, RenewalDayTotals and OpenRequestTotals rollups follow every service that
changes what they count (the package's conftest also checks them against the base rows
after each test, through tests/invariants.py)."""

from __future__ import annotations

import importlib
import io
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection

from leasing.ids import id_shard
from leasing.models import (
    Lease,
    LeaseRequest,
    OpenRequestTotals,
    ReadySupply,
    RenewalDayTotals,
)
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run, wallet_adjust
from leasing.services.errors import ServiceError
from leasing.services.leases import lease_release
from leasing.services.partners import organization_set_status
from leasing.services.pool import (
    pool_account_mark_ready,
    pool_account_mark_warming,
    pool_account_retire,
    pool_import_csv,
)
from leasing.services.requests import (
    lease_request_claim,
    lease_request_close,
    lease_request_unclaim,
)
from leasing.services.totals import (
    open_request_shard,
    open_request_totals_counted,
    open_request_totals_rebuild,
    ready_supply_rebuild,
    renewal_days_rebuild,
)
from tests import factories
from tests.invariants import (
    open_request_totals,
    ready_supply,
    ready_supply_recounted,
    renewal_days,
    renewal_days_recounted,
)

JAN_31 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


def supply() -> dict[tuple[str, str], int]:
    return ready_supply()


def days_of(org) -> dict[date, tuple[int, int]]:
    return {day: figures for (org_id, day), figures in renewal_days().items() if org_id == org.pk}


def lease_at(project, actor, at: datetime, *, n: int = 1, **account) -> list[Lease]:
    req = factories.make_request(project, count=n)
    accounts = [factories.make_account(**account).pk for _ in range(n)]
    with time_machine.travel(at, tick=False):
        return accounts_assign(request=req, account_ids=accounts, actor=actor)


# ------------------------------------------------------------------ ready supply


def test_a_ready_account_counts_once_per_vertical_under_its_primary_language():
    factories.make_account(verticals=["coffee", "tea"], language="pt-BR")
    factories.make_account(verticals=["coffee"], language="pt")
    factories.make_account(verticals=["coffee"], language="")
    assert supply() == {("coffee", "pt"): 2, ("tea", "pt"): 1, ("coffee", ""): 1}


def test_warming_and_retired_accounts_are_not_supply():
    factories.make_account(state="warming")
    factories.make_account(state="retired")
    assert supply() == {}


def test_marking_ready_adds_and_back_to_warming_removes_the_row(ops):
    account = factories.make_account(state="warming", verticals=["coffee"], language="en")
    pool_account_mark_ready(account=account, actor=ops)
    assert supply() == {("coffee", "en"): 1}
    pool_account_mark_warming(account=account, actor=ops)
    assert supply() == {}
    assert not ReadySupply.objects.exists()  # a row at zero is deleted, not kept


def test_import_counts_only_its_ready_rows(ops):
    text = (
        "handle,platform,followers,verticals,language,geo,state\n"
        "one,tiktok,10,coffee;tea,en-US,US,ready\n"
        "two,tiktok,10,coffee,en,US,ready\n"
        "three,tiktok,10,coffee,en,US,warming\n"
        "four,tiktok,10,coffee,de,DE,retired\n"
    )
    report = pool_import_csv(stream=io.StringIO(text), actor=ops)
    assert report.created == 4
    assert supply() == {("coffee", "en"): 2, ("tea", "en"): 1}


def test_a_refused_import_counts_nothing(ops):
    text = (
        "handle,platform,followers,verticals,language,geo,state\none,tiktok,x,coffee,en,US,ready\n"
    )
    assert not pool_import_csv(stream=io.StringIO(text), actor=ops).ok
    assert supply() == {}


def test_retiring_a_ready_account_takes_it_out(ops):
    account = factories.make_account(verticals=["coffee"], language="en")
    factories.make_account(verticals=["coffee"], language="en")
    pool_account_retire(account=account, reason="banned", actor=ops)
    assert supply() == {("coffee", "en"): 1}


def test_assignment_takes_the_accounts_out_and_release_puts_them_back(project, ops):
    factories.make_account(verticals=["coffee"], language="en")  # stays ready throughout
    leases = lease_at(project, ops, JAN_31, n=2, verticals=["coffee", "tea"], language="en")
    assert supply() == {("coffee", "en"): 1}
    lease_release(lease=leases[0], actor=ops)
    assert supply() == {("coffee", "en"): 2, ("tea", "en"): 1}


def test_retiring_a_leased_account_ends_the_lease_and_counts_it_nowhere(project, ops):
    [lease] = lease_at(project, ops, JAN_31, verticals=["coffee"])
    pool_account_retire(account=lease.account, reason="lost", actor=ops)
    assert supply() == {}
    assert days_of(project.organization) == {}


# ------------------------------------------------------------------ renewal days


def test_assignment_counts_its_leases_on_their_renewal_day(project, ops):
    lease_at(project, ops, JAN_31, n=3)
    # Renews on the last day of February (the anchor is the 31st), 3 x $150.
    assert days_of(project.organization) == {date(2026, 2, 28): (3, 45_000)}


def test_renewal_day_is_the_utc_day_of_the_renewal(project, ops):
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    lease_at(project, ops, late)
    assert days_of(project.organization) == {date(2026, 4, 10): (1, 15_000)}


def test_release_removes_the_lease_from_its_day(project, ops):
    leases = lease_at(project, ops, JAN_31, n=2)
    lease_release(lease=leases[0], actor=ops)
    assert days_of(project.organization) == {date(2026, 2, 28): (1, 15_000)}
    lease_release(lease=leases[1], actor=ops)
    assert days_of(project.organization) == {}
    assert not RenewalDayTotals.objects.exists()


def test_renewal_moves_the_lease_to_its_next_day(project, ops):
    lease_at(project, ops, JAN_31, n=2)
    renewals_run(now=datetime(2026, 2, 28, 12, 0, tzinfo=UTC))
    assert days_of(project.organization) == {date(2026, 3, 31): (2, 30_000)}


def test_catch_up_renewal_moves_the_lease_past_every_period_it_paid(project, ops):
    lease_at(project, ops, JAN_31)
    renewals_run(now=datetime(2026, 5, 1, tzinfo=UTC))  # Feb 28, Mar 31 and Apr 30 due
    assert days_of(project.organization) == {date(2026, 5, 31): (1, 15_000)}


def test_disconnect_by_billing_part_way_through_a_catch_up_counts_nothing(project, ops, system):
    lease_at(project, ops, JAN_31)
    # $1,350 left: wallet down to $150, one period covered, the next one is not.
    wallet_adjust(organization=project.organization, amount_cents=-120_000, memo="x", actor=system)
    report = renewals_run(now=datetime(2026, 4, 1, tzinfo=UTC))
    assert len(report.charged) == 1
    assert len(report.disconnected) == 1
    assert days_of(project.organization) == {}
    assert supply() == {("coffee", "en"): 1}  # the account is back in the pool


def test_each_partner_has_its_own_rows_for_the_same_day(project, other_project, ops):
    lease_at(project, ops, JAN_31, n=2)
    lease_at(other_project, ops, JAN_31)
    assert days_of(project.organization) == {date(2026, 2, 28): (2, 30_000)}
    assert days_of(other_project.organization) == {date(2026, 2, 28): (1, 15_000)}


# ------------------------------------------------------------------ open requests


def open_counts() -> dict[str, int]:
    """The open-request rollup summed per status, as the queue's tabs read it."""
    counted: Counter[str] = Counter()
    for (status, _shard), n in open_request_totals().items():
        counted[status] += n
    return dict(counted)


def test_request_ids_spread_evenly_over_the_shards():
    # The last character of an id is one of the 32 Crockford digits: two per shard.
    digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    shards = Counter(open_request_shard(f"lreq_01KA0000000000000000000{d}") for d in digits)
    assert shards == dict.fromkeys(range(16), 2)
    assert id_shard("lreq_01KA00000000000000000000Z", 16) == 15
    assert id_shard("lreq_01KA00000000000000000000Z", 32) == 31


def test_a_new_request_counts_as_requested_on_the_shard_of_its_id(project):
    first = factories.make_request(project)
    assert open_request_totals() == {("requested", open_request_shard(first.pk)): 1}
    factories.make_request(project)
    factories.make_request(project)
    assert open_counts() == {"requested": 3}


def test_claiming_moves_a_request_from_requested_to_in_progress(project, ops):
    claimed = factories.make_request(project)
    factories.make_request(project)
    lease_request_claim(request=claimed, actor=ops)
    assert open_counts() == {"requested": 1, "in_progress": 1}
    assert open_request_totals()[("in_progress", open_request_shard(claimed.pk))] == 1


def test_claiming_again_or_taking_over_moves_nothing(project, ops, other_ops):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=ops)
    lease_request_claim(request=req, actor=ops)
    lease_request_claim(request=req, actor=other_ops, take_over=True)
    assert open_counts() == {"in_progress": 1}


def test_unclaiming_puts_the_request_back_in_requested(project, ops):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=ops)
    lease_request_unclaim(request=req, actor=ops)
    assert open_counts() == {"requested": 1}
    assert not OpenRequestTotals.objects.filter(status="in_progress").exists()  # zero: deleted


def test_unclaiming_after_some_accounts_were_assigned_keeps_it_in_progress(project, ops):
    req = factories.make_request(project, count=3)
    lease_request_claim(request=req, actor=ops)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    lease_request_unclaim(request=req, actor=ops)
    assert open_counts() == {"in_progress": 1}


def test_a_partial_assignment_moves_an_unclaimed_request_to_in_progress(project, ops):
    req = factories.make_request(project, count=3)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    assert open_counts() == {"in_progress": 1}


def test_filling_a_request_takes_it_out_of_the_open_counts(project, ops):
    filled = factories.make_request(project, count=2)
    factories.make_request(project)
    lease_request_claim(request=filled, actor=ops)
    accounts = [factories.make_account().pk for _ in range(2)]
    accounts_assign(request=filled, account_ids=accounts, actor=ops)
    assert LeaseRequest.objects.get(pk=filled.pk).status == "assigned"
    assert open_counts() == {"requested": 1}


@pytest.mark.parametrize(("assigned", "outcome"), [(1, "partial"), (0, "rejected")])
def test_closing_takes_the_request_out_of_the_open_counts(project, ops, assigned, outcome):
    req = factories.make_request(project, count=3)
    factories.make_request(project)
    if assigned:
        accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    lease_request_close(request=req, outcome=outcome, note="that is all", actor=ops)
    assert open_counts() == {"requested": 1}


@pytest.fixture
def queue(project, ops) -> dict[str, LeaseRequest]:
    """One request in each kind of state a refused change can meet."""
    claimed = factories.make_request(project, count=3)
    lease_request_claim(request=claimed, actor=ops)
    started = factories.make_request(project, count=3)
    accounts_assign(request=started, account_ids=[factories.make_account().pk], actor=ops)
    rejected = factories.make_request(project)
    lease_request_close(request=rejected, outcome="rejected", note="no", actor=ops)
    return {
        "requested": factories.make_request(project, request_key="taken"),
        "claimed": claimed,
        "started": started,
        "rejected": rejected,
    }


REFUSALS: dict[str, Callable[[dict[str, LeaseRequest], Actor, Actor], object]] = {
    "claim a closed request": lambda q, ops, other: lease_request_claim(
        request=q["rejected"], actor=ops
    ),
    "claim someone else's": lambda q, ops, other: lease_request_claim(
        request=q["claimed"], actor=other
    ),
    "unclaim a closed request": lambda q, ops, other: lease_request_unclaim(
        request=q["rejected"], actor=ops
    ),
    "close as partial with none assigned": lambda q, ops, other: lease_request_close(
        request=q["requested"], outcome="partial", note="x", actor=ops
    ),
    "reject with some assigned": lambda q, ops, other: lease_request_close(
        request=q["started"], outcome="rejected", note="x", actor=ops
    ),
    "close a closed request": lambda q, ops, other: lease_request_close(
        request=q["rejected"], outcome="rejected", note="x", actor=ops
    ),
    "assign an account that is not ready": lambda q, ops, other: accounts_assign(
        request=q["requested"],
        account_ids=[factories.make_account(state="warming").pk],
        actor=ops,
    ),
    "assign to a closed request": lambda q, ops, other: accounts_assign(
        request=q["rejected"], account_ids=[factories.make_account().pk], actor=ops
    ),
    "create with a requestId already used": lambda q, ops, other: factories.make_request(
        q["requested"].project, request_key="taken"
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_change_leaves_the_open_counts_alone(queue, ops, other_ops, refusal):
    before = open_request_totals()
    assert open_counts() == {"requested": 1, "in_progress": 2}
    with pytest.raises(ServiceError):
        REFUSALS[refusal](queue, ops, other_ops)
    assert open_request_totals() == before


def test_a_suspended_partner_cannot_add_to_the_open_counts(project, system):
    organization_set_status(organization=project.organization, status="suspended", actor=system)
    with pytest.raises(ServiceError, match="suspended"):
        factories.make_request(project)
    assert open_request_totals() == {}


# ------------------------------------------------------------------ rebuild and migration


@pytest.fixture
def some_of_everything(project, other_project, ops):
    lease_at(project, ops, JAN_31, n=2, verticals=["coffee", "tea"], language="de")
    lease_at(other_project, ops, datetime(2026, 2, 3, tzinfo=UTC))
    factories.make_account(verticals=["coffee", "tea"], language="de")
    factories.make_account(verticals=["fitness"], language="")
    factories.make_account(state="warming")


def test_rebuild_recounts_both_rollups_from_scratch(some_of_everything):
    kept = (ready_supply(), renewal_days())
    ReadySupply.objects.update(accounts=99)
    RenewalDayTotals.objects.filter(pk=RenewalDayTotals.objects.earliest("day").pk).delete()
    RenewalDayTotals.objects.update(leases=7, cents=1)
    ready_supply_rebuild()
    renewal_days_rebuild()
    assert (ready_supply(), renewal_days()) == kept
    assert kept == (ready_supply_recounted(), renewal_days_recounted())
    assert len(kept[0]) == 3  # coffee/de, tea/de, fitness/no language
    assert len(kept[1]) == 2  # one renewal day for each partner


def test_migration_fills_both_rollups_from_the_rows_there_already(some_of_everything):
    from django.apps import apps

    kept = (ready_supply(), renewal_days())
    ReadySupply.objects.all().delete()
    RenewalDayTotals.objects.all().delete()
    migration = importlib.import_module("leasing.migrations.0008_supply_and_renewal_rollups")
    migration.fill_rollups(apps, SimpleNamespace(connection=connection))
    assert (ready_supply(), renewal_days()) == kept
    assert len(kept[0]) == 3  # coffee/de, tea/de, fitness/no language
    assert len(kept[1]) == 2  # one renewal day for each partner


@pytest.fixture
def open_requests_of_every_kind(project, other_project, ops):
    for _ in range(5):
        factories.make_request(project)
    for _ in range(3):
        lease_request_claim(request=factories.make_request(other_project), actor=ops)
    started = factories.make_request(project, count=2)
    accounts_assign(request=started, account_ids=[factories.make_account().pk], actor=ops)
    rejected = factories.make_request(other_project)
    lease_request_close(request=rejected, outcome="rejected", note="no", actor=ops)


def test_rebuild_recounts_the_open_requests_from_scratch(open_requests_of_every_kind):
    kept = open_request_totals()
    assert open_counts() == {"requested": 5, "in_progress": 4}
    OpenRequestTotals.objects.update(requests=99)
    stray = next(shard for shard in range(16) if ("requested", shard) not in kept)
    OpenRequestTotals.objects.create(status="requested", shard=stray, requests=1)
    open_request_totals_rebuild()
    assert open_request_totals() == kept == open_request_totals_counted()


def test_migration_fills_the_open_requests_from_the_rows_there_already(
    open_requests_of_every_kind,
):
    from django.apps import apps

    kept = open_request_totals()
    OpenRequestTotals.objects.all().delete()
    migration = importlib.import_module("leasing.migrations.0010_open_request_totals")
    migration.fill_open_request_totals(apps, SimpleNamespace(connection=connection))
    assert open_request_totals() == kept
    assert open_counts() == {"requested": 5, "in_progress": 4}

"""The ReadySupply and RenewalDayTotals rollups follow every service that changes what
they count (the package's conftest also checks them against the base rows after each
test, through tests/invariants.py)."""

from __future__ import annotations

import importlib
import io
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection

from leasing.models import Lease, ReadySupply, RenewalDayTotals
from leasing.services.allocation import accounts_assign
from leasing.services.billing import renewals_run, wallet_adjust
from leasing.services.leases import lease_release
from leasing.services.pool import (
    pool_account_mark_ready,
    pool_account_mark_warming,
    pool_account_retire,
    pool_import_csv,
)
from leasing.services.totals import ready_supply_rebuild, renewal_days_rebuild
from tests import factories
from tests.invariants import (
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

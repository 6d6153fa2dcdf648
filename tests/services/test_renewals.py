"""The monthly renewal job: one charge per lease and period, no drift, safe to rerun."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leasing.models import AuditEvent, Lease, LedgerEntry, PoolAccount
from leasing.services.allocation import accounts_assign
from leasing.services.billing import organization_set_price, renewals_run, wallet_adjust
from leasing.services.leases import lease_release
from leasing.services.pool import pool_account_retire
from tests import factories
from tests.invariants import snapshot

JAN_31 = datetime(2026, 1, 31, 10, 0, 0, tzinfo=UTC)


def lease_at(project, actor, at: datetime, **account) -> Lease:
    req = factories.make_request(project, count=1)
    with time_machine.travel(at, tick=False):
        [lease] = accounts_assign(
            request=req, account_ids=[factories.make_account(**account).pk], actor=actor
        )
    return lease


def renewal_periods(lease: Lease) -> list[int | None]:
    return list(
        LedgerEntry.objects.filter(lease=lease, kind=LedgerEntry.Kind.RENEWAL_CHARGE)
        .order_by("period")
        .values_list("period", flat=True)
    )


def balance(org) -> int:
    org.refresh_from_db()
    return int(org.balance_cents)


def test_due_lease_is_charged_once_and_moves_on_a_month(project, ops):
    lease = lease_at(project, ops, JAN_31)
    report = renewals_run(now=datetime(2026, 2, 28, 10, 0, tzinfo=UTC))
    lease.refresh_from_db()
    assert renewal_periods(lease) == [1]
    assert lease.periods_charged == 2
    assert lease.next_renewal_at == datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    assert [e.lease_id for e in report.charged] == [lease.pk]
    assert report.charged_cents == 15_000
    assert report.disconnected == []
    assert balance(project.organization) == 120_000
    entry = LedgerEntry.objects.get(lease=lease, period=1)
    assert (entry.amount_cents, entry.actor_label) == (-15_000, "system:renewals")
    event = AuditEvent.objects.get(action="lease.renew", object_id=str(lease.pk))
    assert event.after is not None
    assert event.after["period"] == 1
    assert event.actor_type == AuditEvent.ActorType.SYSTEM


def test_renewals_follow_the_assignment_anchor_without_drift(project, ops):
    lease = lease_at(project, ops, JAN_31)
    seen = []
    for now in (
        datetime(2026, 2, 28, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 10, 0, tzinfo=UTC),
        datetime(2026, 4, 30, 10, 0, tzinfo=UTC),
    ):
        renewals_run(now=now)
        lease.refresh_from_db()
        seen.append(lease.next_renewal_at)
    assert seen == [
        datetime(2026, 3, 31, 10, 0, tzinfo=UTC),
        datetime(2026, 4, 30, 10, 0, tzinfo=UTC),
        datetime(2026, 5, 31, 10, 0, tzinfo=UTC),
    ]
    assert renewal_periods(lease) == [1, 2, 3]


def test_lease_not_yet_due_is_not_charged(project, ops):
    lease_at(project, ops, JAN_31)
    before = snapshot()
    report = renewals_run(now=datetime(2026, 2, 28, 9, 59, 59, tzinfo=UTC))
    assert report.charged == []
    assert snapshot() == before


def test_missed_periods_are_caught_up_one_charge_each(project, ops):
    lease = lease_at(project, ops, JAN_31)
    report = renewals_run(now=datetime(2026, 5, 1, tzinfo=UTC))
    lease.refresh_from_db()
    assert renewal_periods(lease) == [1, 2, 3]
    assert [e.period for e in report.charged] == [1, 2, 3]
    assert lease.periods_charged == 4
    assert lease.next_renewal_at == datetime(2026, 5, 31, 10, 0, tzinfo=UTC)
    assert balance(project.organization) == 150_000 - 4 * 15_000


def test_running_twice_charges_nothing_the_second_time(project, ops):
    lease = lease_at(project, ops, JAN_31)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    renewals_run(now=now)
    before = snapshot()
    report = renewals_run(now=now)
    assert report.charged == []
    assert report.disconnected == []
    assert snapshot() == before
    assert renewal_periods(lease) == [1]


def test_renewal_the_wallet_cannot_cover_disconnects_the_lease(project, ops, system):
    lease = lease_at(project, ops, JAN_31)
    org = project.organization
    wallet_adjust(
        organization=org, amount_cents=-(balance(org) - 14_999), memo="drain", actor=system
    )
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    report = renewals_run(now=now)
    lease.refresh_from_db()
    assert lease.status == Lease.Status.DISCONNECTED
    assert lease.disconnected_reason == Lease.Reason.BILLING_EXHAUSTED
    assert lease.disconnected_at == now
    assert lease.next_renewal_at is None
    assert "$149.99" in lease.disconnected_note
    assert lease.account.state == PoolAccount.State.READY
    assert [d.pk for d in report.disconnected] == [lease.pk]
    assert report.charged == []
    assert renewal_periods(lease) == []
    assert balance(org) == 14_999
    assert AuditEvent.objects.filter(action="lease.disconnect", object_id=str(lease.pk)).exists()
    # Nothing more happens to a disconnected lease.
    before = snapshot()
    renewals_run(now=now + timedelta(days=90))
    assert snapshot() == before


def test_catch_up_charges_what_the_wallet_covers_then_disconnects(project, ops, system):
    lease = lease_at(project, ops, JAN_31)
    org = project.organization
    wallet_adjust(organization=org, amount_cents=-(balance(org) - 30_000), memo="two", actor=system)
    renewals_run(now=datetime(2026, 6, 1, tzinfo=UTC))
    lease.refresh_from_db()
    assert renewal_periods(lease) == [1, 2]
    assert lease.status == Lease.Status.DISCONNECTED
    assert lease.disconnected_reason == Lease.Reason.BILLING_EXHAUSTED
    assert balance(org) == 0


def test_oldest_due_lease_is_paid_first_when_money_runs_out(project, ops, system):
    older = lease_at(project, ops, datetime(2026, 1, 10, tzinfo=UTC))
    newer = lease_at(project, ops, datetime(2026, 1, 20, tzinfo=UTC))
    org = project.organization
    wallet_adjust(organization=org, amount_cents=-(balance(org) - 15_000), memo="one", actor=system)
    renewals_run(now=datetime(2026, 2, 25, tzinfo=UTC))
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.status == Lease.Status.ASSIGNED
    assert renewal_periods(older) == [1]
    assert newer.status == Lease.Status.DISCONNECTED
    assert newer.account.state == PoolAccount.State.READY


def test_price_change_affects_only_new_leases(project, ops, finance):
    old = lease_at(project, ops, JAN_31)
    organization_set_price(
        organization=project.organization, monthly_price_cents=20_000, actor=finance
    )
    new = lease_at(project, ops, datetime(2026, 2, 1, tzinfo=UTC))
    assert new.monthly_price_cents == 20_000
    renewals_run(now=datetime(2026, 3, 2, tzinfo=UTC))
    old_charges = LedgerEntry.objects.filter(lease=old).values_list("amount_cents", flat=True)
    new_charges = LedgerEntry.objects.filter(lease=new).values_list("amount_cents", flat=True)
    assert list(old_charges) == [-15_000, -15_000]
    assert list(new_charges) == [-20_000, -20_000]


@pytest.mark.parametrize("end", ["release", "retire"])
def test_ended_lease_is_never_renewed(project, ops, end):
    lease = lease_at(project, ops, JAN_31)
    if end == "release":
        lease_release(lease=lease, actor=ops)
    else:
        pool_account_retire(account=lease.account, reason="banned", actor=ops)
    before = snapshot()
    report = renewals_run(now=datetime(2026, 12, 1, tzinfo=UTC))
    assert report.charged == []
    assert snapshot() == before


def test_renewals_use_the_actor_given(project, ops, ops_user):
    lease = lease_at(project, ops, JAN_31)
    renewals_run(now=datetime(2026, 3, 1, tzinfo=UTC), actor=ops)
    assert LedgerEntry.objects.get(lease=lease, period=1).actor_user == ops_user


def test_renewals_default_to_the_current_time(project, ops):
    lease = lease_at(project, ops, JAN_31)
    with time_machine.travel(datetime(2026, 2, 28, 10, 0, 1, tzinfo=UTC), tick=False):
        renewals_run()
    assert renewal_periods(lease) == [1]

"""Releasing a lease, by the partner or by ops."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from leasing.models import AuditEvent, Lease, LedgerEntry, PoolAccount
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run
from leasing.services.errors import InvalidState, ValidationFailed
from leasing.services.leases import lease_release
from tests import factories
from tests.invariants import snapshot


@pytest.fixture
def lease(project, ops) -> Lease:
    req = factories.make_request(project, count=1)
    with time_machine.travel(datetime(2026, 1, 31, 10, tzinfo=UTC), tick=False):
        [lease] = accounts_assign(
            request=req, account_ids=[factories.make_account("leased_one").pk], actor=ops
        )
    return lease


def test_partner_release_disconnects_now_without_refund(lease, project):
    api_key, _ = factories.make_key(project.organization)
    partner = Actor.for_api_key(api_key)
    ledger_before = LedgerEntry.objects.count()
    with time_machine.travel(datetime(2026, 2, 10, 12, 0, 0, 500, tzinfo=UTC), tick=False):
        released = lease_release(lease=lease, actor=partner, note="campaign over")
    lease.refresh_from_db()
    assert released.pk == lease.pk
    assert lease.status == Lease.Status.DISCONNECTED
    assert lease.disconnected_reason == Lease.Reason.RELEASED_BY_PARTNER
    assert lease.disconnected_at == datetime(2026, 2, 10, 12, 0, 0, tzinfo=UTC)
    assert lease.disconnected_note == "campaign over"
    assert lease.next_renewal_at is None
    assert lease.account.state == PoolAccount.State.READY
    assert LedgerEntry.objects.count() == ledger_before
    project.organization.refresh_from_db()
    assert project.organization.balance_cents == 135_000
    event = AuditEvent.objects.get(action="lease.disconnect", object_id=str(lease.pk))
    assert event.actor_api_key == api_key
    assert event.after is not None
    assert event.after["reason"] == "released_by_partner"


def test_ops_release_records_the_reason(lease, ops, ops_user):
    lease_release(lease=lease, actor=ops, reason="released_by_ops", note="  policy breach ")
    lease.refresh_from_db()
    assert lease.disconnected_reason == Lease.Reason.RELEASED_BY_OPS
    assert lease.disconnected_note == "policy breach"
    event = AuditEvent.objects.get(action="lease.disconnect", object_id=str(lease.pk))
    assert event.actor_user == ops_user


@pytest.mark.parametrize("note", ["", "   "])
def test_ops_release_needs_a_note(lease, ops, note):
    before = snapshot()
    with pytest.raises(ValidationFailed, match="why ops"):
        lease_release(lease=lease, actor=ops, reason="released_by_ops", note=note)
    assert snapshot() == before


def test_release_note_over_2000_characters_is_refused(lease, ops):
    before = snapshot()
    with pytest.raises(ValidationFailed, match="2000"):
        lease_release(lease=lease, actor=ops, note="x" * 2001)
    assert snapshot() == before


@pytest.mark.parametrize("reason", ["billing_exhausted", "account_lost", "bored"])
def test_release_with_a_non_release_reason_is_refused(lease, ops, reason):
    before = snapshot()
    with pytest.raises(ValidationFailed, match="released_by_partner or released_by_ops"):
        lease_release(lease=lease, actor=ops, reason=reason, note="n")
    assert snapshot() == before


def test_releasing_twice_is_refused(lease, ops):
    lease_release(lease=lease, actor=ops)
    before = snapshot()
    with pytest.raises(InvalidState, match="already disconnected"):
        lease_release(lease=lease, actor=ops, reason="released_by_ops", note="again")
    assert snapshot() == before


def test_released_lease_is_not_renewed_and_account_can_be_leased_again(lease, ops, project):
    lease_release(lease=lease, actor=ops)
    renewals_run(now=datetime(2027, 1, 1, tzinfo=UTC))
    assert not LedgerEntry.objects.filter(lease=lease, kind="renewal_charge").exists()
    req = factories.make_request(project, count=1)
    [again] = accounts_assign(request=req, account_ids=[lease.account_id], actor=ops)
    assert again.pk != lease.pk
    assert again.status == Lease.Status.ASSIGNED


def test_release_does_not_reopen_or_change_the_request(lease, ops):
    request = lease.request
    assert request is not None
    request.refresh_from_db()
    status, count = request.status, request.assigned_count
    lease_release(lease=lease, actor=ops)
    request.refresh_from_db()
    assert (request.status, request.assigned_count) == (status, count)

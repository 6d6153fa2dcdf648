"""Ending leases: release by the partner or by ops."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leasing.models import Lease, PoolAccount
from leasing.services.audit import Actor, audit_record
from leasing.services.errors import FieldProblem, InvalidState, ValidationFailed
from leasing.services.totals import (
    RenewalMove,
    lease_totals_refresh,
    ready_supply_add,
    renewal_days_move,
)

REASON_MAX = 2000
RELEASE_REASONS = (Lease.Reason.RELEASED_BY_PARTNER, Lease.Reason.RELEASED_BY_OPS)


def lease_disconnect_locked(
    *,
    lease: Lease,
    account: PoolAccount,
    reason: str,
    note: str,
    actor: Actor,
    at: datetime | None = None,
    counted_renewal_at: datetime | None = None,
) -> Lease:
    """Disconnect a locked active lease and free its account.

    The caller holds the account and lease locks (in that order). `counted_renewal_at`
    is the renewal the RenewalDayTotals rollup still counts the lease at, when the caller has
    moved next_renewal_at on without moving the rollup (a catch-up renewal that fails
    part-way); by default the lease's own next_renewal_at.
    """
    counted_at = counted_renewal_at or lease.next_renewal_at
    now = (at or timezone.now()).replace(microsecond=0)
    lease.status = Lease.Status.DISCONNECTED
    lease.disconnected_at = now
    lease.disconnected_reason = reason
    lease.disconnected_note = note
    lease.next_renewal_at = None
    lease.save(
        update_fields=[
            "status",
            "disconnected_at",
            "disconnected_reason",
            "disconnected_note",
            "next_renewal_at",
        ]
    )
    audit_record(
        actor=actor,
        action="lease.disconnect",
        object_type="lease",
        object_id=str(lease.pk),
        organization_id=lease.organization_id,
        before={"status": Lease.Status.ASSIGNED},
        after={"status": lease.status, "reason": reason, "note": note, "account": account.pk},
        at=now,
    )
    freed = account.state == PoolAccount.State.LEASED
    if freed:
        account.state = PoolAccount.State.READY
        account.save(update_fields=["state"])
    lease_totals_refresh(organization_id=lease.organization_id)
    renewal_days_move(
        organization_id=lease.organization_id,
        moves=[RenewalMove(was=counted_at, now=None, cents=lease.monthly_price_cents)],
    )
    if freed:
        ready_supply_add(accounts=[account], delta=1)
    return lease


def lease_release(
    *,
    lease: Lease,
    actor: Actor,
    reason: str = Lease.Reason.RELEASED_BY_PARTNER,
    note: str = "",
) -> Lease:
    """End an active lease now: no refund, no further renewals, the account back to ready."""
    if reason not in RELEASE_REASONS:
        raise ValidationFailed(
            [FieldProblem("reason", "must be released_by_partner or released_by_ops")]
        )
    text = (note or "").strip()
    if reason == Lease.Reason.RELEASED_BY_OPS and not text:
        raise ValidationFailed([FieldProblem("note", "say why ops is taking the account back")])
    if len(text) > REASON_MAX:
        raise ValidationFailed([FieldProblem("note", f"must be at most {REASON_MAX} characters")])
    with transaction.atomic():
        account = PoolAccount.objects.select_for_update(no_key=True).get(pk=lease.account_id)
        locked = Lease.objects.select_for_update(no_key=True).get(pk=lease.pk)
        if locked.status != Lease.Status.ASSIGNED:
            raise InvalidState(
                f"the lease of {account.pk} (@{account.handle}) was already disconnected "
                f"({locked.get_disconnected_reason_display().lower()})"
            )
        lease_disconnect_locked(
            lease=locked, account=account, reason=reason, note=text, actor=actor
        )
    return locked

"""Wallets, prices and monthly renewals.

Every balance change goes through `ledger_post` on an organization row the caller has
locked, so the ledger's sum and the cached balance move together in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from leasing.models import Lease, LedgerEntry, Organization, PoolAccount
from leasing.money import add_months, format_cents
from leasing.services.audit import Actor, audit_record
from leasing.services.errors import FieldProblem, InvalidState, ValidationFailed
from leasing.services.leases import lease_disconnect_locked
from leasing.services.totals import (
    RenewalMove,
    lease_totals_refresh,
    ledger_month_add,
    renewal_days_move,
)

logger = logging.getLogger(__name__)

# Guards against typos and overflow: no single wallet movement above $10M.
MAX_MOVEMENT_CENTS = 1_000_000_000
MAX_PRICE_CENTS = 10_000_000
MEMO_MAX = 500


def ledger_post(
    *,
    organization: Organization,
    kind: str,
    amount_cents: int,
    memo: str,
    actor: Actor,
    at: datetime,
    lease: Lease | None = None,
    period: int | None = None,
) -> LedgerEntry:
    """Append one entry and move the cached balance. `organization` must be locked."""
    new_balance = organization.balance_cents + amount_cents
    if new_balance < 0:
        # The database check would refuse it too; this says why in words.
        raise InvalidState(
            f"{organization.name}'s wallet holds {format_cents(organization.balance_cents)}; "
            f"{format_cents(-amount_cents)} would take it below zero"
        )
    organization.balance_cents = new_balance
    organization.save(update_fields=["balance_cents"])
    entry = LedgerEntry.objects.create(
        organization=organization,
        kind=kind,
        amount_cents=amount_cents,
        balance_after_cents=new_balance,
        memo=memo,
        lease=lease,
        period=period,
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        created_at=at,
    )
    ledger_month_add(entry=entry)
    return entry


def _check_amount(amount_cents: object, *, allow_negative: bool) -> list[FieldProblem]:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        return [FieldProblem("amount_cents", "must be a whole number of cents")]
    if amount_cents == 0 or (amount_cents < 0 and not allow_negative):
        need = "must not be zero" if allow_negative else "must be more than zero"
        return [FieldProblem("amount_cents", need)]
    if abs(amount_cents) > MAX_MOVEMENT_CENTS:
        return [FieldProblem("amount_cents", f"must be at most {format_cents(MAX_MOVEMENT_CENTS)}")]
    return []


def _check_memo(memo: object) -> list[FieldProblem]:
    if not isinstance(memo, str) or not memo.strip():
        return [FieldProblem("memo", "is required: say why the money moves")]
    if len(memo) > MEMO_MAX:
        return [FieldProblem("memo", f"must be at most {MEMO_MAX} characters")]
    return []


def _wallet_move(
    *,
    organization: Organization,
    kind: str,
    amount_cents: int,
    memo: str,
    actor: Actor,
    at: datetime | None = None,
) -> LedgerEntry:
    problems = _check_amount(amount_cents, allow_negative=kind == LedgerEntry.Kind.ADJUSTMENT)
    problems += _check_memo(memo)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        org = Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
        before = org.balance_cents
        entry = ledger_post(
            organization=org,
            kind=kind,
            amount_cents=amount_cents,
            memo=memo.strip(),
            actor=actor,
            at=at.replace(microsecond=0) if at else timezone.now(),
        )
        audit_record(
            actor=actor,
            action=f"wallet.{kind}",
            object_type="organization",
            object_id=org.pk,
            organization_id=org.pk,
            before={"balance_cents": before},
            after={"balance_cents": org.balance_cents, "amount_cents": amount_cents, "memo": memo},
            at=entry.created_at,
        )
    organization.balance_cents = org.balance_cents
    return entry


def wallet_top_up(
    *,
    organization: Organization,
    amount_cents: int,
    memo: str,
    actor: Actor,
    at: datetime | None = None,
) -> LedgerEntry:
    """Add money to the wallet. `at` back-dates the entry (demo history, imports of past
    payments); callers must post entries in time order so running balances read true."""
    return _wallet_move(
        organization=organization,
        kind=LedgerEntry.Kind.TOP_UP,
        amount_cents=amount_cents,
        memo=memo,
        actor=actor,
        at=at,
    )


def wallet_adjust(
    *, organization: Organization, amount_cents: int, memo: str, actor: Actor
) -> LedgerEntry:
    """A signed correction; it may not take the balance below zero."""
    return _wallet_move(
        organization=organization,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount_cents=amount_cents,
        memo=memo,
        actor=actor,
    )


def wallet_refund(
    *, organization: Organization, amount_cents: int, memo: str, actor: Actor
) -> LedgerEntry:
    return _wallet_move(
        organization=organization,
        kind=LedgerEntry.Kind.REFUND,
        amount_cents=amount_cents,
        memo=memo,
        actor=actor,
    )


def organization_set_price(
    *, organization: Organization, monthly_price_cents: int, actor: Actor
) -> Organization:
    """Price per account for new leases; existing leases keep the price they were given."""
    value = monthly_price_cents
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed(
            [FieldProblem("monthly_price_cents", "must be a whole number of cents above zero")]
        )
    if value > MAX_PRICE_CENTS:
        raise ValidationFailed(
            [
                FieldProblem(
                    "monthly_price_cents", f"must be at most {format_cents(MAX_PRICE_CENTS)}"
                )
            ]
        )
    with transaction.atomic():
        org = Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
        before = org.monthly_price_cents
        org.monthly_price_cents = value
        org.save(update_fields=["monthly_price_cents"])
        audit_record(
            actor=actor,
            action="organization.set_price",
            object_type="organization",
            object_id=org.pk,
            organization_id=org.pk,
            before={"monthly_price_cents": before},
            after={"monthly_price_cents": value},
        )
    organization.monthly_price_cents = value
    return org


@dataclass
class RenewalReport:
    charged: list[LedgerEntry] = field(default_factory=list)
    disconnected: list[Lease] = field(default_factory=list)
    skipped: int = 0

    @property
    def charged_cents(self) -> int:
        return -sum(entry.amount_cents for entry in self.charged)


def renewals_due(now: datetime) -> list[int]:
    return list(
        Lease.objects.filter(status=Lease.Status.ASSIGNED, next_renewal_at__lte=now)
        .order_by("next_renewal_at", "id")
        .values_list("id", flat=True)
    )


def renewals_run(*, now: datetime | None = None, actor: Actor | None = None) -> RenewalReport:
    """Charge every lease whose renewal is due, once per period.

    Each lease is renewed in its own transaction under row locks, so a second run (even a
    concurrent one) finds nothing left to charge, and a run killed half-way leaves every
    lease either renewed or untouched. The (lease, period) unique constraint backs this up.
    """
    now = now or timezone.now()
    actor = actor or Actor.for_system("renewals")
    report = RenewalReport()
    for lease_id in renewals_due(now):
        try:
            _renew_lease(lease_id=lease_id, now=now, actor=actor, report=report)
        except IntegrityError:
            # Another run charged this period between our read and our insert.
            logger.info("renewal of lease %s already charged by another run", lease_id)
            report.skipped += 1
    return report


def _renew_lease(*, lease_id: int, now: datetime, actor: Actor, report: RenewalReport) -> None:
    ids = Lease.objects.filter(pk=lease_id).values("organization_id", "account_id").first()
    if ids is None:
        return
    with transaction.atomic():
        org = Organization.objects.select_for_update(no_key=True).get(pk=ids["organization_id"])
        account = PoolAccount.objects.select_for_update(no_key=True).get(pk=ids["account_id"])
        lease = Lease.objects.select_for_update(no_key=True).get(pk=lease_id)
        if (
            lease.status != Lease.Status.ASSIGNED
            or lease.next_renewal_at is None
            or lease.next_renewal_at > now
        ):
            report.skipped += 1
            return
        counted_at = lease.next_renewal_at  # where the RenewalDayTotals rollup counts it
        # Catch up every missed period, oldest first; stop at the first one the wallet
        # cannot pay for.
        while lease.next_renewal_at is not None and lease.next_renewal_at <= now:
            period = lease.periods_charged
            if org.balance_cents < lease.monthly_price_cents:
                _disconnect_for_billing(
                    lease=lease,
                    account=account,
                    org=org,
                    now=now,
                    actor=actor,
                    counted_renewal_at=counted_at,
                )
                report.disconnected.append(lease)
                return
            entry = ledger_post(
                organization=org,
                kind=LedgerEntry.Kind.RENEWAL_CHARGE,
                amount_cents=-lease.monthly_price_cents,
                memo=f"Renewal of @{account.handle}, period {period}",
                actor=actor,
                at=now,
                lease=lease,
                period=period,
            )
            lease.periods_charged = period + 1
            lease.next_renewal_at = add_months(lease.assigned_at, period + 1)
            lease.save(update_fields=["periods_charged", "next_renewal_at"])
            audit_record(
                actor=actor,
                action="lease.renew",
                object_type="lease",
                object_id=str(lease.pk),
                organization_id=org.pk,
                after={
                    "period": period,
                    "amount_cents": lease.monthly_price_cents,
                    "next_renewal_at": lease.next_renewal_at.isoformat(),
                    "account": account.pk,
                },
                at=now,
            )
            report.charged.append(entry)
        # The next renewal moved on.
        lease_totals_refresh(organization_id=org.pk)
        renewal_days_move(
            organization_id=org.pk,
            moves=[
                RenewalMove(
                    was=counted_at, now=lease.next_renewal_at, cents=lease.monthly_price_cents
                )
            ],
        )


def _disconnect_for_billing(
    *,
    lease: Lease,
    account: PoolAccount,
    org: Organization,
    now: datetime,
    actor: Actor,
    counted_renewal_at: datetime,
) -> None:
    lease_disconnect_locked(
        counted_renewal_at=counted_renewal_at,
        lease=lease,
        account=account,
        reason=Lease.Reason.BILLING_EXHAUSTED,
        note=(
            f"Wallet held {format_cents(org.balance_cents)}; the renewal needed "
            f"{format_cents(lease.monthly_price_cents)}"
        ),
        actor=actor,
        at=now,
    )

"""Rollups the console reads instead of scanning every lease or ledger row.

`LeaseTotals` caches an organization's active leases (count, monthly burn, next renewal)
and `LedgerMonth` its lease charges per month. They are written only here, inside the
transaction of the change they follow, so they are exactly as current as the rows they
summarise; tests/invariants.py recomputes both and compares.

Lock order: the services lock organization, request, account and lease rows first; the
LeaseTotals row is locked last, so taking it can never close a cycle with those locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, F, Min, QuerySet, Sum

from leasing.models import Lease, LeaseTotals, LedgerEntry, LedgerMonth

CHARGE_KINDS = (LedgerEntry.Kind.LEASE_CHARGE, LedgerEntry.Kind.RENEWAL_CHARGE)


@dataclass(frozen=True)
class LeaseFigures:
    active_leases: int
    burn_cents: int
    next_renewal_at: datetime | None
    next_renewal_cents: int


def utc_day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """Midnight UTC opening the UTC day of `moment`, and the next midnight."""
    start = datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def lease_figures(active: QuerySet[Lease]) -> LeaseFigures:
    """Count, burn and next renewal of `active` (one organization's active leases)."""
    totals = active.aggregate(
        n=Count("*"), burn=Sum("monthly_price_cents"), first=Min("next_renewal_at")
    )
    first: datetime | None = totals["first"]
    next_cents = 0
    if first is not None:
        start, end = utc_day_bounds(first)
        day = active.filter(next_renewal_at__gte=start, next_renewal_at__lt=end)
        next_cents = int(day.aggregate(s=Sum("monthly_price_cents"))["s"] or 0)
    return LeaseFigures(
        active_leases=int(totals["n"] or 0),
        burn_cents=int(totals["burn"] or 0),
        next_renewal_at=first,
        next_renewal_cents=next_cents,
    )


def active_leases_of(organization_id: str) -> QuerySet[Lease]:
    return Lease.objects.filter(organization_id=organization_id, status=Lease.Status.ASSIGNED)


def lease_totals_refresh(*, organization_id: str) -> LeaseTotals:
    """Recompute an organization's LeaseTotals from its active leases.

    Call it inside the transaction that started, renewed or ended a lease, after the
    other row locks. The totals row is locked before the leases are read, so two
    concurrent changes for one organization refresh one after the other, the second
    reading what the first committed.
    """
    LeaseTotals.objects.get_or_create(organization_id=organization_id)
    totals = LeaseTotals.objects.select_for_update(no_key=True).get(organization_id=organization_id)
    figures = lease_figures(active_leases_of(organization_id))
    totals.active_leases = figures.active_leases
    totals.burn_cents = figures.burn_cents
    totals.next_renewal_at = figures.next_renewal_at
    totals.next_renewal_cents = figures.next_renewal_cents
    totals.save()
    return totals


def month_start(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def ledger_month_add(*, entry: LedgerEntry) -> None:
    """Count a charge in its organization's month. The caller holds the organization's
    lock (ledger_post requires it), so two charges never race for the same row."""
    if entry.kind not in CHARGE_KINDS:
        return
    month = month_start(entry.created_at)
    updated = LedgerMonth.objects.filter(organization_id=entry.organization_id, month=month).update(
        charges=F("charges") + 1, charged_cents=F("charged_cents") - entry.amount_cents
    )
    if not updated:
        LedgerMonth.objects.create(
            organization_id=entry.organization_id,
            month=month,
            charges=1,
            charged_cents=-entry.amount_cents,
        )

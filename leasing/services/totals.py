"""Rollups the console reads instead of scanning every lease, ledger row, pool account or
request.

`LeaseTotals` caches an organization's active leases (count, monthly burn, next renewal),
`LedgerMonth` its lease charges per month, `RenewalDayTotals` its active leases per UTC renewal
day, `ReadySupply` the ready accounts per vertical and language, and `OpenRequestTotals` the
open requests per status (over shard rows). They are written only here, inside the
transaction of the change they follow, so they are exactly as current as the rows they
summarise; tests/invariants.py recomputes each and compares.

Lock order: the services lock organization, request, account and lease rows first, then
the LeaseTotals row, then RenewalDayTotals rows by day, then ReadySupply rows by (vertical,
language), then OpenRequestTotals rows by (status, shard). Rollup rows come last and in
one sorted order, so taking them can never close a cycle with the other locks or with
another transaction's rollup rows. A service writes nothing after its OpenRequestTotals
rows: those are the hottest (every new request takes one), so they are held for the
shortest time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Count, F, Min, Model, QuerySet, Sum
from django.db.models.functions import Right, TruncDate

from leasing.ids import id_shard
from leasing.models import (
    OPEN_REQUEST_SHARDS,
    Lease,
    LeaseRequest,
    LeaseTotals,
    LedgerEntry,
    LedgerMonth,
    OpenRequestTotals,
    PoolAccount,
    PoolAccountTag,
    ReadySupply,
    RenewalDayTotals,
)

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


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


R = TypeVar("R", bound=Model)


def _rollup_add(rows: QuerySet[R], blank: R, *, counter: str, **deltas: int) -> None:
    """Add `deltas` to the one row of `rows`, creating it (as `blank`) if it is missing,
    and delete it when a decrease takes its `counter` to zero.

    The UPDATE locks the row until commit. A missing row is inserted with
    ignore_conflicts: if another transaction inserts the same key at the same moment,
    the database makes one of them wait for the other and then skip, and the UPDATE is
    tried again. (It can miss once more only if a third transaction deleted the row in
    between, hence a few attempts.)
    """
    changes = {name: F(name) + delta for name, delta in deltas.items()}
    for _attempt in range(5):
        if rows.update(**changes):
            if min(deltas.values()) < 0:
                rows.filter(**{counter: 0}).delete()
            return
        type(blank)._default_manager.bulk_create([blank], ignore_conflicts=True)
    raise RuntimeError(f"could not add to the rollup row {blank}")


def _rollup_counts(
    model: type[Model], key: tuple[str, ...], counter: str, counts: Mapping[tuple[Any, ...], int]
) -> None:
    """Add each count to `counter` of its row of `model` (named by the `key` columns),
    taking the rows in key order."""
    for values, n in sorted(counts.items()):
        if n:
            where = dict(zip(key, values, strict=True))
            rows = model._default_manager.filter(**where)
            _rollup_add(rows, model(**where), counter=counter, **{counter: n})


def ready_supply_keys(account: PoolAccount) -> list[tuple[str, str]]:
    """The (vertical, language) rows a ready account counts in: one per vertical tag."""
    return [(vertical, account.language_primary) for vertical in account.verticals]


def ready_supply_add(*, accounts: Iterable[PoolAccount], delta: int) -> None:
    """Count `accounts` into (delta 1) or out of (delta -1) the ready supply."""
    counts = Counter(key for account in accounts for key in ready_supply_keys(account))
    ready_supply_change(counts={key: n * delta for key, n in counts.items()})


def ready_supply_change(*, counts: Mapping[tuple[str, str], int]) -> None:
    """Add each count to its (vertical, language) row of the ready supply.

    Call it in the transaction that moves accounts into or out of ready, after every
    other lock; the rows are taken in (vertical, language) order.
    """
    _rollup_counts(ReadySupply, ("vertical", "language"), "accounts", counts)


@dataclass(frozen=True)
class RenewalMove:
    """One active lease moving between renewal days: from the renewal the rollup counts
    it at (None: a new lease) to the one it renews at now (None: the lease ended)."""

    was: datetime | None
    now: datetime | None
    cents: int


def renewal_days_move(*, organization_id: str, moves: Iterable[RenewalMove]) -> None:
    """Move one organization's leases between its RenewalDayTotals rows.

    Call it in the transaction that started, renewed or ended the leases, after the
    LeaseTotals refresh; the rows are taken in day order.
    """
    change: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for move in moves:
        if move.was is not None:
            change[utc_day(move.was)][0] -= 1
            change[utc_day(move.was)][1] -= move.cents
        if move.now is not None:
            change[utc_day(move.now)][0] += 1
            change[utc_day(move.now)][1] += move.cents
    for day, (leases, cents) in sorted(change.items()):
        if leases or cents:
            _rollup_add(
                RenewalDayTotals.objects.filter(organization_id=organization_id, day=day),
                RenewalDayTotals(organization_id=organization_id, day=day),
                counter="leases",
                leases=leases,
                cents=cents,
            )


def open_request_shard(request_id: str) -> int:
    return id_shard(request_id, OPEN_REQUEST_SHARDS)


def open_requests_move(*, request_id: str, was: str | None, now: str) -> None:
    """Move one lease request between the open counts: out of the status it had (`was`;
    None for a request just created) and into the one it has `now`. Closed statuses are
    not counted, so closing takes it out and a move between closed statuses (or to the
    same status) changes nothing.

    Call it at the end of the transaction that created the request or changed its status,
    after every other lock and write; the rows are taken in (status, shard) order.
    """
    shard = open_request_shard(request_id)
    change: Counter[tuple[str, int]] = Counter()
    if was in LeaseRequest.OPEN_STATUSES:
        change[(str(was), shard)] -= 1
    if now in LeaseRequest.OPEN_STATUSES:
        change[(str(now), shard)] += 1
    _rollup_counts(OpenRequestTotals, ("status", "shard"), "requests", change)


def _replace_rows(model: type[Model], columns: list[str], source: QuerySet[Any, Any]) -> None:
    """Empty `model`'s table and fill it from `source` in one INSERT ... SELECT."""
    model._default_manager.all().delete()
    select, params = source.query.sql_with_params()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join(quote(c) for c in columns)}) {select}",
            params,
        )


def ready_supply_rebuild() -> None:
    """Recompute ReadySupply from the pool, for bulk loads that bypass the services
    (generate_scale_data)."""
    counted = (
        PoolAccountTag.objects.filter(
            kind=PoolAccountTag.Kind.VERTICAL, account__state=PoolAccount.State.READY
        )
        .values_list("value", "account__language_primary")
        .annotate(n=Count("*"))
        .order_by()
    )
    _replace_rows(ReadySupply, ["vertical", "language", "accounts"], counted)


def renewal_days_rebuild() -> None:
    """Recompute RenewalDayTotals from the active leases, for bulk loads that bypass the
    services (generate_scale_data)."""
    counted = (
        Lease.objects.filter(status=Lease.Status.ASSIGNED)
        .values_list("organization", TruncDate("next_renewal_at", tzinfo=UTC))
        .annotate(n=Count("*"), cents=Sum("monthly_price_cents"))
        .order_by()
    )
    _replace_rows(RenewalDayTotals, ["organization_id", "day", "leases", "cents"], counted)


def open_request_totals_counted() -> dict[tuple[str, int], int]:
    """Open requests per (status, shard), counted from the requests: grouped in the
    database by status and the id's last character (which decides the shard), then
    folded into shards here."""
    tails = (
        LeaseRequest.objects.filter(status__in=LeaseRequest.OPEN_STATUSES)
        .annotate(tail=Right("id", 1))
        .values_list("status", "tail")
        .annotate(n=Count("*"))
        .order_by()
    )
    counted: Counter[tuple[str, int]] = Counter()
    for status, tail, n in tails:
        counted[(status, open_request_shard(tail))] += n
    return dict(counted)


def open_request_totals_rebuild() -> None:
    """Recompute OpenRequestTotals from the requests, for bulk loads that bypass the
    services (generate_scale_data)."""
    OpenRequestTotals.objects.all().delete()
    OpenRequestTotals.objects.bulk_create(
        OpenRequestTotals(status=status, shard=shard, requests=n)
        for (status, shard), n in sorted(open_request_totals_counted().items())
    )

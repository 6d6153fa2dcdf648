"""Whole-database checks for the money and assignment rules, reusable by any test.

`assert_invariants()` checks the rules that must hold after every committed change;
`snapshot()` captures everything a refused change must leave untouched, so a test can
assert `snapshot() == before` after the refusal.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate, TruncMonth

from leasing.models import (
    ApiKey,
    AuditEvent,
    Lease,
    LeaseRequest,
    LeaseTotals,
    LedgerEntry,
    LedgerMonth,
    OpenRequestTotals,
    Organization,
    PoolAccount,
    PoolAccountTag,
    ReadySupply,
    RenewalDayTotals,
    RequestNote,
)
from leasing.services.totals import (
    active_leases_of,
    lease_figures,
    open_request_totals_counted,
)

CHARGE_KINDS = (LedgerEntry.Kind.LEASE_CHARGE, LedgerEntry.Kind.RENEWAL_CHARGE)


def ledger_problems() -> list[str]:
    """Each organization's ledger sums to its balance, the balance is never negative, and
    every entry's balance_after is the running sum at that point."""
    problems = []
    sums = dict(
        LedgerEntry.objects.values("organization")
        .annotate(total=Sum("amount_cents"))
        .values_list("organization", "total")
    )
    for org_id, name, balance in Organization.objects.values_list("id", "name", "balance_cents"):
        if balance < 0:
            problems.append(f"{name}: balance {balance} is negative")
        if sums.get(org_id, 0) != balance:
            problems.append(f"{name}: ledger sums to {sums.get(org_id, 0)}, balance is {balance}")
    running: dict[str, int] = defaultdict(int)
    for entry in LedgerEntry.objects.order_by("id"):
        running[entry.organization_id] += entry.amount_cents
        if entry.balance_after_cents != running[entry.organization_id]:
            problems.append(
                f"entry {entry.pk}: balance_after {entry.balance_after_cents}, "
                f"running sum {running[entry.organization_id]}"
            )
    return problems


def lease_problems() -> list[str]:
    """One active lease per account, leased accounts and active leases match, and each
    lease has exactly one charge for every period it has been charged for."""
    problems = []
    doubled = (
        Lease.objects.filter(status=Lease.Status.ASSIGNED)
        .values("account")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    problems += [f"account {row['account']} has {row['n']} active leases" for row in doubled]

    active_accounts = set(
        Lease.objects.filter(status=Lease.Status.ASSIGNED).values_list("account_id", flat=True)
    )
    leased_accounts = set(
        PoolAccount.objects.filter(state=PoolAccount.State.LEASED).values_list("id", flat=True)
    )
    problems += [
        f"account {a} is leased without an active lease"
        for a in sorted(leased_accounts - active_accounts)
    ]
    problems += [
        f"account {a} has an active lease but is not leased"
        for a in sorted(active_accounts - leased_accounts)
    ]

    charges: dict[int, list[tuple[str, int | None, int]]] = defaultdict(list)
    for kind, lease_id, period, amount in LedgerEntry.objects.filter(
        kind__in=CHARGE_KINDS
    ).values_list("kind", "lease_id", "period", "amount_cents"):
        charges[lease_id].append((kind, period, amount))
    for lease in Lease.objects.all():
        got = charges.pop(lease.pk, [])
        periods = Counter(period for _, period, _ in got)
        expected = Counter(range(lease.periods_charged))
        if periods != expected:
            listed = sorted(periods.elements(), key=lambda p: -1 if p is None else p)
            problems.append(
                f"lease {lease.pk}: charged periods {listed}, "
                f"expected 0..{lease.periods_charged - 1}"
            )
        for kind, period, amount in got:
            want_kind = (
                LedgerEntry.Kind.LEASE_CHARGE if period == 0 else LedgerEntry.Kind.RENEWAL_CHARGE
            )
            if kind != want_kind or amount != -lease.monthly_price_cents:
                problems.append(f"lease {lease.pk} period {period}: {kind} of {amount}")
    problems += [f"charges for unknown lease {lease_id}" for lease_id in charges]
    return problems


def request_problems() -> list[str]:
    """A request's assigned_count is the number of leases made for it."""
    problems = []
    made = dict(
        Lease.objects.filter(request__isnull=False)
        .values("request")
        .annotate(n=Count("id"))
        .values_list("request", "n")
    )
    for req_id, assigned in LeaseRequest.objects.values_list("id", "assigned_count"):
        if made.get(req_id, 0) != assigned:
            problems.append(
                f"request {req_id}: assigned_count {assigned}, {made.get(req_id, 0)} leases"
            )
    return problems


def latest_note_problems() -> list[str]:
    """A request's latest_note and latest_note_visibility are its latest note's body and
    visibility (the first by created_at DESC, id DESC), or "" when it has no note."""
    latest: dict[str, tuple[str, str]] = {}
    for req_id, body, visibility in RequestNote.objects.order_by("created_at", "id").values_list(
        "request", "body", "visibility"
    ):
        latest[req_id] = (body, visibility)
    problems = []
    for req_id, body, visibility in LeaseRequest.objects.values_list(
        "id", "latest_note", "latest_note_visibility"
    ):
        want = latest.get(req_id, ("", ""))
        if (body, visibility) != want:
            problems.append(
                f"request {req_id}: latest note {body[:40]!r} ({visibility!r}), "
                f"its notes say {want[0][:40]!r} ({want[1]!r})"
            )
    return problems


def rollup_problems() -> list[str]:
    """Every rollup agrees with the rows it summarises."""
    problems = []
    cached = {t.organization_id: t for t in LeaseTotals.objects.all()}
    with_leases = set(
        Lease.objects.filter(status=Lease.Status.ASSIGNED).values_list("organization", flat=True)
    )
    for org_id in sorted(with_leases | set(cached)):
        figures = lease_figures(active_leases_of(org_id))
        totals = cached.get(org_id)
        got = (
            (
                totals.active_leases,
                totals.burn_cents,
                totals.next_renewal_at,
                totals.next_renewal_cents,
            )
            if totals
            else None
        )
        want = (
            figures.active_leases,
            figures.burn_cents,
            figures.next_renewal_at,
            figures.next_renewal_cents,
        )
        if got != want and not (got is None and figures.active_leases == 0):
            problems.append(f"{org_id}: lease totals {got}, leases say {want}")
    months = {
        (row["organization"], row["month"].date()): (row["n"], -row["cents"])
        for row in LedgerEntry.objects.filter(kind__in=CHARGE_KINDS)
        .annotate(month=TruncMonth("created_at"))
        .values("organization", "month")
        .annotate(n=Count("*"), cents=Sum("amount_cents"))
        .order_by()
    }
    rolled = {
        (m.organization_id, m.month): (m.charges, m.charged_cents)
        for m in LedgerMonth.objects.all()
    }
    if rolled != months:
        wrong = sorted(set(rolled.items()) ^ set(months.items()), key=str)[:10]
        problems.append(f"ledger months disagree with the ledger: {wrong}")
    problems += _rollup_mismatch("ready supply", ready_supply(), ready_supply_recounted())
    problems += _rollup_mismatch("renewal days", renewal_days(), renewal_days_recounted())
    problems += _rollup_mismatch(
        "open requests", open_request_totals(), open_request_totals_counted()
    )
    negative = OpenRequestTotals.objects.filter(requests__lt=0).values_list("status", "shard")
    problems += [f"open requests {status}/{shard} counts below zero" for status, shard in negative]
    by_status = Counter[str]()
    for (status, _shard), n in open_request_totals().items():
        by_status[status] += n
    open_counts = Counter(
        dict(
            LeaseRequest.objects.filter(status__in=LeaseRequest.OPEN_STATUSES)
            .values_list("status")
            .annotate(n=Count("*"))
            .order_by()
        )
    )
    if by_status != open_counts:
        problems.append(f"open requests per status: rollup {by_status}, requests {open_counts}")
    return problems


def _rollup_mismatch(name: str, rolled: dict[Any, Any], recounted: dict[Any, Any]) -> list[str]:
    if rolled == recounted:
        return []
    keys = sorted(set(rolled) | set(recounted), key=str)
    wrong = [
        (k, rolled.get(k), recounted.get(k)) for k in keys if rolled.get(k) != recounted.get(k)
    ]
    return [f"{name} (rollup, recounted) disagree with the rows they sum: {wrong[:10]}"]


def ready_supply() -> dict[tuple[str, str], int]:
    return {(row.vertical, row.language): row.accounts for row in ReadySupply.objects.all()}


def ready_supply_recounted() -> dict[tuple[str, str], int]:
    """Ready accounts per vertical tag and primary language, counted from the pool."""
    return {
        (row["value"], row["account__language_primary"]): row["n"]
        for row in PoolAccountTag.objects.filter(
            kind=PoolAccountTag.Kind.VERTICAL, account__state=PoolAccount.State.READY
        )
        .values("value", "account__language_primary")
        .annotate(n=Count("*"))
        .order_by()
    }


def renewal_days() -> dict[tuple[str, Any], tuple[int, int]]:
    return {
        (row.organization_id, row.day): (row.leases, row.cents)
        for row in RenewalDayTotals.objects.all()
    }


def renewal_days_recounted() -> dict[tuple[str, Any], tuple[int, int]]:
    """Active leases and their prices per organization and UTC renewal day."""
    return {
        (row["organization"], row["day"]): (row["n"], row["cents"])
        for row in Lease.objects.filter(status=Lease.Status.ASSIGNED)
        .annotate(day=TruncDate("next_renewal_at", tzinfo=UTC))
        .values("organization", "day")
        .annotate(n=Count("*"), cents=Sum("monthly_price_cents"))
        .order_by()
    }


def open_request_totals() -> dict[tuple[str, int], int]:
    return {(row.status, row.shard): row.requests for row in OpenRequestTotals.objects.all()}


def assert_invariants() -> None:
    problems = (
        ledger_problems()
        + lease_problems()
        + request_problems()
        + latest_note_problems()
        + rollup_problems()
    )
    assert not problems, "invariants broken:\n" + "\n".join(problems)


def snapshot() -> dict[str, Any]:
    """Everything a refused service call must leave exactly as it was."""
    return {
        "organizations": list(
            Organization.objects.order_by("id").values_list(
                "id", "status", "balance_cents", "monthly_price_cents"
            )
        ),
        "ledger": LedgerEntry.objects.count(),
        "leases": list(
            Lease.objects.order_by("id").values_list(
                "id", "status", "next_renewal_at", "periods_charged", "disconnected_reason"
            )
        ),
        "requests": list(
            LeaseRequest.objects.order_by("id").values_list(
                "id",
                "status",
                "assigned_count",
                "claimed_by",
                "closed_at",
                "latest_note",
                "latest_note_visibility",
            )
        ),
        "accounts": list(PoolAccount.objects.order_by("id").values_list("id", "state")),
        "tags": PoolAccountTag.objects.count(),
        "ready supply": ready_supply(),
        "renewal days": renewal_days(),
        "open requests": open_request_totals(),
        "notes": RequestNote.objects.count(),
        "api_keys": list(ApiKey.objects.order_by("id").values_list("id", "revoked_at")),
        "audit": AuditEvent.objects.count(),
    }

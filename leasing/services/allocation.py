"""Matching pool accounts to requests: candidate ranking and assignment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from leasing.models import (
    Lease,
    LeaseRequest,
    LedgerEntry,
    Organization,
    PoolAccount,
    PoolAccountTag,
)
from leasing.money import add_months, format_cents
from leasing.services.audit import Actor, audit_record
from leasing.services.billing import ledger_post
from leasing.services.errors import (
    BillingExhausted,
    Conflict,
    FieldProblem,
    InvalidState,
    ValidationFailed,
)
from leasing.services.totals import (
    RenewalMove,
    lease_totals_refresh,
    open_requests_move,
    ready_supply_add,
    renewal_days_move,
)
from leasing.services.validation import language_primary, normalize_vertical

DEFAULT_CANDIDATE_LIMIT = 50


@dataclass(frozen=True)
class Candidate:
    """A ready account and why it ranks where it does."""

    account: PoolAccount
    vertical_match: bool
    language_match: bool | None  # None: the request named no language
    countries_matched: int
    countries_requested: int


def account_tagged(kind: str, value: str) -> Exists:
    """The account carries this vertical or country tag (pool lists and candidates)."""
    return Exists(PoolAccountTag.objects.filter(account=OuterRef("pk"), kind=kind, value=value))


# Within a ranking tier, the better account: more followers, warmed longer, then by id.
BEST_FIRST = ("-followers", F("warmed_since").asc(nulls_last=True), "id")
# Above this many requested countries the shortlist would need too many branches (one per
# subset of them); such requests rank every candidate instead.
SHORTLIST_MAX_COUNTRIES = 4


def _shortlist(
    candidates: QuerySet[PoolAccount],
    *,
    primary: str,
    same_language_only: bool,
    geo: list[str],
    limit: int,
) -> QuerySet[PoolAccount, Any] | None:
    """Primary keys of a small set that holds the best `limit` candidates, or None.

    The ranking is (speaks the language, countries matched, then BEST_FIRST). An account
    in the top `limit` is also in the top `limit` by BEST_FIRST alone among the accounts
    tagged with the very countries it matches (and, if it speaks the language, among
    those that do): everyone better placed there ranks above it. So the union of those
    top-`limit` lists, one per subset of the requested countries and language, contains
    the answer; each list is an index walk (pool_state_followers, pool_state_language)
    that stops after `limit` rows, instead of scoring every ready account in a popular
    vertical.
    """
    if len(geo) > SHORTLIST_MAX_COUNTRIES:
        return None
    if not connection.features.supports_slicing_ordering_in_compound:
        # SQLite: no LIMIT inside a UNION. Its databases are small; rank them all.
        return None
    speakers = [candidates]
    if primary and not same_language_only:
        speakers.append(candidates.filter(language_primary=primary))
    branches = []
    for size in range(len(geo) + 1):
        for countries in combinations(geo, size):
            for accounts in speakers:
                # The account's own list of countries (which its tags mirror), tested on
                # the row the walk is at: a rare country then costs a short walk instead
                # of a join against every account tagged with the vertical.
                for code in countries:
                    accounts = accounts.filter(countries__contains=[code])
                branches.append(accounts.order_by(*BEST_FIRST).values("pk")[:limit])
    first, *rest = branches
    return first.union(*rest, all=True) if rest else first


def candidates_queryset(
    *,
    request: LeaseRequest,
    vertical: str | None = None,
    same_language_only: bool = False,
    country: str | None = None,
    limit: int | None = None,
) -> QuerySet[PoolAccount]:
    """Ready accounts for a request, best first, annotated with the ranking criteria.

    `vertical` widens or changes the vertical searched ("" searches every vertical);
    `same_language_only` drops accounts in other languages; `country` keeps only accounts
    with followers in that country. With `limit`, only a shortlist that provably holds
    the best `limit` is ranked (the caller takes the first `limit`).
    """
    wanted_vertical = normalize_vertical(request.vertical if vertical is None else vertical)
    primary = language_primary(request.language)
    geo = list(request.geo)

    qs = PoolAccount.objects.filter(state=PoolAccount.State.READY)
    if wanted_vertical:
        qs = qs.filter(account_tagged(PoolAccountTag.Kind.VERTICAL, wanted_vertical))
    if country:
        qs = qs.filter(account_tagged(PoolAccountTag.Kind.COUNTRY, country.upper()))
    if same_language_only and primary:
        qs = qs.filter(language_primary=primary)
    shortlist = (
        _shortlist(
            qs,
            primary=primary,
            same_language_only=same_language_only,
            geo=geo,
            limit=limit,
        )
        if limit is not None
        else None
    )
    if shortlist is not None:
        qs = PoolAccount.objects.filter(pk__in=shortlist)

    language_rank: Expression = (
        Case(When(language_primary=primary, then=Value(1)), default=Value(0))
        if primary
        else Value(0)
    )
    if geo:
        matched = (
            PoolAccountTag.objects.filter(
                account=OuterRef("pk"), kind=PoolAccountTag.Kind.COUNTRY, value__in=geo
            )
            .order_by()
            .values("account")
            .annotate(n=Count("*"))
            .values("n")
        )
        countries_rank: Expression = Coalesce(
            Subquery(matched, output_field=IntegerField()), Value(0)
        )
    else:
        countries_rank = Value(0)
    return qs.annotate(
        language_rank=language_rank,
        countries_matched=countries_rank,
    ).order_by("-language_rank", "-countries_matched", *BEST_FIRST)


def candidates_rank(
    *,
    request: LeaseRequest,
    vertical: str | None = None,
    same_language_only: bool = False,
    country: str | None = None,
    limit: int = DEFAULT_CANDIDATE_LIMIT,
) -> list[Candidate]:
    wanted_vertical = normalize_vertical(request.vertical)
    primary = language_primary(request.language)
    accounts = candidates_queryset(
        request=request,
        vertical=vertical,
        same_language_only=same_language_only,
        country=country,
        limit=limit,
    )[:limit]
    return [
        Candidate(
            account=account,
            vertical_match=wanted_vertical in account.verticals,
            language_match=(account.language_primary == primary) if primary else None,
            countries_matched=account.countries_matched,  # type: ignore[attr-defined]
            countries_requested=len(request.geo),
        )
        for account in accounts
    ]


def _state_problem(account: PoolAccount) -> str:
    if account.state == PoolAccount.State.LEASED:
        return f"{account.pk} (@{account.handle}) is already taken by another lease"
    return f"{account.pk} (@{account.handle}) is {account.get_state_display().lower()}, not ready"


def accounts_assign(
    *,
    request: LeaseRequest,
    account_ids: Sequence[str],
    actor: Actor,
    now: datetime | None = None,
) -> list[Lease]:
    """Lease the chosen ready accounts to the request's project, charging one month each.

    All or nothing: if any account is taken or not ready, or the wallet cannot pay for
    every one of them, nothing is assigned and the error says exactly why.
    """
    chosen = list(dict.fromkeys(account_ids))
    if not chosen:
        raise ValidationFailed([FieldProblem("accounts", "choose at least one account")])
    if len(chosen) != len(account_ids):
        raise ValidationFailed([FieldProblem("accounts", "an account is listed twice")])

    with transaction.atomic():
        # Lock order: organization, request, accounts (by id), then leases.
        org = Organization.objects.select_for_update(no_key=True).get(pk=request.organization_id)
        locked = LeaseRequest.objects.select_for_update(no_key=True).get(pk=request.pk)
        if not locked.is_open:
            raise InvalidState(
                f"request {locked.request_key} is already "
                f"{locked.get_status_display().lower()}; it takes no more accounts"
            )
        if not org.is_active:
            raise InvalidState(f"{org.name} is suspended; no new leases")
        if len(chosen) > locked.remaining:
            raise ValidationFailed(
                [
                    FieldProblem(
                        "accounts",
                        f"request {locked.request_key} needs {locked.remaining} more "
                        f"account(s); {len(chosen)} chosen",
                    )
                ]
            )
        accounts = list(
            PoolAccount.objects.select_for_update(no_key=True).filter(pk__in=chosen).order_by("pk")
        )
        found = {account.pk for account in accounts}
        unknown = [account_id for account_id in chosen if account_id not in found]
        if unknown:
            raise ValidationFailed(
                [FieldProblem("accounts", f"no such pool account: {', '.join(unknown)}")]
            )
        unavailable = [a for a in accounts if a.state != PoolAccount.State.READY]
        if unavailable:
            raise Conflict(
                "; ".join(_state_problem(a) for a in unavailable)
                + ". Nothing was assigned: pick other accounts.",
                details={"accounts": [a.pk for a in unavailable]},
            )
        price = org.monthly_price_cents
        cost = price * len(accounts)
        if org.balance_cents < cost:
            covers = org.balance_cents // price
            raise BillingExhausted(
                f"{org.name}'s wallet holds {format_cents(org.balance_cents)}, which covers "
                f"{covers} of the {len(accounts)} account(s) at {format_cents(price)} each. "
                "Nothing was assigned.",
                details={"covers": covers, "balanceCents": org.balance_cents},
            )

        at = (now or timezone.now()).replace(microsecond=0)
        leases = []
        # Keep the order ops chose, so the ledger reads the way they picked.
        by_id = {a.pk: a for a in accounts}
        for account_id in chosen:
            account = by_id[account_id]
            lease = Lease.objects.create(
                account=account,
                organization=org,
                project_id=locked.project_id,
                request=locked,
                assigned_at=at,
                assigned_by_id=actor.user_id,
                monthly_price_cents=price,
                periods_charged=1,
                next_renewal_at=add_months(at, 1),
            )
            ledger_post(
                organization=org,
                kind=LedgerEntry.Kind.LEASE_CHARGE,
                amount_cents=-price,
                memo=f"Lease of @{account.handle} for {locked.request_key}",
                actor=actor,
                at=at,
                lease=lease,
                period=0,
            )
            account.state = PoolAccount.State.LEASED
            leases.append(lease)
        PoolAccount.objects.bulk_update(accounts, ["state"])
        lease_totals_refresh(organization_id=org.pk)
        renewal_days_move(
            organization_id=org.pk,
            moves=[
                RenewalMove(was=None, now=lease.next_renewal_at, cents=lease.monthly_price_cents)
                for lease in leases
            ],
        )
        ready_supply_add(accounts=accounts, delta=-1)

        was = locked.status
        before = {"status": was, "assigned_count": locked.assigned_count}
        locked.assigned_count += len(leases)
        locked.first_assigned_at = locked.first_assigned_at or at
        if locked.assigned_count == locked.count:
            locked.status = LeaseRequest.Status.ASSIGNED
            locked.closed_at = at
        else:
            locked.status = LeaseRequest.Status.IN_PROGRESS
        locked.save(update_fields=["assigned_count", "first_assigned_at", "status", "closed_at"])
        audit_record(
            actor=actor,
            action="request.assign",
            object_type="lease_request",
            object_id=locked.pk,
            organization_id=org.pk,
            before=before,
            after={
                "status": locked.status,
                "assigned_count": locked.assigned_count,
                "accounts": chosen,
                "charged_cents": cost,
                "balance_cents": org.balance_cents,
            },
            at=at,
        )
        open_requests_move(request_id=locked.pk, was=was, now=locked.status)
    request.status = locked.status
    request.assigned_count = locked.assigned_count
    request.first_assigned_at = locked.first_assigned_at
    request.closed_at = locked.closed_at
    return leases


@dataclass(frozen=True)
class AssignmentPreview:
    """What an assignment would do, for the confirmation step."""

    count: int
    price_cents: int
    charge_cents: int
    balance_before_cents: int
    balance_after_cents: int
    renews_at: datetime
    covered: bool
    accounts_covered: int


def assignment_preview(
    *, request: LeaseRequest, count: int, now: datetime | None = None
) -> AssignmentPreview:
    org = Organization.objects.get(pk=request.organization_id)
    at = (now or timezone.now()).replace(microsecond=0)
    charge = org.monthly_price_cents * count
    return AssignmentPreview(
        count=count,
        price_cents=org.monthly_price_cents,
        charge_cents=charge,
        balance_before_cents=org.balance_cents,
        balance_after_cents=org.balance_cents - charge,
        renews_at=add_months(at, 1),
        covered=org.balance_cents >= charge,
        accounts_covered=org.accounts_covered(),
    )

"""Reads for the dashboard: permission-scoped querysets and the pages built from them.

Every list starts from what the user may see and is narrowed by a FilterSet. Page objects
compute their parts lazily (cached properties), so a view that only re-renders one htmx
region only runs the queries that region needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.http import QueryDict
from django.shortcuts import get_object_or_404

from leasing.filters import QueueFilter
from leasing.models import (
    AuditEvent,
    Lease,
    LeaseRequest,
    LedgerEntry,
    Organization,
    RequestNote,
)
from leasing.services.allocation import Candidate, candidates_rank

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser

    AnyUser = AbstractUser | AnonymousUser

DASHBOARD_PERMISSION = "leasing.view_dashboard"
QUEUE_PAGE_SIZE = 50
# Deep offsets get slow and nobody pages that far; search or filter instead.
QUEUE_MAX_PAGE = 200
TIMELINE_LIMIT = 300


def requests_visible_to(user: AnyUser) -> QuerySet[LeaseRequest]:
    """Lease requests a staff user may see: all of them with the dashboard permission."""
    if not user.is_authenticated or not user.has_perm(DASHBOARD_PERMISSION):
        return LeaseRequest.objects.none()
    return LeaseRequest.objects.all()


def leases_visible_to(user: AnyUser) -> QuerySet[Lease]:
    if not user.is_authenticated or not user.has_perm(DASHBOARD_PERMISSION):
        return Lease.objects.none()
    return Lease.objects.all()


# ------------------------------------------------------------------------- the queue


@dataclass
class QueuePage:
    filterset: QueueFilter
    page: int
    rows: list[LeaseRequest] = field(default_factory=list)
    has_next: bool = False
    # Open requests per status, for the tabs.
    open_counts: dict[str, int] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_row_number(self) -> int:
        return (self.page - 1) * QUEUE_PAGE_SIZE + 1

    @property
    def last_row_number(self) -> int:
        return self.first_row_number + len(self.rows) - 1


def queue_rows(queryset: QuerySet[LeaseRequest]) -> QuerySet[LeaseRequest]:
    """What a queue row shows, in one query: the latest note comes from a subquery."""
    latest_note = RequestNote.objects.filter(request=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.select_related("organization", "project", "claimed_by").annotate(
        latest_note=Subquery(latest_note.values("body")[:1]),
        latest_note_visibility=Subquery(latest_note.values("visibility")[:1]),
    )


def open_request_counts(user: AnyUser) -> dict[str, int]:
    """Open requests per status: one grouped query served by the request_queue index.

    Closed statuses are not counted: they grow without end, and nobody works from them.
    """
    rows = (
        requests_visible_to(user)
        .filter(status__in=LeaseRequest.OPEN_STATUSES)
        .order_by()
        .values("status")
        .annotate(n=Count("*"))
    )
    counts = {str(status): 0 for status in LeaseRequest.OPEN_STATUSES}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def queue_page(*, user: AnyUser, data: QueryDict, page: int, request: Any = None) -> QueuePage:
    """One page of the filtered queue, fetched without counting the whole table.

    Fetching one row more than a page says whether there is a next page.
    """
    filterset = QueueFilter(data, queryset=queue_rows(requests_visible_to(user)), request=request)
    result = QueuePage(filterset=filterset, page=page, open_counts=open_request_counts(user))
    if not filterset.is_valid():
        return result
    start = (page - 1) * QUEUE_PAGE_SIZE
    rows = list(filterset.qs[start : start + QUEUE_PAGE_SIZE + 1])
    result.rows = rows[:QUEUE_PAGE_SIZE]
    result.has_next = len(rows) > QUEUE_PAGE_SIZE and page < QUEUE_MAX_PAGE
    return result


# ------------------------------------------------------------------------- a request


def request_for_staff(*, user: AnyUser, pk: str) -> LeaseRequest:
    return get_object_or_404(
        requests_visible_to(user).select_related("organization", "project", "claimed_by"),
        pk=pk,
    )


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # icon and colour: note, partner, claim, assign, charge, release, close, event
    title: str
    who: str
    body: str = ""
    amount_cents: int | None = None
    balance_after_cents: int | None = None
    # Ties (an assignment and its charges share a timestamp) keep a readable order:
    # the event first, then notes, then charges.
    order: int = 3


@dataclass(frozen=True)
class PartnerWallet:
    balance_cents: int
    price_cents: int
    monthly_burn_cents: int
    active_leases: int

    @property
    def accounts_covered(self) -> int:
        return self.balance_cents // self.price_cents if self.price_cents else 0


@dataclass(frozen=True)
class CandidateSearch:
    """How far to widen the candidate search. None for vertical means the request's."""

    vertical: str | None = None
    any_language: bool = False
    country: str = ""


_EVENT_TITLES = {
    "request.create": ("event", "Request received"),
    "request.claim": ("claim", "Claimed"),
    "request.unclaim": ("claim", "Unclaimed"),
    "request.assign": ("assign", "Accounts assigned"),
    "request.close_partial": ("close", "Closed as partial"),
    "request.close_rejected": ("close", "Rejected"),
    "lease.disconnect": ("release", "Lease ended"),
}


def _event_item(event: AuditEvent, handles: dict[str, str]) -> TimelineItem:
    kind, title = _EVENT_TITLES.get(event.action, ("event", event.action))
    after: dict[str, Any] = event.after or {}
    body = ""

    def handle(account_id: str) -> str:
        return f"@{handles[account_id]}" if account_id in handles else account_id

    if event.action == "request.assign":
        accounts = [handle(a) for a in after.get("accounts", [])]
        n = len(accounts)
        title = f"{n} account{'s' if n != 1 else ''} assigned"
        body = ", ".join(accounts)
    elif event.action == "lease.disconnect":
        reason = Lease.Reason(after["reason"]).label if after.get("reason") else "ended"
        title = f"{handle(str(after.get('account', '')))} released: {reason.lower()}"
        body = str(after.get("note") or "")
    elif event.action in ("request.close_partial", "request.close_rejected"):
        body = f"{after.get('assigned_count', 0)} account(s) assigned at closing"
    elif event.action == "request.create":
        body = f"{after.get('count')} account(s), {after.get('vertical')}"
    return TimelineItem(
        at=event.created_at, kind=kind, title=title, who=event.actor_label, body=body
    )


class RequestPage:
    """Everything the request page shows, each part fetched when a template first asks."""

    def __init__(
        self,
        *,
        lease_request: LeaseRequest,
        search: CandidateSearch | None = None,
    ) -> None:
        self.request = lease_request
        self.search = search or CandidateSearch()

    @cached_property
    def organization(self) -> Organization:
        return self.request.organization

    @cached_property
    def wallet(self) -> PartnerWallet:
        org = self.organization
        burn = Lease.objects.filter(organization=org, status=Lease.Status.ASSIGNED).aggregate(
            cents=Sum("monthly_price_cents"), n=Count("*")
        )
        return PartnerWallet(
            balance_cents=org.balance_cents,
            price_cents=org.monthly_price_cents,
            monthly_burn_cents=burn["cents"] or 0,
            active_leases=burn["n"] or 0,
        )

    @cached_property
    def leases(self) -> list[Lease]:
        return list(
            Lease.objects.filter(request=self.request)
            .select_related("account", "assigned_by")
            .order_by("assigned_at", "id")
        )

    @cached_property
    def active_leases(self) -> list[Lease]:
        return [lease for lease in self.leases if lease.status == Lease.Status.ASSIGNED]

    @cached_property
    def candidates(self) -> list[Candidate]:
        if not self.request.is_open:
            return []
        return candidates_rank(
            request=self.request,
            vertical=self.search.vertical,
            same_language_only=not self.search.any_language,
            country=self.search.country or None,
        )

    @cached_property
    def fill_count(self) -> int:
        """How many accounts "Fill best N" picks: the best of what is still needed."""
        return min(self.request.remaining, len(self.candidates))

    @cached_property
    def timeline(self) -> list[TimelineItem]:
        """Notes, audit events for the request and its leases, and its charges, newest first."""
        items: list[TimelineItem] = []
        notes = (
            RequestNote.objects.filter(request=self.request)
            .select_related("author")
            .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
        )
        for note in notes:
            partner = note.visibility == RequestNote.Visibility.PARTNER
            items.append(
                TimelineItem(
                    at=note.created_at,
                    kind="partner" if partner else "note",
                    title="Partner-visible note" if partner else "Internal note",
                    who=note.author.get_username() if note.author else "system",
                    body=note.body,
                    order=2,
                )
            )
        lease_ids = [str(lease.pk) for lease in self.leases]
        handles = {lease.account_id: lease.account.handle for lease in self.leases}
        events = AuditEvent.objects.filter(
            object_type="lease_request", object_id=self.request.pk
        ) | AuditEvent.objects.filter(object_type="lease", object_id__in=lease_ids)
        # Renewals show as their ledger charge; the audit line would say the same twice.
        for event in events.exclude(action="lease.renew").order_by("-created_at", "-id")[
            :TIMELINE_LIMIT
        ]:
            items.append(_event_item(event, handles))
        charges = (
            LedgerEntry.objects.filter(lease__request=self.request)
            .select_related("lease__account")
            .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
        )
        for entry in charges:
            handle = entry.lease.account.handle if entry.lease else ""
            what = "Renewal" if entry.kind == LedgerEntry.Kind.RENEWAL_CHARGE else "Charge"
            items.append(
                TimelineItem(
                    at=entry.created_at,
                    kind="charge",
                    title=f"{what} for @{handle}",
                    who=entry.actor_label,
                    amount_cents=-entry.amount_cents,
                    balance_after_cents=entry.balance_after_cents,
                    order=1,
                )
            )
        items.sort(key=lambda item: (item.at, item.order), reverse=True)
        return items[:TIMELINE_LIMIT]

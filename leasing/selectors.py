"""Reads for the dashboard: permission-scoped querysets and the pages built from them.

Every list starts from what the user may see and is narrowed by a FilterSet. Page objects
compute their parts lazily (cached properties), so a view that only re-renders one htmx
region only runs the queries that region needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Collate, Lower
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from django.utils import timezone

from leasing.filters import (
    AT_RISK_RUNWAY_DAYS,
    ApiCallFilter,
    AuditFilter,
    PartnerFilter,
    PoolFilter,
    QueueFilter,
    as_public_id,
)
from leasing.ids import id_prefix, is_id
from leasing.models import (
    ApiCallLog,
    ApiKey,
    AuditEvent,
    Lease,
    LeaseRequest,
    LedgerEntry,
    LedgerMonth,
    OpenRequestTotals,
    Organization,
    PoolAccount,
    Project,
    ReadySupply,
    RenewalDayTotals,
    RequestNote,
)
from leasing.money import format_cents
from leasing.paging import AFTER, BEFORE, window
from leasing.services.allocation import Candidate, candidates_rank
from leasing.services.validation import language_primary, normalize_vertical

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser

    AnyUser = AbstractUser | AnonymousUser

DASHBOARD_PERMISSION = "leasing.view_dashboard"
QUEUE_PAGE_SIZE = 50
# Deep pages stay cheap (see page_of): page 2,000 is the 100,000th row.
QUEUE_MAX_PAGE = 2000
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
    rows: list[dict[str, Any]] = field(default_factory=list)
    has_next: bool = False
    # Open requests per status, for the tabs.
    open_counts: dict[str, int] = field(default_factory=dict)
    # Where the Next and Previous links continue from (leasing/paging.py).
    next_cursor: str = ""
    previous_cursor: str = ""

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_row_number(self) -> int:
        return (self.page - 1) * QUEUE_PAGE_SIZE + 1

    @property
    def last_row_number(self) -> int:
        return self.first_row_number + len(self.rows) - 1


# What a queue row shows (and the keys every queue sort seeks by), read as plain values:
# building 50 requests with their partner, project and claimer as model instances cost
# more than the query.
QUEUE_ROW_FIELDS = (
    "id",
    "request_key",
    "status",
    "vertical",
    "language",
    "geo",
    "count",
    "assigned_count",
    "submitted_at",
    "claimed_by_id",
    "organization__name",
    "project__name",
    "claimed_by__username",
    "claimed_by__first_name",
    "claimed_by__last_name",
    "latest_note",
    "latest_note_visibility",
)


def queue_rows(queryset: QuerySet[Any, Any]) -> QuerySet[LeaseRequest, dict[str, Any]]:
    """What a queue row shows, in one query: the latest note is the copy the request keeps
    (LeaseRequest.latest_note), not a search through its notes."""
    rows: QuerySet[LeaseRequest, dict[str, Any]] = queryset.values(*QUEUE_ROW_FIELDS)
    return rows


def open_request_counts(user: AnyUser) -> dict[str, int]:
    """Open requests per status, for the queue's tabs: a sum over the few shard rows of
    the OpenRequestTotals rollup the services keep, however long the backlog.

    Closed statuses are not counted: they grow without end, and nobody works from them.
    """
    counts = {str(status): 0 for status in LeaseRequest.OPEN_STATUSES}
    if not _can_view(user):
        return counts
    # The shard rows (two statuses by 16 shards) are summed here: the ORM took longer to
    # build a GROUP BY than the database took to answer it (0.54 against 0.29 ms).
    for status, requests in OpenRequestTotals.objects.order_by().values_list("status", "requests"):
        counts[status] = counts.get(status, 0) + requests
    return counts


def queue_page(*, user: AnyUser, data: QueryDict, page: int, request: Any = None) -> QueuePage:
    """One page of the filtered queue, fetched without counting the whole table.

    Fetching one row more than a page says whether there is a next page.
    """
    filterset = QueueFilter(data, queryset=requests_visible_to(user), request=request)
    result = QueuePage(filterset=filterset, page=page, open_counts=open_request_counts(user))
    if not filterset.is_valid():
        return result
    shown = window(
        filterset.qs,
        start=(page - 1) * QUEUE_PAGE_SIZE,
        size=QUEUE_PAGE_SIZE,
        after=data.get(AFTER, ""),
        before=data.get(BEFORE, ""),
        shown=queue_rows,
        direct=True,
    )
    result.rows = shown.rows
    result.has_next = shown.has_next and page < QUEUE_MAX_PAGE
    result.next_cursor, result.previous_cursor = shown.next_cursor, shown.previous_cursor
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


# =====================================================================================
# Partners, pool, supply and demand, renewals, audit log and search (issue 5)
# =====================================================================================

T = TypeVar("T", bound=Model)

PARTNER_PAGE_SIZE = 50
POOL_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50
MAX_PAGE = QUEUE_MAX_PAGE
# Runway counts a month as 30 days: a little pessimistic, never optimistic.
RUNWAY_MONTH_DAYS = 30
# The partner page shows the head of each long list; "View all" opens the paged list.
PARTNER_LEASES_SHOWN = 25
PARTNER_PROJECTS_SHOWN = 25
PARTNER_REQUESTS_SHOWN = 25
PARTNER_LEDGER_SHOWN = 25
PARTNER_CALLS_SHOWN = 25
PARTNER_LIST_PAGE_SIZE = 50
# Ended leases have no rollup; the heading counts them up to here ("100+").
ENDED_LEASES_COUNTED = 100
BURN_CHART_MONTHS = 12
RENEWAL_HORIZON_DAYS = 30
ACCOUNT_TRAIL_LIMIT = 200
# The renewals page: partners named in a day's row, wallets listed as short (the CSV
# report has every one), and the latest charges and failures (the audit log has the rest).
DAY_PARTNERS_SHOWN = 5
UNCOVERED_SHOWN = 25
RECENT_RENEWALS_SHOWN = 20
# Verticals per page of the supply and demand table, and languages listed for each (the
# rest fold into one line that links to the vertical on its own).
SUPPLY_PAGE_SIZE = 25
SUPPLY_LANGUAGES_SHOWN = 4
SEARCH_GROUP_LIMIT = 6
CHARGE_KINDS = (LedgerEntry.Kind.LEASE_CHARGE, LedgerEntry.Kind.RENEWAL_CHARGE)


def _can_view(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.has_perm(DASHBOARD_PERMISSION))


def organizations_visible_to(user: AnyUser) -> QuerySet[Organization]:
    return Organization.objects.all() if _can_view(user) else Organization.objects.none()


def pool_visible_to(user: AnyUser) -> QuerySet[PoolAccount]:
    return PoolAccount.objects.all() if _can_view(user) else PoolAccount.objects.none()


def ledger_visible_to(user: AnyUser) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.all() if _can_view(user) else LedgerEntry.objects.none()


def audit_visible_to(user: AnyUser) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all() if _can_view(user) else AuditEvent.objects.none()


def api_calls_visible_to(user: AnyUser) -> QuerySet[ApiCallLog]:
    return ApiCallLog.objects.all() if _can_view(user) else ApiCallLog.objects.none()


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a list, found by fetching one row more than a page (no COUNT)."""

    rows: list[T]
    page: int
    page_size: int
    has_next: bool
    # Where the Next and Previous links continue from (leasing/paging.py).
    next_cursor: str = ""
    previous_cursor: str = ""

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_row_number(self) -> int:
        return (self.page - 1) * self.page_size + 1

    @property
    def last_row_number(self) -> int:
        return self.first_row_number + len(self.rows) - 1


def paged(
    queryset: QuerySet[T], *, page: int, page_size: int, data: QueryDict | None = None
) -> Paged[T]:
    cursors = data if data is not None else QueryDict()
    shown = window(
        queryset,
        start=(page - 1) * page_size,
        size=page_size,
        after=cursors.get(AFTER, ""),
        before=cursors.get(BEFORE, ""),
    )
    return Paged(
        rows=shown.rows,
        page=page,
        page_size=page_size,
        has_next=shown.has_next and page < MAX_PAGE,
        next_cursor=shown.next_cursor,
        previous_cursor=shown.previous_cursor,
    )


# ----------------------------------------------------------------------- partners


def _active_leases() -> QuerySet[Lease]:
    """Active leases of the outer query's organization."""
    return Lease.objects.filter(
        organization=OuterRef("pk"), status=Lease.Status.ASSIGNED
    ).order_by()


def _count_of(queryset: QuerySet[Any], group: str) -> Coalesce:
    counted = queryset.values(group).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def partner_rows(queryset: QuerySet[Organization]) -> QuerySet[Organization]:
    """Organizations with what the partner list shows, in one query however many leases.

    Burn, active accounts and the next renewal come from each partner's LeaseTotals (a
    rollup the lease services keep current), so sorting and filtering thousands of
    partners by them reads one row per partner, not every active lease. Open requests
    are a correlated count served by the request_open_by_organization index.
    """
    open_requests = LeaseRequest.objects.filter(
        organization=OuterRef("pk"), status__in=LeaseRequest.OPEN_STATUSES
    ).order_by()
    return (
        queryset.annotate(
            burn_cents=Coalesce(F("lease_totals__burn_cents"), 0, output_field=BigIntegerField()),
            active_accounts=Coalesce(
                F("lease_totals__active_leases"), 0, output_field=IntegerField()
            ),
            next_renewal_at=F("lease_totals__next_renewal_at"),
            open_requests=_count_of(open_requests, "organization"),
            next_renewal_cents=Coalesce(
                F("lease_totals__next_renewal_cents"), 0, output_field=BigIntegerField()
            ),
        )
        .annotate(
            runway_days=Case(
                When(
                    burn_cents__gt=0,
                    then=ExpressionWrapper(
                        F("balance_cents") * RUNWAY_MONTH_DAYS / F("burn_cents"),
                        output_field=IntegerField(),
                    ),
                ),
                default=Value(None, output_field=IntegerField()),
            ),
        )
        .annotate(
            at_risk=Case(
                When(
                    Q(runway_days__lt=AT_RISK_RUNWAY_DAYS)
                    | Q(next_renewal_cents__gt=F("balance_cents")),
                    then=Value(True),
                ),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    )


@dataclass(frozen=True)
class PartnerStats:
    """The partner list's figures for one partner (from partner_rows)."""

    balance_cents: int
    price_cents: int
    burn_cents: int
    active_accounts: int
    runway_days: int | None
    next_renewal_at: datetime | None
    next_renewal_cents: int
    open_requests: int
    at_risk: bool

    @classmethod
    def of(cls, org: Organization) -> PartnerStats:
        return cls(
            balance_cents=org.balance_cents,
            price_cents=org.monthly_price_cents,
            burn_cents=int(getattr(org, "burn_cents", 0) or 0),
            active_accounts=int(getattr(org, "active_accounts", 0) or 0),
            runway_days=getattr(org, "runway_days", None),
            next_renewal_at=getattr(org, "next_renewal_at", None),
            next_renewal_cents=int(getattr(org, "next_renewal_cents", 0) or 0),
            open_requests=int(getattr(org, "open_requests", 0) or 0),
            at_risk=bool(getattr(org, "at_risk", False)),
        )

    @property
    def accounts_covered(self) -> int:
        return self.balance_cents // self.price_cents if self.price_cents else 0

    @property
    def next_renewal_covered(self) -> bool:
        return self.next_renewal_cents <= self.balance_cents


@dataclass
class PartnersPage:
    filterset: PartnerFilter
    paged: Paged[Organization] | None = None
    at_risk_count: int = 0


def partners_page(*, user: AnyUser, data: QueryDict, page: int) -> PartnersPage:
    base = partner_rows(organizations_visible_to(user)).order_by("name", "id")
    filterset = PartnerFilter(data, queryset=base)
    # Partners are few (hundreds); counting the at-risk ones for the tab is cheap.
    result = PartnersPage(filterset=filterset, at_risk_count=base.filter(Q(at_risk=True)).count())
    if filterset.is_valid():
        result.paged = paged(filterset.qs, page=page, page_size=PARTNER_PAGE_SIZE, data=data)
    return result


def partner_for_staff(*, user: AnyUser, pk: str) -> Organization:
    return get_object_or_404(partner_rows(organizations_visible_to(user)), pk=pk)


# Ended leases counted up to one past the cap, off the lease_org_ended index: a partner
# with 50,000 of them reads 101 index entries, not 50,000.
_ENDED_LEASES_COUNT_SQL = (
    "SELECT COUNT(*) FROM (SELECT 1 FROM leasing_lease "
    'WHERE organization_id = "leasing_organization"."id" AND status = %s '
    "AND disconnected_at IS NOT NULL LIMIT %s) AS counted"
)


def partner_page_for_staff(*, user: AnyUser, pk: str) -> Organization:
    """The partner with partner_for_staff's figures and the sizes of the partner page's
    lists (active leases are the LeaseTotals count already among those figures)."""
    projects = Project.objects.filter(organization=OuterRef("pk")).order_by()
    rows = partner_rows(organizations_visible_to(user)).annotate(
        project_count=_count_of(projects, "organization"),
        ended_leases_counted=RawSQL(  # noqa: S611 (constant SQL; every value is a parameter)
            _ENDED_LEASES_COUNT_SQL,
            [Lease.Status.DISCONNECTED, ENDED_LEASES_COUNTED + 1],
            output_field=IntegerField(),
        ),
    )
    return get_object_or_404(rows, pk=pk)


def ended_leases_label(org: Organization) -> str:
    """How many ended leases partner_page_for_staff counted, as a heading shows it:
    "100+" past the count's cap."""
    counted = getattr(org, "ended_leases_counted", None)
    if counted is None:
        return ""
    return f"{ENDED_LEASES_COUNTED}+" if counted > ENDED_LEASES_COUNTED else str(counted)


@dataclass(frozen=True)
class MonthAmount:
    month: date
    cents: int


@dataclass(frozen=True)
class RenewalDay:
    """Renewals falling on one day and whether the wallet, as it stands, covers them."""

    day: date
    leases: int
    cents: int
    cumulative_cents: int
    covered: bool


def _month_start(moment: date) -> date:
    return moment.replace(day=1)


def _months_back(first: date, months: int) -> list[date]:
    """`months` month starts ending with `first`'s month, oldest first."""
    out = [first]
    for _ in range(months - 1):
        out.append((out[-1] - timedelta(days=1)).replace(day=1))
    return list(reversed(out))


def _renewal_rows(organization_id: str, *, now: datetime) -> QuerySet[RenewalDayTotals]:
    """The partner's renewal days from now to the end of the horizon's last day, and any
    overdue ones: a few rows of the RenewalDayTotals rollup (the renewal_day_unique
    index), however many leases renew. The window is the renewals page's."""
    until = (now + timedelta(days=RENEWAL_HORIZON_DAYS)).astimezone(UTC).date()
    return RenewalDayTotals.objects.filter(organization_id=organization_id, day__lte=until)


def _walk_renewals(rows: list[tuple[date, int, int]], *, balance_cents: int) -> list[RenewalDay]:
    """Renewal days in date order, walking the wallet down as they fall."""
    days, total = [], 0
    for day, n, cents in sorted(rows):
        total += int(cents)
        days.append(
            RenewalDay(
                day=day,
                leases=int(n),
                cents=int(cents),
                cumulative_cents=total,
                covered=total <= balance_cents,
            )
        )
    return days


def renewal_days(*, organization: Organization, now: datetime | None = None) -> list[RenewalDay]:
    """The partner's renewals over the horizon, per day, walking its wallet down as they
    fall (what the partner page shows)."""
    rows = _renewal_rows(organization.pk, now=now or timezone.now())
    return _walk_renewals(
        list(rows.values_list("day", "leases", "cents")), balance_cents=organization.balance_cents
    )


# The partner page's two lease lists, each a page of ids off its own partial index, in one
# query. Written out because each half needs its own ORDER BY ... LIMIT, which Django's
# union() cannot express portably (SQLite refuses it without the derived tables).
_SHOWN_LEASES_SQL = (
    "SELECT id FROM (SELECT id FROM leasing_lease WHERE organization_id = %s AND status = %s "
    "ORDER BY next_renewal_at, id LIMIT %s) AS active "
    "UNION ALL "
    "SELECT id FROM (SELECT id FROM leasing_lease WHERE organization_id = %s AND status = %s "
    "ORDER BY disconnected_at DESC, id DESC LIMIT %s) AS ended"
)
# Open requests (newest first) and the latest closed ones, likewise.
_SHOWN_REQUESTS_SQL = (
    "SELECT id FROM (SELECT id FROM leasing_leaserequest WHERE organization_id = %s "
    "AND status IN (%s, %s) ORDER BY submitted_at DESC, id DESC LIMIT %s) AS open_now "
    "UNION ALL "
    "SELECT id FROM (SELECT id FROM leasing_leaserequest WHERE organization_id = %s "
    "AND status NOT IN (%s, %s) ORDER BY submitted_at DESC, id DESC LIMIT %s) AS closed"
)


# What the partner page's requests table and the partner-safe summary read of a request
# (and its project's name, annotated as project_name: a Project per row costs more).
PARTNER_REQUEST_FIELDS = (
    "organization_id",
    "request_key",
    "count",
    "vertical",
    "language",
    "geo",
    "status",
    "assigned_count",
    "submitted_at",
)


@dataclass(frozen=True)
class ShownLease:
    """A lease as the partner page's lease tables show it. Read as values: a model
    instance and its account, project and request instances per row cost more than the
    query."""

    id: int
    status: str
    account_id: str
    handle: str
    followers: int
    project: str
    request_id: str | None
    request_key: str | None
    assigned_at: datetime
    monthly_price_cents: int
    next_renewal_at: datetime | None
    disconnected_at: datetime | None
    disconnected_reason: str
    disconnected_note: str


@dataclass(frozen=True)
class ShownProject:
    id: str
    name: str
    active_leases: int
    open_requests: int


# partner_project_rows' first rows: off project_name_per_org, each count off its index
# (lease_project_list; request_open_by_organization, hence the partner in it too).
_SHOWN_PROJECTS_SQL = (
    "SELECT p.id, p.name, "
    "(SELECT COUNT(*) FROM leasing_lease l WHERE l.project_id = p.id AND l.status = %s), "
    "(SELECT COUNT(*) FROM leasing_leaserequest r WHERE r.organization_id = p.organization_id "
    "AND r.project_id = p.id AND r.status IN (%s, %s)) "
    "FROM leasing_project p WHERE p.organization_id = %s ORDER BY p.name, p.id LIMIT %s"
)

SHOWN_LEASE_COLUMNS = (
    "id",
    "status",
    "account_id",
    "account__handle",
    "account__followers",
    "project__name",
    "request_id",
    "request__request_key",
    "assigned_at",
    "monthly_price_cents",
    "next_renewal_at",
    "disconnected_at",
    "disconnected_reason",
    "disconnected_note",
)
# What its ledger and key lists show.
PARTNER_LEDGER_FIELDS = (
    "organization_id",
    "kind",
    "amount_cents",
    "balance_after_cents",
    "memo",
    "actor_label",
    "created_at",
)
PARTNER_KEY_FIELDS = (
    "organization_id",
    "name",
    "display_prefix",
    "scopes",
    "tier",
    "created_at",
    "last_used_at",
    "revoked_at",
)


class PartnerPage:
    """Support's 360 of one partner; each part is one query, run when first shown."""

    def __init__(
        self, *, organization: Organization, calls: ApiCallFilter, now: datetime | None = None
    ) -> None:
        self.organization = organization
        self.stats = PartnerStats.of(organization)
        self.calls_filter = calls
        self.now = now or timezone.now()

    @cached_property
    def projects(self) -> list[ShownProject]:
        """The first projects by name (the whole list is partner_projects_page), with the
        same counts. Written out: the ORM took longer to build this query than the
        database took to run it."""
        params = [Lease.Status.ASSIGNED, *LeaseRequest.OPEN_STATUSES]
        with connection.cursor() as cursor:
            cursor.execute(
                _SHOWN_PROJECTS_SQL, [*params, self.organization.pk, PARTNER_PROJECTS_SHOWN]
            )
            return [ShownProject(*row) for row in cursor.fetchall()]

    @property
    def project_count(self) -> int | None:
        """From partner_page_for_staff's annotation."""
        return getattr(self.organization, "project_count", None)

    @property
    def more_projects(self) -> bool:
        return (self.project_count or 0) > len(self.projects)

    @property
    def ended_leases_count(self) -> str:
        return ended_leases_label(self.organization)

    @cached_property
    def _leases_shown(self) -> list[ShownLease]:
        """The first active leases and the latest ended ones (one more of each than shown,
        to tell whether there are more), in one query."""
        n = PARTNER_LEASES_SHOWN + 1
        org = self.organization.pk
        ids = RawSQL(  # noqa: S611 (constant SQL; every value is a parameter)
            _SHOWN_LEASES_SQL,
            [org, Lease.Status.ASSIGNED, n, org, Lease.Status.DISCONNECTED, n],
        )
        rows = Lease.objects.filter(pk__in=ids).values_list(*SHOWN_LEASE_COLUMNS).order_by()
        return [ShownLease(*row) for row in rows]

    @cached_property
    def _active_leases(self) -> list[ShownLease]:
        rows = [lease for lease in self._leases_shown if lease.status == Lease.Status.ASSIGNED]
        return sorted(rows, key=lambda lease: (lease.next_renewal_at, lease.id))

    @property
    def active_leases(self) -> list[ShownLease]:
        return self._active_leases[:PARTNER_LEASES_SHOWN]

    @property
    def more_active_leases(self) -> bool:
        return len(self._active_leases) > PARTNER_LEASES_SHOWN

    @cached_property
    def _ended_leases(self) -> list[ShownLease]:
        rows = [lease for lease in self._leases_shown if lease.status != Lease.Status.ASSIGNED]
        return sorted(rows, key=lambda lease: (lease.disconnected_at, lease.id), reverse=True)

    @property
    def ended_leases(self) -> list[ShownLease]:
        return self._ended_leases[:PARTNER_LEASES_SHOWN]

    @property
    def more_ended_leases(self) -> bool:
        return len(self._ended_leases) > PARTNER_LEASES_SHOWN

    @cached_property
    def requests(self) -> list[LeaseRequest]:
        """Open requests first (all of them), then the latest closed ones."""
        partner_note = RequestNote.objects.filter(
            request=OuterRef("pk"), visibility=RequestNote.Visibility.PARTNER
        ).order_by("-created_at", "-id")
        n, org = PARTNER_REQUESTS_SHOWN, self.organization.pk
        ids = RawSQL(_SHOWN_REQUESTS_SQL, [org, *LeaseRequest.OPEN_STATUSES, n] * 2)  # noqa: S611
        rows = (
            LeaseRequest.objects.filter(pk__in=ids)
            .only(*PARTNER_REQUEST_FIELDS)
            .annotate(
                project_name=F("project__name"),
                latest_partner_note=Subquery(partner_note.values("body")[:1]),
            )
            .order_by()
        )
        # Newest first (ties by the higher id), then the open ones ahead: the sort is stable.
        shown: list[LeaseRequest] = sorted(rows, key=lambda r: (r.submitted_at, r.pk), reverse=True)
        shown.sort(key=lambda r: not r.is_open)
        return shown[:n]

    @cached_property
    def _ledger(self) -> list[LedgerEntry]:
        rows = (
            LedgerEntry.objects.filter(organization=self.organization)
            .only(*PARTNER_LEDGER_FIELDS)
            .order_by("-created_at", "-id")
        )
        return list(rows[: PARTNER_LEDGER_SHOWN + 1])

    @property
    def ledger(self) -> list[LedgerEntry]:
        return self._ledger[:PARTNER_LEDGER_SHOWN]

    @property
    def more_ledger(self) -> bool:
        return len(self._ledger) > PARTNER_LEDGER_SHOWN

    @cached_property
    def api_keys(self) -> list[ApiKey]:
        return list(
            ApiKey.objects.filter(organization=self.organization)
            .only(*PARTNER_KEY_FIELDS)
            .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
        )

    @cached_property
    def _api_calls(self) -> list[ApiCallLog]:
        if not self.calls_filter.is_valid():
            return []
        return list(self.calls_filter.qs[: PARTNER_CALLS_SHOWN + 1])

    @property
    def api_calls(self) -> list[ApiCallLog]:
        return self._api_calls[:PARTNER_CALLS_SHOWN]

    @property
    def more_api_calls(self) -> bool:
        return len(self._api_calls) > PARTNER_CALLS_SHOWN

    @cached_property
    def _charts(self) -> dict[str, list[tuple[date, int, int]]]:
        """Burn per month and renewals per day, both read from rollups (LedgerMonth and
        RenewalDayTotals), in one query."""
        months = LedgerMonth.objects.filter(
            organization=self.organization, month__gte=self._months[0]
        ).values_list(Value("burn"), "month", "charges", "charged_cents")
        renewals = _renewal_rows(self.organization.pk, now=self.now).values_list(
            Value("renewal"), "day", "leases", "cents"
        )
        charts: dict[str, list[tuple[date, int, int]]] = {"burn": [], "renewal": []}
        for kind, day, n, cents in months.union(renewals, all=True):
            charts[kind].append((_as_date(day), int(n), int(cents)))
        return charts

    @cached_property
    def _months(self) -> list[date]:
        return _months_back(_month_start(self.now.date()), BURN_CHART_MONTHS)

    @cached_property
    def burn_by_month(self) -> list[MonthAmount]:
        """Lease charges per calendar month (UTC), the last 12 months, oldest first."""
        by_month = {month: cents for month, _, cents in self._charts["burn"]}
        return [MonthAmount(month=m, cents=by_month.get(m, 0)) for m in self._months]

    @cached_property
    def renewals(self) -> list[RenewalDay]:
        return _walk_renewals(
            self._charts["renewal"], balance_cents=self.organization.balance_cents
        )

    @property
    def renewals_cents(self) -> int:
        return self.renewals[-1].cumulative_cents if self.renewals else 0

    @property
    def first_uncovered(self) -> RenewalDay | None:
        return next((day for day in self.renewals if not day.covered), None)

    @cached_property
    def summary(self) -> str:
        return partner_safe_summary(self)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _project_name(r: LeaseRequest) -> str:
    """PartnerPage.requests' annotation."""
    return str(getattr(r, "project_name", ""))


def partner_safe_summary(page: PartnerPage) -> str:
    """What support may paste to the partner: their own figures and partner-visible notes.

    Internal notes, other partners and staff names never appear.
    """
    org, stats = page.organization, page.stats
    lines = [
        f"{org.name}: account summary ({page.now:%Y-%m-%d %H:%M} UTC)",
        "",
        f"Wallet balance: {format_cents(stats.balance_cents)}",
        f"Price per account: {format_cents(stats.price_cents)} per month",
        f"Active accounts: {stats.active_accounts} "
        f"({format_cents(stats.burn_cents)} per month in total)",
    ]
    if stats.next_renewal_at is not None:
        lines.append(
            f"Next renewal: {stats.next_renewal_at:%Y-%m-%d}, "
            f"{format_cents(stats.next_renewal_cents)}"
        )
    if page.renewals:
        covered = page.first_uncovered
        lines.append(
            f"Renewals in the next {RENEWAL_HORIZON_DAYS} days: "
            f"{sum(d.leases for d in page.renewals)} account(s), "
            f"{format_cents(page.renewals_cents)}"
            + (
                f"; the current balance covers them until {covered.day:%Y-%m-%d}"
                if covered
                else "; the current balance covers them all"
            )
        )
    open_requests = [r for r in page.requests if r.is_open]
    lines += ["", f"Open requests: {len(open_requests) or 'none'}"]
    for r in open_requests:
        lines.append(
            f"- {r.request_key} ({_project_name(r)}): {r.assigned_count} of {r.count} "
            f"{r.vertical} account(s) assigned, status {r.api_status}"
        )
    closed = [r for r in page.requests if not r.is_open][:5]
    if closed:
        lines += ["", "Recently closed requests:"]
        for r in closed:
            lines.append(
                f"- {r.request_key} ({_project_name(r)}): {r.api_status}, "
                f"{r.assigned_count} of {r.count} assigned"
            )
    noted = [r for r in page.requests if getattr(r, "latest_partner_note", None)]
    if noted:
        lines += ["", "Notes from Layers:"]
        for r in noted:
            lines.append(
                f"- {r.request_key}: {first_line_of(str(getattr(r, 'latest_partner_note', '')))}"
            )
    return "\n".join(lines)


def first_line_of(text: str, length: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"


def partner_lease_rows(leases: QuerySet[Lease]) -> QuerySet[Lease]:
    """Leases with what the partner's lease tables show, and only that: a page of them
    builds four model instances per row, and the request's other fields are wide."""
    return leases.select_related("account", "project", "request").only(
        "organization_id",
        "status",
        "assigned_at",
        "monthly_price_cents",
        "next_renewal_at",
        "disconnected_at",
        "disconnected_reason",
        "disconnected_note",
        "account__handle",
        "account__followers",
        "project__name",
        "request__request_key",
    )


def partner_project_rows(organization: Organization) -> QuerySet[Project]:
    """The partner's projects by name, each with its active leases and open requests.

    The counts are correlated subqueries, so they run for the rows of the page only
    (page_of selects the page's ids first).
    """
    active = Lease.objects.filter(project=OuterRef("pk"), status=Lease.Status.ASSIGNED).order_by()
    # The partner too, so the count reads request_open_by_organization (the open
    # requests only) rather than every request the project ever made.
    open_requests = LeaseRequest.objects.filter(
        organization=organization,
        project=OuterRef("pk"),
        status__in=LeaseRequest.OPEN_STATUSES,
    ).order_by()
    return (
        Project.objects.filter(organization=organization)
        .annotate(
            active_leases=_count_of(active, "project"),
            open_requests=_count_of(open_requests, "project"),
        )
        .order_by("name", "id")
    )


def partner_projects_page(
    *, organization: Organization, data: QueryDict, page: int
) -> Paged[Project]:
    """A page of the partner's projects, off the project_name_per_org index."""
    return paged(
        partner_project_rows(organization), page=page, page_size=PARTNER_LIST_PAGE_SIZE, data=data
    )


def partner_leases_page(
    *, user: AnyUser, organization: Organization, ended: bool, data: QueryDict, page: int
) -> Paged[Lease]:
    """A page of the partner's active leases (soonest renewal first, the lease_org_active
    index) or ended ones (latest first, lease_org_ended), as the partner page orders them.

    The dates are never empty for these statuses (lease_status_fields_consistent); the
    filter says so too, which is what lets Next seek from a row (leasing/paging.py).
    """
    leases = partner_lease_rows(leases_visible_to(user).filter(organization=organization))
    if ended:
        leases = leases.filter(
            status=Lease.Status.DISCONNECTED, disconnected_at__isnull=False
        ).order_by("-disconnected_at", "-id")
    else:
        leases = leases.filter(
            status=Lease.Status.ASSIGNED, next_renewal_at__isnull=False
        ).order_by("next_renewal_at", "id")
    return paged(leases, page=page, page_size=PARTNER_LIST_PAGE_SIZE, data=data)


# ----------------------------------------------------------------------- pool


def pool_rows(queryset: QuerySet[PoolAccount]) -> QuerySet[PoolAccount]:
    """Pool accounts with their active lease's partner (the partial unique index on
    Lease.account makes each subquery one index probe)."""
    lease = Lease.objects.filter(account=OuterRef("pk"), status=Lease.Status.ASSIGNED)
    return queryset.annotate(
        lease_partner_id=Subquery(lease.values("organization_id")[:1]),
        lease_partner_name=Subquery(lease.values("organization__name")[:1]),
        lease_project_name=Subquery(lease.values("project__name")[:1]),
    )


@dataclass
class PoolPage:
    filterset: PoolFilter
    paged: Paged[PoolAccount] | None = None


def pool_page(*, user: AnyUser, data: QueryDict, page: int) -> PoolPage:
    base = pool_rows(pool_visible_to(user)).order_by("-followers", "id")
    filterset = PoolFilter(data, queryset=base)
    result = PoolPage(filterset=filterset)
    if filterset.is_valid():
        result.paged = paged(filterset.qs, page=page, page_size=POOL_PAGE_SIZE, data=data)
    return result


def pool_account_for_staff(*, user: AnyUser, pk: str) -> PoolAccount:
    return get_object_or_404(pool_visible_to(user), pk=pk)


class PoolAccountPage:
    def __init__(self, *, account: PoolAccount) -> None:
        self.account = account

    @cached_property
    def leases(self) -> list[Lease]:
        return list(
            Lease.objects.filter(account=self.account)
            .select_related("organization", "project", "request")
            .order_by("-assigned_at", "-id")
        )

    @cached_property
    def active_lease(self) -> Lease | None:
        return next((le for le in self.leases if le.status == Lease.Status.ASSIGNED), None)

    @cached_property
    def trail(self) -> list[AuditEvent]:
        """The account's own events and those of its leases, newest first."""
        lease_ids = [str(lease.pk) for lease in self.leases]
        events = AuditEvent.objects.filter(
            object_type="pool_account", object_id=self.account.pk
        ) | AuditEvent.objects.filter(object_type="lease", object_id__in=lease_ids)
        return list(events.order_by("-created_at", "-id")[:ACCOUNT_TRAIL_LIMIT])


# ----------------------------------------------------------------------- supply and demand


@dataclass
class SupplyRow:
    """Ready accounts against open requests' remaining counts, for one language ('' = any)."""

    language: str
    ready: int = 0
    demand: int = 0
    requests: int = 0

    @property
    def shortfall(self) -> int:
        return max(0, self.demand - self.ready)


@dataclass(slots=True)
class SupplyGroup:
    """One vertical. A request that names a language can only use accounts in that
    language; one that names none can use whatever the others leave over.

    `supply_group` works the figures out once, comparing only the languages some request
    asks for, so ranking hundreds of verticals stays cheap; `language_rows` lists every
    language, for the few verticals a page shows.
    """

    vertical: str
    # Ready accounts per primary language; "?" for accounts with no language set.
    ready_by_language: dict[str, int]
    # [accounts still needed, open requests] per primary language asked for; "" for
    # requests that name none.
    wanted: dict[str, list[int]]
    ready: int
    demand: int
    requests: int
    # Ready accounts left once every language's own demand is met.
    spare: int
    # Accounts short: per language, plus any-language demand beyond the spare ones.
    shortfall: int

    def language_rows(self) -> list[SupplyRow]:
        """Languages, biggest shortfall first; the any-language demand last, set against
        the spare accounts it can use."""
        ready = self.ready_by_language
        rows = [
            SupplyRow(language=lang, ready=ready.get(lang, 0), demand=needed, requests=n)
            for lang, (needed, n) in self.wanted.items()
            if lang
        ]
        # "" is never a ready language ("?" stands for none), so this skips only those
        # already listed.
        rows += [
            SupplyRow(language=lang, ready=n)
            for lang, n in ready.items()
            if lang not in self.wanted
        ]
        rows.sort(key=lambda row: (-row.shortfall, -row.demand, -row.ready, row.language))
        if "" in self.wanted:
            needed, n = self.wanted[""]
            rows.append(SupplyRow(language="", ready=self.spare, demand=needed, requests=n))
        return rows


def supply_group(
    vertical: str, ready_by_language: dict[str, int], wanted: dict[str, list[int]]
) -> SupplyGroup:
    """A vertical's figures from its ready accounts and its open demand per language."""
    demand = requests = met = short = 0
    for lang, (needed, n) in wanted.items():
        demand += needed
        requests += n
        if lang:
            have = ready_by_language.get(lang, 0)
            met += min(have, needed)
            short += max(0, needed - have)
    ready = sum(ready_by_language.values())
    spare = ready - met
    any_language = wanted[""][0] if "" in wanted else 0
    return SupplyGroup(
        vertical=vertical,
        ready_by_language=ready_by_language,
        wanted=wanted,
        ready=ready,
        demand=demand,
        requests=requests,
        spare=spare,
        shortfall=short + max(0, any_language - spare),
    )


@dataclass(frozen=True)
class FoldedLanguages:
    """The languages of a vertical a page leaves out, summed."""

    count: int
    ready: int
    demand: int
    requests: int
    shortfall: int


@dataclass(frozen=True)
class SupplyPage:
    """Verticals of a SupplyBoard as one page shows them: each with its languages most
    short first, the rest folded into one line (`vertical` pages show every language)."""

    # (vertical, its languages shown, the rest folded, the any-language demand)
    rows: list[tuple[SupplyGroup, list[SupplyRow], FoldedLanguages | None, SupplyRow | None]]
    number: int
    total: int  # verticals on every page
    first: int  # 1-based position of the first vertical shown

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1

    @property
    def more(self) -> int:
        """Verticals after this page."""
        return max(0, self.total - self.last)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.more > 0


def _fold(
    group: SupplyGroup, languages: int | None
) -> tuple[SupplyGroup, list[SupplyRow], FoldedLanguages | None, SupplyRow | None]:
    """The group's first `languages` languages (all for None), the rest summed, and the
    any-language demand."""
    rows = group.language_rows()
    specific = [row for row in rows if row.language]
    any_language = next((row for row in rows if not row.language), None)
    if languages is None or len(specific) <= languages:
        return group, specific, None, any_language
    folded = specific[languages:]
    return (
        group,
        specific[:languages],
        FoldedLanguages(
            count=len(folded),
            ready=sum(row.ready for row in folded),
            demand=sum(row.demand for row in folded),
            requests=sum(row.requests for row in folded),
            shortfall=sum(row.shortfall for row in folded),
        ),
        any_language,
    )


@dataclass
class SupplyBoard:
    groups: list[SupplyGroup]

    def page(
        self, number: int, *, size: int = SUPPLY_PAGE_SIZE, languages: int = SUPPLY_LANGUAGES_SHOWN
    ) -> SupplyPage:
        """The verticals of page `number` (past the end, the last page), each showing its
        first `languages` languages."""
        last_page = max(1, -(-len(self.groups) // size))
        number = min(max(1, number), last_page)
        start = (number - 1) * size
        return SupplyPage(
            rows=[_fold(g, languages) for g in self.groups[start : start + size]],
            number=number,
            total=len(self.groups),
            first=start + 1,
        )

    def vertical(self, name: str) -> SupplyPage:
        """One vertical with every language (none when it has no supply or demand)."""
        found = [g for g in self.groups if g.vertical == name]
        return SupplyPage(
            rows=[_fold(g, None) for g in found],
            number=1,
            total=len(found),
            first=1,
        )

    @property
    def ready(self) -> int:
        return sum(g.ready for g in self.groups)

    @property
    def demand(self) -> int:
        return sum(g.demand for g in self.groups)

    @property
    def shortfall(self) -> int:
        return sum(g.shortfall for g in self.groups)

    @property
    def short_verticals(self) -> int:
        return sum(1 for g in self.groups if g.shortfall)


def supply_demand(*, user: AnyUser) -> SupplyBoard:
    """Two queries: ready accounts per vertical tag and language (the ReadySupply rollup
    the services keep), and the open requests' remaining counts per vertical and
    language. An account tagged with two verticals counts as supply for both.

    Plain dicts and tuples until each vertical's figures are known: the page ranks every
    vertical (thousands of rows) on each view.
    """
    if not _can_view(user):
        return SupplyBoard(groups=[])
    ready: dict[str, dict[str, int]] = {}
    # One row per vertical and language; rows that drop to zero are deleted.
    rows = ReadySupply.objects.order_by().values_list("vertical", "language", "accounts")
    for vertical, language, accounts in rows:
        by_language = ready.get(vertical)
        if by_language is None:
            by_language = ready[vertical] = {}
        by_language[language or "?"] = accounts
    wanted: dict[str, dict[str, list[int]]] = {}
    demand = (
        requests_visible_to(user)
        .filter(status__in=LeaseRequest.OPEN_STATUSES)
        .values("vertical", "language")
        .annotate(still_needed=Sum(F("count") - F("assigned_count")), n=Count("*"))
        .values_list("vertical", "language", "still_needed", "n")
        .order_by()
    )
    for vertical, language, still_needed, n in demand:
        # Requests keep the vertical and language as the partner wrote them.
        asked = wanted.setdefault(normalize_vertical(vertical), {})
        tally = asked.setdefault(language_primary(language), [0, 0])
        tally[0] += int(still_needed or 0)
        tally[1] += int(n)
    groups = [
        supply_group(vertical, ready.get(vertical, {}), wanted.get(vertical, {}))
        for vertical in ready.keys() | wanted.keys()
    ]
    groups.sort(key=lambda g: (-g.shortfall, -g.demand, -g.ready, g.vertical))
    return SupplyBoard(groups=groups)


# ----------------------------------------------------------------------- renewals


@dataclass
class PartnerRenewals:
    organization_id: str
    name: str
    balance_cents: int
    leases: int = 0
    cents: int = 0
    first_uncovered: date | None = None

    @property
    def shortfall_cents(self) -> int:
        return max(0, self.cents - self.balance_cents)


@dataclass
class DayRenewals:
    day: date
    leases: int = 0
    cents: int = 0
    uncovered_cents: int = 0
    # (organization id, name, leases, cents, covered).
    partners: list[tuple[str, str, int, int, bool]] = field(default_factory=list)
    # Set when the row sums every day from `day` to `last_day` (the overdue ones).
    last_day: date | None = None

    @property
    def overdue(self) -> bool:
        return self.day < timezone.now().date()

    @property
    def partners_shown(self) -> list[tuple[str, str, int, int, bool]]:
        """The partners a person needs first: those not covered, then by amount."""
        ranked = sorted(self.partners, key=lambda p: (p[4], -p[3], p[1]))
        return ranked[:DAY_PARTNERS_SHOWN]

    @property
    def partners_not_shown(self) -> int:
        return max(0, len(self.partners) - DAY_PARTNERS_SHOWN)


def _overdue_folded(days: list[DayRenewals]) -> DayRenewals:
    """Overdue days as one row, each partner once: covered only if it was every day."""
    partners: dict[str, tuple[str, str, int, int, bool]] = {}
    for day in days:
        for org_id, name, n, cents, covered in day.partners:
            seen = partners.get(org_id)
            if seen is not None:
                n, cents, covered = seen[2] + n, seen[3] + cents, seen[4] and covered
            partners[org_id] = (org_id, name, n, cents, covered)
    return DayRenewals(
        day=days[0].day,
        last_day=days[-1].day,
        leases=sum(day.leases for day in days),
        cents=sum(day.cents for day in days),
        uncovered_cents=sum(day.uncovered_cents for day in days),
        partners=sorted(partners.values(), key=lambda p: p[1]),
    )


@dataclass
class RenewalsBoard:
    days: list[DayRenewals]
    partners: list[PartnerRenewals]
    recent_charges: list[LedgerEntry]
    failures: list[Lease]
    horizon_days: int
    # Whether there are charges or failures before those listed.
    more_charges: bool = False
    more_failures: bool = False

    @cached_property
    def table_days(self) -> list[DayRenewals]:
        """The days as the table lists them: overdue ones (the job has not caught up, so
        normally none) folded into one row first."""
        overdue = [day for day in self.days if day.overdue]
        if len(overdue) < 2:
            return self.days
        return [_overdue_folded(overdue), *self.days[len(overdue) :]]

    @property
    def leases(self) -> int:
        return sum(day.leases for day in self.days)

    @property
    def cents(self) -> int:
        return sum(day.cents for day in self.days)

    @cached_property
    def uncovered_partners(self) -> list[PartnerRenewals]:
        return [p for p in self.partners if p.first_uncovered is not None]

    @property
    def uncovered_shown(self) -> list[PartnerRenewals]:
        return self.uncovered_partners[:UNCOVERED_SHOWN]

    @property
    def uncovered_not_shown(self) -> int:
        return max(0, len(self.uncovered_partners) - UNCOVERED_SHOWN)

    @property
    def uncovered_cents(self) -> int:
        return sum(p.shortfall_cents for p in self.partners)


def renewals_board(
    *, user: AnyUser, now: datetime | None = None, days: int = RENEWAL_HORIZON_DAYS
) -> RenewalsBoard:
    """Renewals due in the next `days` days (and any overdue), per UTC day and partner,
    read from the RenewalDayTotals rollup the services keep. The window ends with the
    whole of its last day, so that day is not cut short at the current time.

    Each partner's wallet is walked down day by day as it stands now (no future top-ups),
    so a day is flagged where that partner's renewals stop being covered.
    """
    now = now or timezone.now()
    until = (now + timedelta(days=days)).astimezone(UTC).date()
    visible = RenewalDayTotals.objects.all() if _can_view(user) else RenewalDayTotals.objects.none()
    rows = (
        visible.filter(day__lte=until)
        .values_list(
            "day",
            "organization_id",
            "organization__name",
            "organization__balance_cents",
            "leases",
            "cents",
        )
        # Day order is all the walk needs; partners are ranked in Python, where shown.
        .order_by("day")
    )
    by_day: dict[date, DayRenewals] = {}
    partners: dict[str, PartnerRenewals] = {}
    for when, org_id, name, balance_cents, n, cents in rows:
        partner = partners.get(org_id)
        if partner is None:
            partner = partners[org_id] = PartnerRenewals(
                organization_id=org_id, name=name, balance_cents=balance_cents
            )
        partner.leases += n
        partner.cents += cents
        covered = partner.cents <= partner.balance_cents
        if not covered and partner.first_uncovered is None:
            partner.first_uncovered = when
        day = by_day.setdefault(when, DayRenewals(day=when))
        day.leases += n
        day.cents += cents
        if not covered:
            day.uncovered_cents += min(cents, partner.cents - partner.balance_cents)
        day.partners.append((org_id, partner.name, n, cents, covered))
    # One row past those shown says whether the page should point to the rest.
    recent = list(
        ledger_visible_to(user)
        .filter(kind=LedgerEntry.Kind.RENEWAL_CHARGE)
        .select_related("organization", "lease__account")
        .only(
            "created_at",
            "amount_cents",
            "balance_after_cents",
            "period",
            "organization__name",
            "lease__account__handle",
        )
        .order_by("-created_at", "-id")[: RECENT_RENEWALS_SHOWN + 1]
    )
    failures = list(
        leases_visible_to(user)
        .filter(
            status=Lease.Status.DISCONNECTED,
            disconnected_reason=Lease.Reason.BILLING_EXHAUSTED,
        )
        .select_related("organization", "account", "project")
        .only(
            "disconnected_at",
            "disconnected_note",
            "organization__name",
            "account__handle",
            "project__name",
        )
        .order_by("-disconnected_at", "-id")[: RECENT_RENEWALS_SHOWN + 1]
    )
    return RenewalsBoard(
        days=[by_day[d] for d in sorted(by_day)],
        partners=sorted(
            partners.values(),
            key=lambda p: (p.first_uncovered is None, p.first_uncovered or date.max, p.name),
        ),
        recent_charges=recent[:RECENT_RENEWALS_SHOWN],
        failures=failures[:RECENT_RENEWALS_SHOWN],
        horizon_days=days,
        more_charges=len(recent) > RECENT_RENEWALS_SHOWN,
        more_failures=len(failures) > RECENT_RENEWALS_SHOWN,
    )


# ----------------------------------------------------------------------- audit log


@dataclass
class AuditPage:
    filterset: AuditFilter
    paged: Paged[AuditEvent] | None = None


def audit_page(*, user: AnyUser, data: QueryDict, page: int) -> AuditPage:
    base = audit_visible_to(user).select_related("organization").order_by("-created_at", "-id")
    filterset = AuditFilter(data, queryset=base)
    result = AuditPage(filterset=filterset)
    if filterset.is_valid():
        result.paged = paged(filterset.qs, page=page, page_size=AUDIT_PAGE_SIZE, data=data)
    return result


# ----------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchHit:
    """One thing the header search found. `kind` picks the page it opens."""

    kind: str  # partner, project, account, request, api_call
    pk: str
    title: str
    subtitle: str = ""
    # The partner page a project or an API call opens on.
    organization_id: str | None = None


@dataclass
class SearchResults:
    query: str
    exact: SearchHit | None = None
    partners: list[SearchHit] = field(default_factory=list)
    projects: list[SearchHit] = field(default_factory=list)
    accounts: list[SearchHit] = field(default_factory=list)
    requests: list[SearchHit] = field(default_factory=list)

    @property
    def groups(self) -> list[tuple[str, list[SearchHit]]]:
        return [
            (label, hits)
            for label, hits in (
                ("Partners", self.partners),
                ("Projects", self.projects),
                ("Handles", self.accounts),
                ("Requests", self.requests),
            )
            if hits
        ]

    @property
    def empty(self) -> bool:
        return self.exact is None and not self.groups


def _partner_hit(org: Organization) -> SearchHit:
    return SearchHit("partner", org.pk, org.name, f"{org.pk} · {org.get_status_display()}")


def _project_hit(project: Project) -> SearchHit:
    return SearchHit(
        "project",
        project.pk,
        project.name,
        f"{project.organization.name} · {project.pk}",
        organization_id=project.organization_id,
    )


def _account_hit(account: PoolAccount) -> SearchHit:
    return SearchHit(
        "account",
        account.pk,
        f"@{account.handle}",
        f"{account.get_state_display()} · {account.followers:,} followers · {account.pk}",
    )


def _request_hit(r: LeaseRequest) -> SearchHit:
    return SearchHit(
        "request",
        r.pk,
        r.request_key,
        f"{r.organization.name} · {r.project.name} · {r.get_status_display()}",
        organization_id=r.organization_id,
    )


def _byte_order(expression: Func) -> Func | Collate:
    """`expression` compared byte by byte ("C" collation on PostgreSQL, SQLite's default)."""
    return Collate(expression, "C") if connection.vendor == "postgresql" else expression


def find_by_id(*, user: AnyUser, text: str) -> SearchHit | None:
    """The object an exact public id names (org_, prj_, sa_, lreq_, req_), or None."""
    candidate = text.strip()
    head, sep, tail = candidate.partition("_")
    if sep:
        # Ids are a lower-case prefix and an upper-case ULID; accept them in any case.
        candidate = f"{head.lower()}_{tail.upper()}"
    prefix = id_prefix(candidate)
    if prefix == "org":
        org = organizations_visible_to(user).filter(pk=candidate).first()
        return _partner_hit(org) if org else None
    if prefix == "prj":
        project = (
            Project.objects.filter(pk=candidate, organization__in=organizations_visible_to(user))
            .select_related("organization")
            .first()
        )
        return _project_hit(project) if project else None
    if prefix == "sa":
        account = pool_visible_to(user).filter(pk=candidate).first()
        return _account_hit(account) if account else None
    if prefix == "lreq":
        found = requests_visible_to(user).filter(pk=candidate)
        r = found.select_related("organization", "project").first()
        return _request_hit(r) if r else None
    if prefix == "req":
        call = api_calls_visible_to(user).filter(request_id=candidate).first()
        if call is None:
            return None
        return SearchHit(
            "api_call",
            call.request_id,
            f"{call.method} {call.path}",
            f"{call.status}{' ' + call.error_code if call.error_code else ''} · "
            f"{call.created_at:%Y-%m-%d %H:%M:%S} UTC",
            organization_id=call.organization_id,
        )
    return None


PARTNER_SUGGESTIONS = 20


def partner_suggestions(*, user: AnyUser, text: str) -> list[str]:
    """Partner names for the partner filter's suggestions: names starting with `text`
    first, then names containing it, alphabetically within each."""
    query = text.strip()
    if not query:
        return list(
            organizations_visible_to(user)
            .order_by("name")
            .values_list("name", flat=True)[:PARTNER_SUGGESTIONS]
        )
    matching = organizations_visible_to(user).filter(name__icontains=query)
    names = list(
        matching.filter(name__istartswith=query)
        .order_by("name")
        .values_list("name", flat=True)[:PARTNER_SUGGESTIONS]
    )
    if len(names) < PARTNER_SUGGESTIONS:
        names += (
            matching.exclude(name__istartswith=query)
            .order_by("name")
            .values_list("name", flat=True)[: PARTNER_SUGGESTIONS - len(names)]
        )
    return names


def search_everything(
    *, user: AnyUser, text: str, limit: int = SEARCH_GROUP_LIMIT
) -> SearchResults:
    """Partners, projects, handles and requests matching `text`, a few of each."""
    query = text.strip()
    results = SearchResults(query=query)
    if not query:
        return results
    results.exact = find_by_id(user=user, text=query)
    if len(query) < 2:
        return results
    handle = query.lstrip("@")
    # Ids pasted in any case, found by primary key (an index) rather than UPPER(id).
    key = as_public_id(query)
    results.partners = [
        _partner_hit(org)
        for org in organizations_visible_to(user)
        .filter(Q(name__icontains=query) | Q(pk=key))
        .order_by("name")[:limit]
    ]
    results.projects = [
        _project_hit(project)
        for project in Project.objects.filter(organization__in=organizations_visible_to(user))
        .filter(Q(name__icontains=query) | Q(pk=key))
        .select_related("organization")
        .order_by("name", "id")[:limit]
    ]
    if handle:
        # A prefix of the lower-cased handle, in byte order: on PostgreSQL that is the
        # pool_handle_prefix index, walked in order from the prefix, so a common prefix
        # ("daily") costs what a rare one does.
        matches = Q(handle_key__startswith=handle.lower())
        if is_id(key, "sa"):
            matches |= Q(pk=key)
        results.accounts = [
            _account_hit(account)
            for account in pool_visible_to(user)
            .annotate(handle_key=_byte_order(Lower("handle")))
            .filter(matches)
            .order_by("handle_key", "id")[:limit]
        ]
    results.requests = [
        _request_hit(r)
        for r in requests_visible_to(user)
        .filter(Q(request_key__istartswith=query) | Q(pk=key))
        .select_related("organization", "project")
        .order_by("-submitted_at", "-id")[:limit]
    ]
    return results


# ----------------------------------------------------------------------- wallet previews


def first_uncovered_day(days: list[RenewalDay], balance_cents: int) -> date | None:
    """The first renewal day a wallet of `balance_cents` (and no top-up) cannot pay for."""
    return next((d.day for d in days if d.cumulative_cents > balance_cents), None)


def runway_days(balance_cents: int, burn_cents: int) -> int | None:
    """Days the wallet lasts at the current burn (same rule as the partner list)."""
    if burn_cents <= 0:
        return None
    return max(0, balance_cents) * RUNWAY_MONTH_DAYS // burn_cents


@dataclass(frozen=True)
class WalletEffect:
    """What a top-up or an adjustment would do, shown before finance confirms it."""

    stats: PartnerStats
    amount_cents: int
    renewals: list[RenewalDay]

    @property
    def before_cents(self) -> int:
        return self.stats.balance_cents

    @property
    def after_cents(self) -> int:
        return self.stats.balance_cents + self.amount_cents

    @property
    def allowed(self) -> bool:
        """The ledger refuses a balance below zero; the preview says so first."""
        return self.after_cents >= 0

    @property
    def covered_before(self) -> int:
        return self.before_cents // self.stats.price_cents

    @property
    def covered_after(self) -> int:
        return max(0, self.after_cents) // self.stats.price_cents

    @property
    def runway_before(self) -> int | None:
        return runway_days(self.before_cents, self.stats.burn_cents)

    @property
    def runway_after(self) -> int | None:
        return runway_days(self.after_cents, self.stats.burn_cents)

    @property
    def uncovered_before(self) -> date | None:
        return first_uncovered_day(self.renewals, self.before_cents)

    @property
    def uncovered_after(self) -> date | None:
        return first_uncovered_day(self.renewals, max(0, self.after_cents))

    @property
    def renewals_cents(self) -> int:
        return self.renewals[-1].cumulative_cents if self.renewals else 0


PRICE_EXAMPLE_COUNT = 5


@dataclass(frozen=True)
class PriceEffect:
    """What a new price per account would change: new leases only."""

    stats: PartnerStats
    new_price_cents: int

    @property
    def change_cents(self) -> int:
        return self.new_price_cents - self.stats.price_cents

    @property
    def change_percent(self) -> int:
        return round(100 * self.change_cents / self.stats.price_cents)

    @property
    def covered_before(self) -> int:
        return self.stats.balance_cents // self.stats.price_cents

    @property
    def covered_after(self) -> int:
        return self.stats.balance_cents // self.new_price_cents

    @property
    def example_count(self) -> int:
        return PRICE_EXAMPLE_COUNT

    @property
    def example_before_cents(self) -> int:
        return PRICE_EXAMPLE_COUNT * self.stats.price_cents

    @property
    def example_after_cents(self) -> int:
        return PRICE_EXAMPLE_COUNT * self.new_price_cents

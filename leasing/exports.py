"""CSV reports: streamed in constant memory, safe to open in a spreadsheet, audited.

A report is a header and a lazy iterator of rows. Rows come from `.iterator(chunk_size=…)`
(a server-side cursor on PostgreSQL, `fetchmany` on SQLite) and go out as they are read, so
a million rows cost the same memory as ten. Text cells that a spreadsheet would run as a
formula (starting with = + - @, a tab or a carriage return) get a leading single quote;
numbers the report itself computes (cents, counts) stay numbers so they still add up. The
file is UTF-8 with a byte-order mark, which is what makes Excel read it as UTF-8; lines end
in LF, and a cell holding a line break or a carriage return is quoted.

The reports that run to a million rows (pool, ledger) have their cells computed by the
database (leasing/csvcells.py); on PostgreSQL the database writes their CSV lines as well,
through `COPY (query) TO STDOUT (FORMAT csv)`, and Python only passes the bytes on. Both
routes write the same bytes (tests/perf/test_csv_cells.py).

When the last row has gone out (or the download is abandoned), an audit event records who
downloaded which report, with which filters, and how many rows.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connections, transaction
from django.db.models import Count, FilteredRelation, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone
from django_filters import FilterSet

from leasing.csvcells import (
    Column,
    DateCell,
    DollarsCell,
    ListCell,
    TextCell,
    TimeCell,
    cell_columns,
)
from leasing.filters import (
    BurnMonthlyFilter,
    LeaseReportFilter,
    LedgerFilter,
    PoolFilter,
    QueueFilter,
    RenewalsDueFilter,
)
from leasing.models import Lease, LedgerEntry
from leasing.selectors import (
    CHARGE_KINDS,
    leases_visible_to,
    ledger_visible_to,
    organizations_visible_to,
    partner_rows,
    pool_visible_to,
    requests_visible_to,
)
from leasing.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
# Rows per chunk of bytes handed to the server: fewer, larger writes than one per row.
ROWS_PER_WRITE = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def csv_cell(value: object) -> object:
    """One cell as the csv module should write it, neutralised if it is text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ";".join(str(item) for item in value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write() hands back what it was given, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def dollars(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100


@dataclass(frozen=True)
class Report:
    name: str  # queue, leases, burn, burn-monthly, ledger, renewals, pool
    header: Sequence[str]
    rows: Iterable[Sequence[object]]
    filters: Mapping[str, Any]
    # The rows as a values_list() of cells the database made (leasing/csvcells.py), for
    # the reports it writes itself on PostgreSQL; `rows` iterates the same query.
    cells: QuerySet[Any] | None = None

    @property
    def cells_ready(self) -> bool:
        return self.cells is not None

    def filename(self, today: date) -> str:
        return f"lease-desk-{self.name}-{today.isoformat()}.csv"


def _line(text: str) -> str:
    # The writer ends lines with CRLF, so that it quotes a cell holding a carriage
    # return; the file ends lines with LF, as PostgreSQL's COPY does.
    return text[:-2] + "\n"


def csv_lines(report: Report, *, actor: Actor) -> Generator[bytes, None, None]:
    """The report's bytes, header first; the audit event is written at the end."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    count, complete = 0, False
    try:
        yield (BOM + _line(writer.writerow(report.header))).encode()
        if report.cells is not None and connections[report.cells.db].vendor == "postgresql":
            chunks = _copied_chunks(report.cells)
        else:
            chunks = _written_chunks(report, writer)
        try:
            for chunk, rows in chunks:
                count += rows
                yield chunk
        finally:
            # An abandoned download: end the query inside the transaction it belongs to,
            # not later when the generator is collected.
            chunks.close()
        complete = True
    finally:
        _record_export(report, actor=actor, rows=count, complete=complete)


def _written_chunks(report: Report, writer: Any) -> Generator[tuple[bytes, int], None, None]:
    """Lines the csv module writes, ROWS_PER_WRITE at a time."""
    chunk: list[str] = []
    ready = report.cells_ready
    # In a transaction the server-side cursor streams; outside one, PostgreSQL must hold
    # it past the commit and so computes every row before sending the first.
    rows = iter(report.rows)
    with transaction.atomic():
        try:
            for row in rows:
                chunk.append(_line(writer.writerow(row if ready else [csv_cell(v) for v in row])))
                if len(chunk) >= ROWS_PER_WRITE:
                    yield "".join(chunk).encode(), len(chunk)
                    chunk = []
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
    if chunk:
        yield "".join(chunk).encode(), len(chunk)


def _copied_chunks(cells: QuerySet[Any]) -> Generator[tuple[bytes, int], None, None]:
    """Lines PostgreSQL writes with COPY, ROWS_PER_WRITE at a time.

    COPY hands over one row per read, already quoted; NULL and empty cells both come out
    empty because the cell expressions turn "" into NULL.
    """
    sql, params = cells.query.sql_with_params()
    with transaction.atomic(using=cells.db), connections[cells.db].cursor() as cursor:
        statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
        with cursor.cursor.copy(statement, params) as copy:
            chunk: list[bytes | memoryview] = []
            for row in copy:
                chunk.append(row)
                if len(chunk) >= ROWS_PER_WRITE:
                    yield b"".join(chunk), len(chunk)
                    chunk = []
            if chunk:
                yield b"".join(chunk), len(chunk)


def _record_export(report: Report, *, actor: Actor, rows: int, complete: bool) -> None:
    try:
        audit_record(
            actor=actor,
            action="report.export",
            object_type="report",
            object_id=report.name,
            after={"report": report.name, "filters": dict(report.filters), "rows": rows}
            | ({} if complete else {"complete": False}),
        )
    except Exception:
        # The file has gone out; failing loudly here would only cut its last bytes.
        logger.exception("could not audit the %s export (%d rows)", report.name, rows)


def csv_response(report: Report, *, actor: Actor) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(report, actor=actor), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{report.filename(timezone.now().date())}"'
    )
    response["Cache-Control"] = "no-store"
    return response


def filters_used(data: QueryDict, names: Iterable[str]) -> dict[str, Any]:
    """The filters a report was asked for, as the audit event records them."""
    used: dict[str, Any] = {}
    for name in names:
        values = [v for v in data.getlist(name) if v != ""]
        if values:
            used[name] = values if len(values) > 1 else values[0]
    return used


def _cells_report(
    name: str,
    header: Sequence[str],
    filterset: FilterSet,
    data: QueryDict,
    *columns: Column,
) -> Report:
    """A report whose cells the database writes (leasing/csvcells.py): `columns` are
    cell_columns' (cell kind, field path) pairs, in the header's order."""
    annotations, names = cell_columns(*columns)
    cells = filterset.qs.annotate(**annotations).values_list(*names)
    return Report(
        name,
        header,
        cells.iterator(chunk_size=CHUNK_SIZE),
        filters_used(data, filterset.filters),
        cells=cells,
    )


def _rows(queryset: QuerySet[Any], make: Callable[[Any], Sequence[object]]) -> Iterator[Any]:
    for item in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield make(item)


# ----------------------------------------------------------------------- the reports
# Each takes an already-validated FilterSet and reads with values(), so no model instance
# or related object is built per row.


QUEUE_HEADER = [
    "request_id",
    "partner_request_id",
    "status",
    "partner_id",
    "partner",
    "project_id",
    "project",
    "vertical",
    "language",
    "countries",
    "count",
    "assigned",
    "submitted_at",
    "first_assigned_at",
    "closed_at",
    "claimed_by",
    "target",
]


def queue_report(filterset: QueueFilter, data: QueryDict) -> Report:
    rows = filterset.qs.values_list(
        "id",
        "request_key",
        "status",
        "organization_id",
        "organization__name",
        "project_id",
        "project__name",
        "vertical",
        "language",
        "geo",
        "count",
        "assigned_count",
        "submitted_at",
        "first_assigned_at",
        "closed_at",
        "claimed_by__username",
        "target",
    )
    return Report("queue", QUEUE_HEADER, _rows(rows, list), filters_used(data, filterset.filters))


def queue_filterset(*, user: Any, data: QueryDict, request: Any) -> QueueFilter:
    # The latest-note subquery the queue page shows is not in the CSV; order as on screen.
    return QueueFilter(data, queryset=requests_visible_to(user), request=request)


LEASES_HEADER = [
    "lease_id",
    "status",
    "partner_id",
    "partner",
    "project_id",
    "project",
    "account_id",
    "handle",
    "request_id",
    "assigned_at",
    "monthly_price_cents",
    "periods_charged",
    "next_renewal_at",
    "disconnected_at",
    "disconnected_reason",
]


def leases_filterset(*, user: Any, data: QueryDict) -> LeaseReportFilter:
    return LeaseReportFilter(data, queryset=leases_visible_to(user).order_by("assigned_at", "id"))


def leases_report(filterset: LeaseReportFilter, data: QueryDict) -> Report:
    rows = filterset.qs.values_list(
        "id",
        "status",
        "organization_id",
        "organization__name",
        "project_id",
        "project__name",
        "account_id",
        "account__handle",
        "request__request_key",
        "assigned_at",
        "monthly_price_cents",
        "periods_charged",
        "next_renewal_at",
        "disconnected_at",
        "disconnected_reason",
    )
    return Report("leases", LEASES_HEADER, _rows(rows, list), filters_used(data, filterset.filters))


BURN_HEADER = [
    "partner_id",
    "partner",
    "status",
    "month",
    "active_accounts",
    "monthly_burn_cents",
    "charged_this_month_cents",
    "balance_cents",
    "runway_days",
]


def burn_report(*, user: Any, data: QueryDict, now: datetime | None = None) -> Report:
    """Burn by partner for the current month: what is running now and what was charged."""
    now = now or timezone.now()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    charged = (
        LedgerEntry.objects.filter(
            organization=OuterRef("pk"), kind__in=CHARGE_KINDS, created_at__gte=month_start
        )
        .order_by()
        .values("organization")
        .annotate(s=Sum("amount_cents"))
        .values("s")
    )
    rows = (
        partner_rows(organizations_visible_to(user))
        .annotate(charged_cents=Subquery(charged))
        .order_by("name", "id")
        .values_list(
            "id",
            "name",
            "status",
            "active_accounts",
            "burn_cents",
            "charged_cents",
            "balance_cents",
            "runway_days",
        )
    )
    month = month_start.date().strftime("%Y-%m")

    def make(row: tuple[Any, ...]) -> list[object]:
        pk, name, status, accounts, burn, charged_cents, balance, runway = row
        return [pk, name, status, month, accounts, burn, -(charged_cents or 0), balance, runway]

    return Report("burn", BURN_HEADER, _rows(rows, make), {"month": month})


BURN_MONTHLY_HEADER = [
    "partner_id",
    "partner",
    "month",
    "charges",
    "charged_cents",
]


def burn_monthly_filterset(*, user: Any, data: QueryDict) -> BurnMonthlyFilter:
    return BurnMonthlyFilter(data, queryset=ledger_visible_to(user).filter(kind__in=CHARGE_KINDS))


def burn_monthly_report(filterset: BurnMonthlyFilter, data: QueryDict) -> Report:
    """Lease charges per partner per calendar month (UTC), oldest month first."""
    rows = (
        filterset.qs.annotate(month=TruncMonth("created_at"))
        .values("organization_id", "organization__name", "month")
        .annotate(n=Count("*"), cents=Sum("amount_cents"))
        .order_by("month", "organization__name", "organization_id")
        .values_list("organization_id", "organization__name", "month", "n", "cents")
    )

    def make(row: tuple[Any, ...]) -> list[object]:
        pk, name, month, n, cents = row
        return [pk, name, month.strftime("%Y-%m"), n, -int(cents)]

    return Report(
        "burn-monthly",
        BURN_MONTHLY_HEADER,
        _rows(rows, make),
        filters_used(data, filterset.filters),
    )


LEDGER_HEADER = [
    "entry_id",
    "created_at",
    "partner_id",
    "partner",
    "kind",
    "amount_cents",
    "balance_after_cents",
    "amount",
    "balance_after",
    "memo",
    "lease_id",
    "handle",
    "period",
    "actor",
]


def ledger_filterset(*, user: Any, data: QueryDict) -> LedgerFilter:
    # Time order, as the running balance was written; the id breaks ties.
    return LedgerFilter(data, queryset=ledger_visible_to(user).order_by("created_at", "id"))


def ledger_report(filterset: LedgerFilter, data: QueryDict) -> Report:
    # The whole ledger runs to a million rows: the database writes the cells.
    return _cells_report(
        "ledger",
        LEDGER_HEADER,
        filterset,
        data,
        (None, "id"),
        (TimeCell, "created_at"),
        (TextCell, "organization_id"),
        (TextCell, "organization__name"),
        (TextCell, "kind"),
        (None, "amount_cents"),
        (None, "balance_after_cents"),
        (DollarsCell, "amount_cents"),
        (DollarsCell, "balance_after_cents"),
        (TextCell, "memo"),
        (None, "lease_id"),
        (TextCell, "lease__account__handle"),
        (None, "period"),
        (TextCell, "actor_label"),
    )


RENEWALS_HEADER = [
    "next_renewal_at",
    "lease_id",
    "partner_id",
    "partner",
    "project",
    "account_id",
    "handle",
    "amount_cents",
    "partner_balance_cents",
]


def renewals_filterset(*, user: Any, data: QueryDict) -> RenewalsDueFilter:
    return RenewalsDueFilter(
        data,
        queryset=leases_visible_to(user)
        .filter(status=Lease.Status.ASSIGNED)
        .order_by("next_renewal_at", "id"),
    )


def renewals_report(filterset: RenewalsDueFilter, data: QueryDict) -> Report:
    rows = filterset.qs.values_list(
        "next_renewal_at",
        "id",
        "organization_id",
        "organization__name",
        "project__name",
        "account_id",
        "account__handle",
        "monthly_price_cents",
        "organization__balance_cents",
    )
    filters = filters_used(data, filterset.filters)
    filters.setdefault("days", filterset.form.cleaned_data.get("days"))
    filters["days"] = int(filters["days"])
    return Report("renewals", RENEWALS_HEADER, _rows(rows, list), filters)


POOL_HEADER = [
    "account_id",
    "handle",
    "platform",
    "state",
    "followers",
    "verticals",
    "language",
    "countries",
    "warmed_since",
    "leased_to_partner_id",
    "leased_to",
    "retired_reason",
    "created_at",
]


def pool_filterset(*, user: Any, data: QueryDict) -> PoolFilter:
    # The active lease (at most one per account) as a join rather than a subquery per
    # row and column: the export reads every account.
    queryset = (
        pool_visible_to(user)
        .annotate(
            active_lease=FilteredRelation(
                "leases", condition=Q(leases__status=Lease.Status.ASSIGNED)
            )
        )
        .order_by("-followers", "id")
    )
    return PoolFilter(data, queryset=queryset)


def pool_report(filterset: PoolFilter, data: QueryDict) -> Report:
    # A million rows: the database writes the cells.
    return _cells_report(
        "pool",
        POOL_HEADER,
        filterset,
        data,
        (TextCell, "id"),
        (TextCell, "handle"),
        (TextCell, "platform"),
        (TextCell, "state"),
        (None, "followers"),
        (ListCell, "verticals"),
        (TextCell, "language"),
        (ListCell, "countries"),
        (DateCell, "warmed_since"),
        (TextCell, "active_lease__organization_id"),
        (TextCell, "active_lease__organization__name"),
        (TextCell, "retired_reason"),
        (TimeCell, "created_at"),
    )

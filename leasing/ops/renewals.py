"""Upcoming renewals by day, the partners whose wallets won't cover theirs, and the
latest renewal charges and billing failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from leasing.models import Lease, LedgerEntry
from leasing.money import format_cents
from leasing.ops.access import EXPORT, DeskRequest, role_required
from leasing.ops.charts import Group, Series, bar_chart
from leasing.ops.render import render_page
from leasing.selectors import (
    DAY_PARTNERS_SHOWN,
    DayRenewals,
    PartnerRenewals,
    RenewalsBoard,
    renewals_board,
)
from leasing.templatetags.desk import url_of

# The board's rows as the template writes them: every cell worked out here, once. Each
# cell through template filters and lookups cost more than the page's SQL (see QueueRow).


@dataclass(frozen=True)
class PartnerCell:
    url: str
    name: str
    amount: str
    covered: bool


@dataclass(frozen=True)
class DayLine:
    label: str
    overdue: bool
    flagged: bool
    leases: str
    amount: str
    partners: list[PartnerCell]
    more: int


@dataclass(frozen=True)
class ShortLine:
    url: str
    name: str
    renewals: str
    balance: str
    due: str
    short: str
    first_short: str


@dataclass(frozen=True)
class ChargeLine:
    when: str
    partner_url: str
    partner: str
    account_url: str  # "" for a charge with no lease
    handle: str
    period: int | None
    charged: str
    balance_after: str


@dataclass(frozen=True)
class FailureLine:
    when: str
    partner_url: str
    partner: str
    project: str
    account_url: str
    handle: str
    note: str


def _day(day: date) -> str:
    """Thu Apr 2, as the |date:"D M j" filter says it."""
    return f"{day:%a %b} {day.day}"


def _moment(moment: datetime | None) -> str:
    """Apr 2, 14:05 in the desk's time zone, as |date:"M j, H:i" says it."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local:%b} {local.day}, {local:%H:%M}"


def day_line(day: DayRenewals) -> DayLine:
    label = _day(day.day)
    if day.last_day is not None:
        label += f" \u2013 {_day(day.last_day)}"
    return DayLine(
        label=label,
        overdue=day.overdue,
        flagged=day.uncovered_cents > 0,
        leases=f"{day.leases:,}",
        amount=format_cents(day.cents),
        partners=[
            PartnerCell(url_of(org_id, "ops:partner"), name, format_cents(cents), covered)
            for org_id, name, _n, cents, covered in day.partners_shown
        ],
        more=day.partners_not_shown,
    )


def short_line(partner: PartnerRenewals) -> ShortLine:
    return ShortLine(
        url=url_of(partner.organization_id, "ops:partner"),
        name=partner.name,
        renewals=f"{partner.leases:,} renewal{'' if partner.leases == 1 else 's'}",
        balance=format_cents(partner.balance_cents),
        due=format_cents(partner.cents),
        short=format_cents(partner.shortfall_cents),
        first_short=_day(partner.first_uncovered) if partner.first_uncovered else "",
    )


def charge_line(entry: LedgerEntry) -> ChargeLine:
    lease = entry.lease
    return ChargeLine(
        when=_moment(entry.created_at),
        partner_url=url_of(entry.organization_id, "ops:partner"),
        partner=entry.organization.name,
        account_url=url_of(lease.account_id, "ops:pool-account") if lease else "",
        handle=lease.account.handle if lease else "",
        period=entry.period,
        charged=("+" if entry.amount_cents > 0 else "") + format_cents(entry.amount_cents),
        balance_after=format_cents(entry.balance_after_cents),
    )


def failure_line(lease: Lease) -> FailureLine:
    return FailureLine(
        when=_moment(lease.disconnected_at),
        partner_url=url_of(lease.organization_id, "ops:partner"),
        partner=lease.organization.name,
        project=lease.project.name,
        account_url=url_of(lease.account_id, "ops:pool-account"),
        handle=lease.account.handle,
        note=lease.disconnected_note,
    )


def _chart_group(day: DayRenewals) -> Group:
    if day.last_day is None:
        label, title = f"{day.day:%b} {day.day.day}", f"{day.day:%A %B} {day.day.day}"
    else:
        label = "Overdue"
        title = f"Overdue since {day.day:%A %B} {day.day.day}"
    return Group(
        label=label,
        title=f"{title}, {day.leases} lease(s)"
        + (", not all covered" if day.uncovered_cents else ""),
        values=[day.cents],
        flagged=day.uncovered_cents > 0,
    )


def _chart(board: RenewalsBoard) -> Any:
    return bar_chart(
        title=f"Renewals due per day, next {board.horizon_days} days",
        description=(
            "The amount of renewals falling due each day, any overdue ones in one bar "
            "first. Days where some partner's wallet will not cover its renewals are "
            "highlighted."
        ),
        series=[Series("renewal", "Due")],
        groups=[_chart_group(day) for day in board.table_days],
        money=True,
        label_every=max(1, (len(board.table_days) + 14) // 15),
        width=1080,
        height=220,
    )


@require_GET
@role_required()
def renewals_view(request: DeskRequest) -> HttpResponse:
    board = renewals_board(user=request.user)
    context = {
        "nav": "renewals",
        "board": board,
        "chart": _chart(board) if board.days else None,
        "can_export": request.user.has_perm(EXPORT),
        "day_partners_shown": DAY_PARTNERS_SHOWN,
        "day_lines": [day_line(day) for day in board.table_days],
        "short_lines": [short_line(p) for p in board.uncovered_shown],
        "charge_lines": [charge_line(e) for e in board.recent_charges],
        "failure_lines": [failure_line(lease) for lease in board.failures],
    }
    return render_page(request, "renewals/board.html", context)

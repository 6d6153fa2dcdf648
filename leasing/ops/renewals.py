"""Upcoming renewals by day, the partners whose wallets won't cover theirs, and the
latest renewal charges and billing failures."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from leasing.ops.access import EXPORT, DeskRequest, role_required
from leasing.ops.charts import Group, Series, bar_chart
from leasing.ops.render import render_page
from leasing.selectors import DAY_PARTNERS_SHOWN, RenewalsBoard, renewals_board


def _chart(board: RenewalsBoard) -> Any:
    return bar_chart(
        title=f"Renewals due per day, next {board.horizon_days} days",
        description=(
            "The amount of renewals falling due each day. Days where some partner's wallet "
            "will not cover its renewals are highlighted."
        ),
        series=[Series("renewal", "Due")],
        groups=[
            Group(
                label=f"{day.day:%b %-d}",
                title=f"{day.day:%A %B %-d}, {day.leases} lease(s)"
                + (", not all covered" if day.uncovered_cents else ""),
                values=[day.cents],
                flagged=day.uncovered_cents > 0,
            )
            for day in board.days
        ],
        money=True,
        label_every=max(1, (len(board.days) + 14) // 15),
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
    }
    return render_page(request, "renewals/board.html", context)

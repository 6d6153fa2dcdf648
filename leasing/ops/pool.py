"""The pool: the account list, an account's page and its state changes, and the supply
and demand board. The CSV import lives in pool_import.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leasing.forms import QueuePageForm, RetireForm, SupplyPageForm
from leasing.models import Lease, PoolAccount
from leasing.ops.access import EXPORT, POOL, DeskRequest, actor_for, role_required
from leasing.ops.charts import Group, Series, bar_chart
from leasing.ops.listing import page_url, pager_urls
from leasing.ops.navigation import HttpResponseSeeOther
from leasing.ops.render import render_page
from leasing.selectors import (
    FoldedLanguages,
    PoolAccountPage,
    SupplyBoard,
    SupplyGroup,
    SupplyPage,
    SupplyRow,
    pool_account_for_staff,
    pool_page,
    supply_demand,
)
from leasing.services.errors import ServiceError
from leasing.services.pool import (
    pool_account_mark_ready,
    pool_account_mark_warming,
    pool_account_retire,
)

SUPPLY_CHART_VERTICALS = 12


@require_GET
@role_required()
def pool_view(request: DeskRequest) -> HttpResponse:
    paging = QueuePageForm(request.GET)
    page = pool_page(user=request.user, data=request.GET, page=paging.page_number())
    path, data = reverse("ops:pool"), request.GET
    query = data.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "nav": "pool",
        "page": page,
        "paging_errors": paging.errors.get("page"),
        "reset_url": path,
        "export_url": f"{reverse('ops:report-pool')}?{query.urlencode()}",
        "can_export": request.user.has_perm(EXPORT),
        "can_manage": request.user.has_perm(POOL),
    }
    context.update(pager_urls(path, data, page.paged))
    return render_page(request, "pool/list.html", context)


def render_account_page(
    request: DeskRequest,
    account: PoolAccount,
    *,
    retire_form: RetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    page = PoolAccountPage(account=account)
    lease = page.active_lease
    form = retire_form or RetireForm()
    context = {
        "nav": "pool",
        "account": account,
        "page": page,
        "lease": lease,
        "retire_form": form,
        "can_manage": request.user.has_perm(POOL),
    }
    return render_page(request, "pool/account.html", context, status=status)


@require_GET
@role_required()
def account_view(request: DeskRequest, pk: str) -> HttpResponse:
    account = pool_account_for_staff(user=request.user, pk=pk)
    return render_account_page(request, account)


def _account_url(account: PoolAccount) -> str:
    return reverse("ops:pool-account", args=[account.pk])


@require_POST
@role_required(POOL)
def mark_ready_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    account = pool_account_for_staff(user=request.user, pk=pk)
    try:
        pool_account_mark_ready(account=account, actor=actor_for(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"@{account.handle} is ready: it can be assigned now.")
    return HttpResponseSeeOther(_account_url(account))


@require_POST
@role_required(POOL)
def mark_warming_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    account = pool_account_for_staff(user=request.user, pk=pk)
    try:
        pool_account_mark_warming(account=account, actor=actor_for(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"@{account.handle} is back to warming.")
    return HttpResponseSeeOther(_account_url(account))


@require_POST
@role_required(POOL)
def retire_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    """Retire an account. When it is leased, the form must carry the lease the person saw
    and ticked to confirm; if the account changed hands since, nothing happens and the page
    asks again, naming the partner who would lose it now."""
    account = pool_account_for_staff(user=request.user, pk=pk)
    form = RetireForm(request.POST)
    if form.is_valid():
        lease = (
            Lease.objects.filter(account=account, status=Lease.Status.ASSIGNED)
            .select_related("organization")
            .first()
        )
        confirmed = form.cleaned_data["confirm_lease"]
        if lease is not None and confirmed != lease.pk:
            form.add_error(
                None,
                f"@{account.handle} is leased to {lease.organization.name}. Retiring it "
                f"disconnects that lease as account_lost: tick the confirmation to go ahead.",
            )
        else:
            try:
                ended = pool_account_retire(
                    account=account, reason=form.cleaned_data["reason"], actor=actor_for(request)
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                text = f"@{account.handle} is retired."
                if ended is not None:
                    text += f" {ended.organization.name}'s lease was disconnected (account_lost)."
                messages.success(request, text)
                return HttpResponseSeeOther(_account_url(account))
    return render_account_page(request, account, retire_form=form, status=422)


# ----------------------------------------------------------------------- supply and demand


@dataclass(frozen=True)
class SupplyLine:
    """A line of the supply table with its numbers already written out: a page is some
    175 lines of seven cells, and a filter per cell cost more than ranking the verticals."""

    language: str  # "" for any language, "?" for none set
    ready: str
    demand: str
    requests: str
    short: str  # "" when nothing is short


@dataclass(frozen=True)
class SupplyBlock:
    """A vertical on the supply table: its totals, its languages, the rest folded."""

    vertical: str
    query: str  # the vertical as a URL query value
    totals: SupplyLine
    languages: list[SupplyLine]
    folded: SupplyLine | None
    folded_count: int
    any_language: SupplyLine | None


def _line(row: SupplyRow | SupplyGroup | FoldedLanguages, language: str = "") -> SupplyLine:
    return SupplyLine(
        language=language,
        ready=f"{row.ready:,}",
        demand=f"{row.demand:,}",
        requests=f"{row.requests:,}",
        short=f"{row.shortfall:,}" if row.shortfall else "",
    )


def supply_blocks(shown: SupplyPage) -> list[SupplyBlock]:
    return [
        SupplyBlock(
            vertical=group.vertical,
            query=quote(group.vertical, safe="/"),
            totals=_line(group),
            languages=[_line(row, row.language) for row in languages],
            folded=_line(folded) if folded else None,
            folded_count=folded.count if folded else 0,
            any_language=_line(any_language) if any_language else None,
        )
        for group, languages, folded, any_language in shown.rows
    ]


def _supply_chart(board: SupplyBoard) -> Any:
    shown = board.groups[:SUPPLY_CHART_VERTICALS]
    return bar_chart(
        title="Ready accounts against open demand, per vertical",
        description=(
            "For each vertical, the ready accounts in the pool next to the accounts open "
            "requests still need. Verticals short of accounts are highlighted."
        ),
        series=[
            Series("ready", "Ready"),
            Series("demand", "Still needed"),
            Series("short", "Short (no account in the language asked for)"),
        ],
        groups=[
            Group(
                label=g.vertical if len(g.vertical) <= 14 else g.vertical[:13] + "…",
                title=g.vertical,
                values=[g.ready, g.demand, g.shortfall],
                flagged=g.shortfall > 0,
            )
            for g in shown
        ],
        width=1080,
        height=260,
    )


@require_GET
@role_required()
def supply_view(request: DeskRequest) -> HttpResponse:
    board = supply_demand(user=request.user)
    # Hundreds of verticals, each in up to dozens of languages: the table shows a page of
    # verticals with their main languages, or one vertical in full.
    form = SupplyPageForm(request.GET)
    vertical = form.vertical_name()
    shown = board.vertical(vertical) if vertical else board.page(form.page_number())
    path, data = reverse("ops:supply"), request.GET
    context = {
        "nav": "supply",
        "board": board,
        "shown": shown,
        "blocks": supply_blocks(shown),
        "form": form,
        "vertical": vertical,
        "chart": _supply_chart(board) if board.groups else None,
        "chart_limit": SUPPLY_CHART_VERTICALS,
        "previous_url": page_url(path, data, shown.number - 1) if shown.has_previous else "",
        "next_url": page_url(path, data, shown.number + 1) if shown.has_next else "",
    }
    return render_page(request, "pool/supply.html", context)

"""The request queue: the dashboard's landing page, and bulk claim from it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leasing.forms import BulkClaimForm, QueuePageForm
from leasing.models import LeaseRequest
from leasing.ops.access import EXPORT, TRIAGE, DeskRequest, actor_for, role_required
from leasing.ops.navigation import redirect_back
from leasing.ops.render import render_page
from leasing.selectors import QueuePage, queue_page, requests_visible_to
from leasing.services.errors import ServiceError
from leasing.services.requests import lease_request_claim

ALL_STATUSES = [str(status) for status in LeaseRequest.Status.values]


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    current: bool
    count: int | None = None


def _url_with(data: QueryDict, base: str | None = None, **changes: list[str]) -> str:
    """The queue's URL (or `base`, e.g. its CSV export) with the same filters."""
    base = base or reverse("ops:queue")
    query = data.copy()
    for key in ("page", "after", "before"):
        query.pop(key, None)
    for key, values in changes.items():
        query.setlist(key, values)
    encoded = query.urlencode()
    return f"{base}?{encoded}" if encoded else base


def _page_link(data: QueryDict, number: int, direction: str, cursor: str) -> str:
    """Page `number`, continuing from the row `cursor` names (leasing/paging.py)."""
    url = _url_with(data, page=[str(number)])
    return f"{url}&{urlencode({direction: cursor})}" if cursor else url


def _status_tabs(data: QueryDict, page: QueuePage) -> list[Tab]:
    selected = set(page.filterset.form["status"].value() or [])
    counts = page.open_counts
    tabs = [
        Tab(
            "Open",
            _url_with(data, status=[]),
            selected == set(LeaseRequest.OPEN_STATUSES),
            sum(counts.values()),
        ),
    ]
    for status in LeaseRequest.Status:
        tabs.append(
            Tab(
                status.label,
                _url_with(data, status=[status.value]),
                selected == {status.value},
                counts.get(status.value),
            )
        )
    tabs.append(Tab("All", _url_with(data, status=ALL_STATUSES), selected == set(ALL_STATUSES)))
    return tabs


@require_GET
@role_required()
def queue_view(request: DeskRequest) -> HttpResponse:
    paging = QueuePageForm(request.GET)
    page = queue_page(
        user=request.user, data=request.GET, page=paging.page_number(), request=request
    )
    data = request.GET
    context = {
        "nav": "queue",
        "queue": page,
        "tabs": _status_tabs(data, page),
        "paging_errors": paging.errors.get("page"),
        "previous_url": _page_link(data, page.page - 1, "before", page.previous_cursor)
        if page.has_previous
        else "",
        "next_url": _page_link(data, page.page + 1, "after", page.next_cursor)
        if page.has_next
        else "",
        "reset_url": reverse("ops:queue"),
        "can_triage": request.user.has_perm(TRIAGE),
        "can_export": request.user.has_perm(EXPORT),
        "export_url": _url_with(data, base=reverse("ops:report-queue")),
        "refreshed_at": timezone.now(),
    }
    return render_page(request, "ops/queue.html", context)


@require_POST
@role_required(TRIAGE)
def queue_claim_view(request: DeskRequest) -> HttpResponseBase:
    """Claim every ticked request; each claim stands on its own, so one conflict does not
    undo the others, and the message says which ones were taken already."""
    form = BulkClaimForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("ids", []):
            messages.error(request, str(error))
        return redirect_back(request, reverse("ops:queue"))
    wanted = form.cleaned_data["ids"]
    found = {r.pk: r for r in requests_visible_to(request.user).filter(pk__in=wanted)}
    claimed, problems = 0, []
    for pk in wanted:
        lease_request = found.get(pk)
        if lease_request is None:
            problems.append(f"{pk} does not exist")
            continue
        try:
            lease_request_claim(request=lease_request, actor=actor_for(request))
        except ServiceError as exc:
            problems.append(exc.message)
        else:
            claimed += 1
    if claimed:
        messages.success(request, f"Claimed {claimed} request{'s' if claimed != 1 else ''}.")
    if problems:
        messages.warning(request, "Not claimed: " + "; ".join(problems) + ".")
    return redirect_back(request, reverse("ops:queue"))

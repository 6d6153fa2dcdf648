"""The request queue: the dashboard's landing page, and bulk claim from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from html import escape
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from leasing.forms import BulkClaimForm, QueuePageForm
from leasing.models import LeaseRequest
from leasing.ops.access import EXPORT, TRIAGE, DeskRequest, actor_for, role_required
from leasing.ops.listing import pager_urls, url_with
from leasing.ops.navigation import redirect_back
from leasing.ops.render import render_page
from leasing.selectors import QueuePage, queue_page, requests_visible_to
from leasing.services.errors import ServiceError
from leasing.services.requests import lease_request_claim
from leasing.templatetags.desk import (
    age,
    age_level,
    fill_class,
    first_line,
    staff_name,
    url_maker,
)

ALL_STATUSES = [str(status) for status in LeaseRequest.Status.values]
OPEN = frozenset(LeaseRequest.OPEN_STATUSES)
STATUS_LABELS = dict(LeaseRequest.Status.choices)


@dataclass(frozen=True)
class QueueRow:
    """One queue row's cells, worked out once, as `queue_rows_html` writes them."""

    pk: str
    key: str
    url: str
    claim_url: str
    is_open: bool
    status: str
    status_label: str
    partner: str
    project: str
    vertical: str
    niche: str
    assigned: int
    count: int
    fill: str
    age: str
    age_level: str
    submitted: str
    claimed_by: str
    note: str
    note_line: str
    note_for_partner: bool
    mine: bool
    claimable: bool


def _claimer(row: dict[str, Any]) -> str:
    if not row["claimed_by_id"]:
        return ""
    return staff_name(
        row["claimed_by__first_name"], row["claimed_by__last_name"], row["claimed_by__username"]
    )


def queue_rows_shown(
    rows: list[dict[str, Any]], *, viewer_id: int | None, can_triage: bool
) -> list[QueueRow]:
    shown = []
    request_url, claim_url = url_maker("ops:request"), url_maker("ops:request-claim")
    # Worked out once for the page: a status's label is translated text, and every row's
    # age is measured from the same moment.
    labels = {status: str(label) for status, label in STATUS_LABELS.items()}
    now = timezone.now()
    for r in rows:
        pk, status, submitted = r["id"], r["status"], r["submitted_at"]
        is_open = status in OPEN
        note = r["latest_note"] or ""
        assigned, count = r["assigned_count"], r["count"]
        shown.append(
            QueueRow(
                pk=pk,
                key=r["request_key"],
                url=request_url(pk),
                claim_url=claim_url(pk),
                is_open=is_open,
                status=status,
                status_label=labels.get(status, status),
                partner=r["organization__name"],
                project=r["project__name"],
                vertical=r["vertical"],
                niche=f"{r['language'] or 'any language'} · {', '.join(r['geo']) or 'any country'}",
                assigned=assigned,
                count=count,
                fill=fill_class(assigned, count),
                age=age(submitted, now=now),
                age_level=age_level(submitted, now=now),
                submitted=f"{submitted.astimezone(UTC):%Y-%m-%d %H:%M}",
                claimed_by=_claimer(r),
                note=note,
                note_line=first_line(note),
                note_for_partner=r["latest_note_visibility"] == "partner",
                mine=can_triage and is_open and r["claimed_by_id"] == viewer_id,
                claimable=can_triage and is_open and not r["claimed_by_id"],
            )
        )
    return shown


PARTNER_CHIP = '<span class="chip chip-partner">Partner</span> '


def queue_rows_html(rows: list[QueueRow], *, can_triage: bool) -> SafeString:
    """The table rows of the queue, every text cell escaped.

    Written here rather than in the template: the queue is the page ops keep open all day
    (and poll every 30 s), and Django's template language spends 5 to 50 µs on each
    variable and tag, which made the 50 rows' 1,500 of them cost more than every query of
    the page together. The Django admin builds its changelist rows in Python the same way.
    """
    html = []
    for r in rows:
        pk, key, url = escape(r.pk), escape(r.key), escape(r.url)
        check = ""
        if can_triage:
            box = (
                f'<input type="checkbox" name="ids" value="{pk}" aria-label="Select {key}">'
                if r.is_open
                else ""
            )
            check = f'<td class="col-check">{box}</td>'
        request_id = f'<span class="cell-sub mono">{pk}</span>' if r.key != r.pk else ""
        claimed_by = escape(r.claimed_by) if r.claimed_by else '<span class="subtle">—</span>'
        for_partner = PARTNER_CHIP if r.note_for_partner else ""
        if r.mine:
            action = '<span class="chip chip-accent">Yours</span>'
        elif r.claimable:
            claim = escape(r.claim_url)
            action = (
                f'<button type="submit" class="btn btn-sm" data-claim formaction="{claim}" '
                f'hx-post="{claim}">Claim</button>'
            )
        else:
            action = ""
        html.append(
            f'<tr data-request-id="{pk}" data-href="{url}">{check}'
            f'<td><a class="cell-main mono" href="{url}" data-row-link>{key}</a>{request_id}</td>'
            f'<td><span class="chip status-{escape(r.status)}">{escape(r.status_label)}</span></td>'
            f"<td>{escape(r.partner)}</td>"
            f"<td>{escape(r.project)}</td>"
            f'<td><span class="cell-main">{escape(r.vertical)}</span>'
            f'<span class="cell-sub">{escape(r.niche)}</span></td>'
            f'<td class="num"><span class="progress">{r.assigned} / {r.count}</span>'
            f'<span class="progress-bar"><span class="{r.fill}"></span></span></td>'
            f'<td><span class="chip age-{r.age_level}" title="Submitted {r.submitted} UTC">'
            f"{escape(r.age)}</span></td>"
            f"<td>{claimed_by}</td>"
            f'<td class="cell-note" title="{escape(r.note)}">{for_partner}'
            f"{escape(r.note_line)}</td>"
            f'<td class="col-actions">{action}</td></tr>\n'
        )
    return mark_safe("".join(html))  # noqa: S308 - every text above is escaped


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    current: bool
    count: int | None = None


def _status_tabs(data: QueryDict, page: QueuePage) -> list[Tab]:
    selected = set(page.filterset.form["status"].value() or [])
    counts = page.open_counts
    # The same filters on every tab, only the status differs.
    others = url_with(reverse("ops:queue"), data, status=[])
    joiner = "&" if "?" in others else "?"

    def with_status(*statuses: str) -> str:
        return others + joiner + urlencode([("status", status) for status in statuses])

    tabs = [
        Tab(
            "Open",
            others,
            selected == set(LeaseRequest.OPEN_STATUSES),
            sum(counts.values()),
        ),
    ]
    for status in LeaseRequest.Status:
        tabs.append(
            Tab(
                status.label,
                with_status(status.value),
                selected == {status.value},
                counts.get(status.value),
            )
        )
    tabs.append(Tab("All", with_status(*ALL_STATUSES), selected == set(ALL_STATUSES)))
    return tabs


@require_GET
@role_required()
def queue_view(request: DeskRequest) -> HttpResponse:
    paging = QueuePageForm(request.GET)
    page = queue_page(
        user=request.user, data=request.GET, page=paging.page_number(), request=request
    )
    data = request.GET
    path = reverse("ops:queue")
    can_triage = request.user.has_perm(TRIAGE)
    context = {
        "nav": "queue",
        "queue": page,
        "rows": queue_rows_html(
            queue_rows_shown(page.rows, viewer_id=request.user.pk, can_triage=can_triage),
            can_triage=can_triage,
        ),
        "tabs": _status_tabs(data, page),
        "paging_errors": paging.errors.get("page"),
        "reset_url": path,
        "can_triage": can_triage,
        "can_export": request.user.has_perm(EXPORT),
        "export_url": url_with(reverse("ops:report-queue"), data),
        "refreshed_at": timezone.now(),
        **pager_urls(path, data, page),
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

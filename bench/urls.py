"""The product's URLs plus reference views: the framework's ceiling for the API list, an
empty dashboard page, and the queue's rows with nothing else around them."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from leasing.api.selectors import LEASED_ACCOUNT_FIELDS
from leasing.api.serializers import leased_account_data
from leasing.models import Lease, LeaseRequest
from leasing.ops.access import TRIAGE, role_required
from leasing.ops.queue import queue_rows_html, queue_rows_shown
from leasing.ops.render import render_page
from leasing.selectors import QUEUE_PAGE_SIZE, queue_rows


def bare_leased_accounts(request: HttpRequest, project_id: str) -> HttpResponse:
    """The API list's first page (100 items, same JSON items, the same columns read) from
    one query: no key, no rate limit, no call log, no pagination cursor, no envelope."""
    leases = (
        Lease.objects.filter(project_id=project_id, status=Lease.Status.ASSIGNED)
        .select_related("account")
        .only(*LEASED_ACCOUNT_FIELDS)
        .order_by("assigned_at", "pk")[:100]
    )
    body = {"items": [leased_account_data(lease) for lease in leases], "nextCursor": None}
    return HttpResponse(json.dumps(body), content_type="application/json; charset=utf-8")


@role_required()
def empty_page(request: HttpRequest) -> HttpResponse:
    """A dashboard page with nothing on it: sign-in, session, permissions, the layout."""
    return render_page(request, "base.html", {"nav": ""})


@role_required()
def queue_rows_only(request: HttpRequest) -> HttpResponse:
    """The queue's page of rows for `?status=` and nothing else: sign-in, session,
    permissions, the rows' one query and their HTML; no filters, tabs, counts or layout."""
    statuses = request.GET.getlist("status") or list(LeaseRequest.OPEN_STATUSES)
    rows = list(
        queue_rows(LeaseRequest.objects.filter(status__in=statuses)).order_by("submitted_at", "id")[
            :QUEUE_PAGE_SIZE
        ]
    )
    can_triage = request.user.has_perm(TRIAGE)
    shown = queue_rows_shown(rows, viewer_id=request.user.pk, can_triage=can_triage)
    body = f"<table><tbody>{queue_rows_html(shown, can_triage=can_triage)}</tbody></table>"
    return HttpResponse(body)


urlpatterns = [
    path("bench/empty/", empty_page),
    path("bench/queue-rows/", queue_rows_only),
    path("bench/bare/projects/<str:project_id>/leased-accounts", bare_leased_accounts),
    path("", include("leasing.urls")),
]

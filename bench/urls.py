"""The product's URLs plus two reference views: the framework's ceiling for the API list,
and an empty dashboard page."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from leasing.api.selectors import LEASED_ACCOUNT_FIELDS
from leasing.api.serializers import leased_account_data
from leasing.models import Lease
from leasing.ops.access import role_required
from leasing.ops.render import render_page


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


urlpatterns = [
    path("bench/empty/", empty_page),
    path("bench/bare/projects/<str:project_id>/leased-accounts", bare_leased_accounts),
    path("", include("leasing.urls")),
]

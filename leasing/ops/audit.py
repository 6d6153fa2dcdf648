"""The audit log: every recorded change, filtered by actor, action, object and date."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from leasing.forms import QueuePageForm
from leasing.ops.access import DeskRequest, role_required
from leasing.ops.listing import pager_urls
from leasing.ops.render import render_page
from leasing.selectors import audit_page


@require_GET
@role_required()
def audit_view(request: DeskRequest) -> HttpResponse:
    paging = QueuePageForm(request.GET)
    page = audit_page(user=request.user, data=request.GET, page=paging.page_number())
    path, data = reverse("ops:audit"), request.GET
    context: dict[str, Any] = {
        "nav": "audit",
        "page": page,
        "paging_errors": paging.errors.get("page"),
        "reset_url": path,
    }
    context.update(pager_urls(path, data, page.paged))
    return render_page(request, "audit/log.html", context)

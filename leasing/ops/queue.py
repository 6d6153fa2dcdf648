"""The request queue: the dashboard's landing page."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from leasing.ops.access import DeskRequest, role_required
from leasing.ops.render import render_page


@require_GET
@role_required()
def queue_view(request: DeskRequest) -> HttpResponse:
    return render_page(request, "ops/queue.html", {"nav": "queue"})

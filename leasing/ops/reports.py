"""CSV reports: a page listing them with their filters, and one URL per report.

Each report URL takes the same query string as the page it mirrors (the queue's and the
pool's filters are the very FilterSets those pages use), checks it, and streams the CSV
(see leasing/exports.py). A filter that does not validate gets the reports page back with
the error, never a silently unfiltered file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.views.decorators.http import require_GET
from django_filters import FilterSet

from leasing import exports
from leasing.filters import (
    BurnMonthlyFilter,
    LeaseReportFilter,
    LedgerFilter,
    PoolFilter,
    QueueFilter,
    RenewalsDueFilter,
)
from leasing.ops.access import EXPORT, DeskRequest, actor_for, role_required
from leasing.ops.render import render_page


def _forms(data: QueryDict | None = None, report: str = "", partner: str = "") -> dict[str, Any]:
    """The filter form of each report; the one named `report` bound to `data`, the others
    blank (with `partner` chosen, when the page was opened from a partner's page)."""
    filtersets: dict[str, type[FilterSet]] = {
        "queue": QueueFilter,
        "leases": LeaseReportFilter,
        "burn-monthly": BurnMonthlyFilter,
        "ledger": LedgerFilter,
        "renewals": RenewalsDueFilter,
        "pool": PoolFilter,
    }
    forms = {}
    for name, filterset_class in filtersets.items():
        bound = data if name == report else None
        filterset = filterset_class(bound) if bound is not None else filterset_class()
        if partner and bound is None and "partner" in filterset.form.fields:
            filterset.form.initial["partner"] = partner
        forms[name.replace("-", "_")] = filterset.form
    return forms


def _page(request: DeskRequest, *, report: str = "", status: int = 200) -> HttpResponse:
    data = request.GET if report else None
    forms = _forms(data, report, partner=str(request.GET.get("partner", ""))[:32])
    if report:
        forms[report.replace("-", "_")].is_valid()
    context = {"nav": "reports", "forms": forms, "failed": report}
    return render_page(request, "reports/index.html", context, status=status)


@require_GET
@role_required(EXPORT)
def reports_view(request: DeskRequest) -> HttpResponse:
    return _page(request)


def _export(
    request: DeskRequest,
    name: str,
    filterset: FilterSet,
    make: Callable[[Any, QueryDict], exports.Report],
) -> HttpResponseBase:
    if not filterset.is_valid():
        return _page(request, report=name, status=422)
    return exports.csv_response(make(filterset, request.GET), actor=actor_for(request))


@require_GET
@role_required(EXPORT)
def queue_csv_view(request: DeskRequest) -> HttpResponseBase:
    filterset = exports.queue_filterset(user=request.user, data=request.GET, request=request)
    return _export(request, "queue", filterset, exports.queue_report)


@require_GET
@role_required(EXPORT)
def leases_csv_view(request: DeskRequest) -> HttpResponseBase:
    filterset = exports.leases_filterset(user=request.user, data=request.GET)
    return _export(request, "leases", filterset, exports.leases_report)


@require_GET
@role_required(EXPORT)
def burn_csv_view(request: DeskRequest) -> HttpResponseBase:
    report = exports.burn_report(user=request.user, data=request.GET)
    return exports.csv_response(report, actor=actor_for(request))


@require_GET
@role_required(EXPORT)
def burn_monthly_csv_view(request: DeskRequest) -> HttpResponseBase:
    filterset = exports.burn_monthly_filterset(user=request.user, data=request.GET)
    return _export(request, "burn-monthly", filterset, exports.burn_monthly_report)


@require_GET
@role_required(EXPORT)
def ledger_csv_view(request: DeskRequest) -> HttpResponseBase:
    filterset = exports.ledger_filterset(user=request.user, data=request.GET)
    return _export(request, "ledger", filterset, exports.ledger_report)


@require_GET
@role_required(EXPORT)
def renewals_csv_view(request: DeskRequest) -> HttpResponseBase:
    filterset = exports.renewals_filterset(user=request.user, data=request.GET)
    return _export(request, "renewals", filterset, exports.renewals_report)


@require_GET
@role_required(EXPORT)
def pool_csv_view(request: DeskRequest) -> HttpResponseBase:
    filterset = exports.pool_filterset(user=request.user, data=request.GET)
    return _export(request, "pool", filterset, exports.pool_report)

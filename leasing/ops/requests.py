"""The request page and its actions: claim, notes, assignment with preview, close, release.

Each action is its own POST-only URL calling one service. Success redirects back (303);
invalid input re-renders the page (or the htmx region that posted) with the form's errors
and status 422; a refusal from a service shows its message, which says exactly why.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leasing.forms import AssignForm, CandidateSearchForm, CloseForm, NoteForm, ReleaseForm
from leasing.models import Lease, LeaseRequest, PoolAccount
from leasing.money import format_cents
from leasing.ops.access import (
    INTERNAL_NOTE,
    PARTNER_NOTE,
    RELEASE,
    TRIAGE,
    DeskRequest,
    actor_for,
    role_required,
)
from leasing.ops.navigation import HttpResponseSeeOther, redirect_back
from leasing.ops.render import render_page
from leasing.selectors import RequestPage, leases_visible_to, request_for_staff
from leasing.services.allocation import accounts_assign, assignment_preview, candidates_rank
from leasing.services.errors import ServiceError
from leasing.services.leases import lease_release
from leasing.services.requests import (
    lease_request_claim,
    lease_request_close,
    lease_request_unclaim,
    request_note_add,
)

SEARCH_FIELDS = ("vertical", "any_language", "country")


def _page_url(lease_request: LeaseRequest, search: QueryDict | None = None) -> str:
    url = reverse("ops:request", args=[lease_request.pk])
    if search:
        kept = QueryDict(mutable=True)
        for key in SEARCH_FIELDS:
            if key in search:
                kept.setlist(key, search.getlist(key))
        if kept:
            return f"{url}?{kept.urlencode()}"
    return url


def render_request_page(
    request: DeskRequest,
    lease_request: LeaseRequest,
    *,
    status: int = 200,
    note_form: NoteForm | None = None,
    close_form: CloseForm | None = None,
    release_form: ReleaseForm | None = None,
    release_lease_id: int | None = None,
) -> HttpResponse:
    search_form = CandidateSearchForm(request.GET or None, lease_request=lease_request)
    page = RequestPage(lease_request=lease_request, search=search_form.search())
    user = request.user
    context: dict[str, Any] = {
        "nav": "queue",
        "req": lease_request,
        "page": page,
        "search_form": search_form,
        "note_form": note_form or NoteForm(),
        "close_form": close_form or CloseForm(),
        "release_form": release_form,
        "release_lease_id": release_lease_id,
        "can_triage": user.has_perm(TRIAGE),
        "can_note": user.has_perm(INTERNAL_NOTE),
        "can_partner_note": user.has_perm(PARTNER_NOTE),
        "can_release": user.has_perm(RELEASE),
    }
    return render_page(request, "ops/request_detail.html", context, status=status)


@require_GET
@role_required()
def request_view(request: DeskRequest, pk: str) -> HttpResponse:
    lease_request = request_for_staff(user=request.user, pk=pk)
    return render_request_page(request, lease_request)


@require_POST
@role_required(TRIAGE)
def claim_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    lease_request = request_for_staff(user=request.user, pk=pk)
    take_over = request.POST.get("take_over") == "1"
    try:
        lease_request_claim(request=lease_request, actor=actor_for(request), take_over=take_over)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"You claimed {lease_request.request_key}.")
    return redirect_back(request, _page_url(lease_request))


@require_POST
@role_required(TRIAGE)
def unclaim_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    lease_request = request_for_staff(user=request.user, pk=pk)
    try:
        lease_request_unclaim(request=lease_request, actor=actor_for(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{lease_request.request_key} is back in the queue.")
    return redirect_back(request, _page_url(lease_request))


@require_POST
@role_required(INTERNAL_NOTE)
def note_add_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    lease_request = request_for_staff(user=request.user, pk=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return render_request_page(request, lease_request, status=422, note_form=form)
    if form.is_partner_visible and not request.user.has_perm(PARTNER_NOTE):
        raise PermissionDenied("Your role may add internal notes only.")
    try:
        request_note_add(
            request=lease_request,
            body=form.cleaned_data["body"],
            visibility=form.cleaned_data["visibility"],
            actor=actor_for(request),
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return render_request_page(request, lease_request, status=422, note_form=form)
    if form.is_partner_visible:
        messages.success(request, "Partner-visible note added: the partner now sees it.")
    return HttpResponseSeeOther(_page_url(lease_request))


def _chosen_accounts(
    lease_request: LeaseRequest, form: AssignForm, search_data: QueryDict
) -> list[PoolAccount]:
    """The ticked accounts in the order ticked, or the best `fill` of the current search."""
    if form.cleaned_data.get("fill"):
        search = CandidateSearchForm(search_data or None, lease_request=lease_request).search()
        return [
            c.account
            for c in candidates_rank(
                request=lease_request,
                vertical=search.vertical,
                same_language_only=not search.any_language,
                country=search.country or None,
                limit=form.cleaned_data["fill"],
            )
        ]
    ids = form.cleaned_data["account"]
    found = {a.pk: a for a in PoolAccount.objects.filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


@require_GET
@role_required(TRIAGE)
def assign_preview_view(request: DeskRequest, pk: str) -> HttpResponse:
    lease_request = request_for_staff(user=request.user, pk=pk)
    form = AssignForm(request.GET, remaining=lease_request.remaining, allow_fill=True)
    context: dict[str, Any] = {
        "nav": "queue",
        "req": lease_request,
        "form": form,
        "back_url": _page_url(lease_request, request.GET),
        "search": {k: request.GET.getlist(k) for k in SEARCH_FIELDS if k in request.GET},
    }
    if not lease_request.is_open:
        form.is_valid()
        form.add_error(None, f"This request is {lease_request.get_status_display().lower()}.")
    if not form.is_valid():
        return render_page(request, "ops/assign_preview.html", context, status=422)
    accounts = _chosen_accounts(lease_request, form, request.GET)
    requested = form.cleaned_data["account"] or []
    context.update(
        accounts=accounts,
        missing=[pk for pk in requested if pk not in {a.pk for a in accounts}],
        unavailable=[a for a in accounts if a.state != PoolAccount.State.READY],
        preview=assignment_preview(request=lease_request, count=len(accounts)),
    )
    return render_page(request, "ops/assign_preview.html", context)


@require_POST
@role_required(TRIAGE)
def assign_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    lease_request = request_for_staff(user=request.user, pk=pk)
    back = _page_url(lease_request, request.POST)
    form = AssignForm(request.POST, remaining=lease_request.remaining, allow_fill=False)
    if not form.is_valid():
        for error in form.errors.get("__all__", []) + form.errors.get("account", []):
            messages.error(request, str(error))
        return HttpResponseSeeOther(back)
    try:
        leases = accounts_assign(
            request=lease_request,
            account_ids=form.cleaned_data["account"],
            actor=actor_for(request),
        )
    except ServiceError as exc:
        # Nothing was assigned. Back to fresh candidates, with the reason in words.
        messages.error(request, exc.message)
        return HttpResponseSeeOther(back)
    n = len(leases)
    charged = sum(lease.monthly_price_cents for lease in leases)
    messages.success(
        request,
        f"Assigned {n} account{'s' if n != 1 else ''} to {lease_request.project.name}; "
        f"charged {format_cents(charged)}.",
    )
    return HttpResponseSeeOther(_page_url(lease_request))


@require_POST
@role_required(TRIAGE)
def close_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    lease_request = request_for_staff(user=request.user, pk=pk)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            lease_request_close(
                request=lease_request,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                actor=actor_for(request),
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            closed = (
                "closed as partial" if form.cleaned_data["outcome"] == "partial" else "rejected"
            )
            messages.success(
                request, f"{lease_request.request_key} {closed}; the partner sees your note."
            )
            return HttpResponseSeeOther(_page_url(lease_request))
    return render_request_page(request, lease_request, status=422, close_form=form)


@require_POST
@role_required(RELEASE)
def release_view(request: DeskRequest, pk: int) -> HttpResponseBase:
    lease = get_object_or_404(
        leases_visible_to(request.user).select_related("account", "request"), pk=pk
    )
    form = ReleaseForm(request.POST)
    if form.is_valid():
        try:
            lease_release(
                lease=lease,
                reason=Lease.Reason.RELEASED_BY_OPS,
                note=form.cleaned_data["reason"],
                actor=actor_for(request),
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"@{lease.account.handle} released; it is back in the pool.")
        fallback = _page_url(lease.request) if lease.request else reverse("ops:queue")
        return redirect_back(request, fallback)
    if lease.request is None:
        messages.error(request, "Say why the account is taken back.")
        return redirect_back(request, reverse("ops:queue"))
    lease_request = request_for_staff(user=request.user, pk=lease.request.pk)
    return render_request_page(
        request, lease_request, status=422, release_form=form, release_lease_id=lease.pk
    )

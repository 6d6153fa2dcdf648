"""Partners: the list with burn and runway, the partner page (support's 360), and the
finance and admin actions on it: top-up, adjustment and price, each previewed before it
commits, and API keys.

Previews are GETs (they change nothing and can be bookmarked); each commit is its own
POST-only URL calling one service, then 303 back to the partner page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.forms import Form
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from leasing.filters import AT_RISK, ApiCallFilter
from leasing.forms import (
    AdjustmentForm,
    ApiKeyIssueForm,
    PartnerLeasesForm,
    PriceForm,
    QueuePageForm,
    TopUpForm,
)
from leasing.models import ApiKey, Lease, LeaseRequest, LedgerEntry, Organization
from leasing.money import format_cents
from leasing.ops.access import (
    API_KEYS,
    EXPORT,
    PRICE,
    WALLET,
    DeskRequest,
    actor_for,
    role_required,
)
from leasing.ops.charts import Group, Series, bar_chart
from leasing.ops.listing import pager_urls, sort_headers, url_with
from leasing.ops.navigation import HttpResponseSeeOther
from leasing.ops.render import render_page
from leasing.selectors import (
    PartnerPage,
    PartnerStats,
    PriceEffect,
    WalletEffect,
    api_calls_visible_to,
    ended_leases_label,
    partner_for_staff,
    partner_leases_page,
    partner_page_for_staff,
    partner_projects_page,
    partners_page,
    renewal_days,
)
from leasing.services.billing import organization_set_price, wallet_adjust, wallet_top_up
from leasing.services.errors import ServiceError, ValidationFailed
from leasing.services.partners import api_key_issue, api_key_revoke
from leasing.templatetags.console import http_level, signed_cents
from leasing.templatetags.desk import first_line, url_of

# A freshly issued key rides to the next page load in a signed, HttpOnly cookie that lives
# two minutes and is deleted when shown, so the full key is never written to the database
# (sessions are stored there).
ISSUED_KEY_COOKIE = "issued_api_key"
ISSUED_KEY_SALT = "leasing.partners.issued-key"
ISSUED_KEY_MAX_AGE = 120

PARTNER_COLUMNS = [
    ("name", "Partner", False),
    ("burn", "Monthly burn", True),
    ("accounts", "Active", True),
    ("balance", "Balance", False),
    ("runway", "Runway", False),
    ("renewal", "Next renewal", False),
    ("open", "Open requests", True),
]

# What an API error code means, in the words support would use with the partner.
API_ERROR_HELP = {
    "UNAUTHENTICATED": "Missing, malformed, unknown or revoked API key.",
    "FORBIDDEN_SCOPE": "The key lacks the scope this route needs.",
    "NOT_FOUND": "No such project, request or account for this partner (or a malformed id).",
    "METHOD_NOT_ALLOWED": "Wrong HTTP method for this route.",
    "VALIDATION": "The body or a field was wrong; the response listed each field.",
    "CONFLICT": "The requestId or Idempotency-Key was reused, or the call was in flight.",
    "BILLING_EXHAUSTED": "The wallet held less than the price of one account.",
    "RATE_LIMITED": "Over the key's per-minute budget for its tier.",
    "INTERNAL": "Our error: look the request id up in the server logs.",
    "UNAVAILABLE": "Our database was unreachable at the time.",
}


# ----------------------------------------------------------------------- list


@require_GET
@role_required()
def partners_view(request: DeskRequest) -> HttpResponse:
    paging = QueuePageForm(request.GET)
    page = partners_page(user=request.user, data=request.GET, page=paging.page_number())
    path, data = reverse("ops:partners"), request.GET
    view = data.get("view", "")
    context: dict[str, Any] = {
        "nav": "partners",
        "page": page,
        "headers": sort_headers(path, data, current=data.get("sort", ""), columns=PARTNER_COLUMNS),
        "all_url": url_with(path, data, view=[]),
        "at_risk_url": url_with(path, data, view=[AT_RISK]),
        "at_risk_view": view == AT_RISK,
        "paging_errors": paging.errors.get("page"),
        "reset_url": path,
        "can_export": request.user.has_perm(EXPORT),
    }
    context.update(pager_urls(path, data, page.paged))
    return render_page(request, "partners/list.html", context)


# ----------------------------------------------------------------------- partner page


def _burn_chart(page: PartnerPage) -> Any:
    months = page.burn_by_month
    return bar_chart(
        title=f"{page.organization.name}: lease charges per month",
        description=(
            f"Charges for leased accounts in each of the last {len(months)} months, "
            f"from {months[0].month:%B %Y} to {months[-1].month:%B %Y}."
        ),
        series=[Series("burn", "Charged")],
        groups=[
            Group(label=f"{m.month:%b}", title=f"{m.month:%B %Y}", values=[m.cents]) for m in months
        ],
        money=True,
        width=760,
        height=220,
    )


def _renewals_chart(page: PartnerPage) -> Any:
    return bar_chart(
        title=f"{page.organization.name}: renewals in the next 30 days",
        description="Amount renewing each day; days the current balance does not cover are red.",
        series=[Series("renewal", "Renewing")],
        groups=[
            Group(
                label=f"{d.day:%b %-d}",
                values=[d.cents],
                flagged=not d.covered,
                title=f"{d.day:%A %B %-d}, {d.leases} account(s)"
                + ("" if d.covered else ", not covered"),
            )
            for d in page.renewals
        ],
        money=True,
        label_every=max(1, (len(page.renewals) + 3) // 4),
        width=320,
        height=170,
    )


@dataclass(frozen=True)
class ActiveLeaseRow:
    account_url: str
    handle: str
    followers: str
    project: str
    request_url: str
    request_key: str
    assigned: str
    renews: str
    price: str


@dataclass(frozen=True)
class EndedLeaseRow:
    account_url: str
    handle: str
    project: str
    assigned: str
    ended: str
    reason: str
    reason_label: str
    note: str
    note_line: str


@dataclass(frozen=True)
class RequestRow:
    url: str
    key: str
    project: str
    vertical: str
    niche: str
    filled: str
    status: str
    status_label: str
    submitted: str
    note: str
    note_line: str


@dataclass(frozen=True)
class CallRow:
    request_id: str
    at: str
    method: str
    path: str
    key_prefix: str
    failed: bool
    status: str
    level: str
    error_code: str
    error_help: str
    took: str


@dataclass(frozen=True)
class LedgerRow:
    at: str
    kind: str
    kind_label: str
    memo: str
    actor: str
    amount: str
    debit: bool
    balance_after: str


@dataclass(frozen=True)
class RenewalRow:
    day: str
    leases: str
    amount: str
    running: str
    covered: bool


@dataclass(frozen=True)
class MonthRow:
    month: str
    amount: str


# What the API calls table reads of a call and its key (not the key's hash and scopes).
CALL_FIELDS = (
    "request_id",
    "organization_id",
    "method",
    "path",
    "status",
    "error_code",
    "duration_ms",
    "created_at",
    "api_key__display_prefix",
)
REASON_LABELS = dict(Lease.Reason.choices)
STATUS_LABELS = dict(LeaseRequest.Status.choices)
KIND_LABELS = dict(LedgerEntry.Kind.choices)


def _utc(moment: datetime, pattern: str) -> str:
    """`moment` in UTC, as the page's headings promise (strftime is ~40 times cheaper
    than the template's |date)."""
    return moment.astimezone(UTC).strftime(pattern)


class PartnerTables:
    """The partner page's tables as the template writes them: every cell worked out here,
    once, for the rows the page shows.

    The page shows about 250 rows. With a |date (~50 µs), a localized number (~7 µs) or a
    label lookup in each cell, rendering them cost more than all of the page's SQL; the
    template now only places these strings. Each table is built when the template first
    reads it, so the API calls fragment builds only its own.
    """

    def __init__(self, page: PartnerPage) -> None:
        self.page = page

    @cached_property
    def active_leases(self) -> list[ActiveLeaseRow]:
        return [
            ActiveLeaseRow(
                account_url=url_of(lease.account_id, "ops:pool-account"),
                handle=lease.handle,
                followers=f"{lease.followers:,}",
                project=lease.project,
                request_url=url_of(lease.request_id, "ops:request") if lease.request_id else "",
                request_key=lease.request_key or "",
                assigned=_utc(lease.assigned_at, "%b %-d, %Y"),
                renews=_utc(lease.next_renewal_at, "%b %-d, %Y") if lease.next_renewal_at else "",
                price=format_cents(lease.monthly_price_cents),
            )
            for lease in self.page.active_leases
        ]

    @cached_property
    def ended_leases(self) -> list[EndedLeaseRow]:
        return [
            EndedLeaseRow(
                account_url=url_of(lease.account_id, "ops:pool-account"),
                handle=lease.handle,
                project=lease.project,
                assigned=_utc(lease.assigned_at, "%b %-d, %Y"),
                ended=_utc(lease.disconnected_at, "%b %-d, %Y") if lease.disconnected_at else "",
                reason=lease.disconnected_reason,
                reason_label=str(
                    REASON_LABELS.get(lease.disconnected_reason, lease.disconnected_reason)
                ),
                note=lease.disconnected_note,
                note_line=first_line(lease.disconnected_note),
            )
            for lease in self.page.ended_leases
        ]

    @cached_property
    def requests(self) -> list[RequestRow]:
        rows = []
        for r in self.page.requests:
            note = getattr(r, "latest_partner_note", None) or ""
            rows.append(
                RequestRow(
                    url=url_of(r.pk, "ops:request"),
                    key=r.request_key,
                    project=str(getattr(r, "project_name", "")),
                    vertical=r.vertical,
                    niche=f"{r.language or 'any language'} · {', '.join(r.geo) or 'any country'}",
                    filled=f"{r.assigned_count} / {r.count}",
                    status=r.status,
                    status_label=str(STATUS_LABELS.get(r.status, r.status)),
                    submitted=_utc(r.submitted_at, "%b %-d, %H:%M"),
                    note=note,
                    note_line=first_line(note),
                )
            )
        return rows

    @cached_property
    def api_calls(self) -> list[CallRow]:
        return [
            CallRow(
                request_id=call.request_id,
                at=_utc(call.created_at, "%b %-d, %H:%M:%S"),
                method=call.method,
                path=call.path,
                key_prefix=call.api_key.display_prefix if call.api_key else "",
                failed=call.status >= 400,
                status=str(call.status),
                level=http_level(call.status),
                error_code=call.error_code,
                error_help=API_ERROR_HELP.get(call.error_code, ""),
                took=f"{call.duration_ms} ms",
            )
            for call in self.page.api_calls
        ]

    @cached_property
    def ledger(self) -> list[LedgerRow]:
        return [
            LedgerRow(
                at=_utc(entry.created_at, "%b %-d, %Y %H:%M"),
                kind=entry.kind,
                kind_label=str(KIND_LABELS.get(entry.kind, entry.kind)),
                memo=entry.memo,
                actor=entry.actor_label,
                amount=signed_cents(entry.amount_cents),
                debit=entry.amount_cents < 0,
                balance_after=format_cents(entry.balance_after_cents),
            )
            for entry in self.page.ledger
        ]

    @cached_property
    def renewals(self) -> list[RenewalRow]:
        return [
            RenewalRow(
                day=f"{d.day:%a %b %-d}",
                leases=str(d.leases),
                amount=format_cents(d.cents),
                running=format_cents(d.cumulative_cents),
                covered=d.covered,
            )
            for d in self.page.renewals
        ]

    @cached_property
    def months(self) -> list[MonthRow]:
        return [
            MonthRow(month=f"{m.month:%B %Y}", amount=format_cents(m.cents))
            for m in self.page.burn_by_month
        ]


def _pop_issued_key(request: DeskRequest, org: Organization) -> dict[str, Any] | None:
    """The key issued just before this page load (the caller deletes the cookie)."""
    raw = request.get_signed_cookie(
        ISSUED_KEY_COOKIE, default=None, salt=ISSUED_KEY_SALT, max_age=ISSUED_KEY_MAX_AGE
    )
    if raw is None:
        return None
    try:
        issued = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(issued, dict) or issued.get("organization") != org.pk:
        return None
    return issued


def partner_context(request: DeskRequest, org: Organization, **extra: Any) -> dict[str, Any]:
    calls = ApiCallFilter(
        request.GET,
        queryset=api_calls_visible_to(request.user)
        .filter(organization=org)
        .select_related("api_key")
        .only(*CALL_FIELDS)
        .order_by("-created_at", "-id"),
    )
    page = PartnerPage(organization=org, calls=calls)
    user = request.user
    context: dict[str, Any] = {
        "nav": "partners",
        "org": org,
        "page": page,
        "tables": PartnerTables(page),
        "stats": page.stats,
        "burn_chart": _burn_chart(page),
        "renewals_chart": _renewals_chart(page) if page.renewals else None,
        "can_wallet": user.has_perm(WALLET),
        "can_price": user.has_perm(PRICE),
        "can_keys": user.has_perm(API_KEYS),
        "can_export": user.has_perm(EXPORT),
        "key_form": ApiKeyIssueForm() if user.has_perm(API_KEYS) else None,
        "active_leases_url": _leases_url(org, PartnerLeasesForm.ACTIVE),
        "ended_leases_url": _leases_url(org, PartnerLeasesForm.ENDED),
        "projects_url": reverse("ops:partner-projects", args=[org.pk]),
    }
    context.update(extra)
    return context


@require_GET
@role_required()
def partner_view(request: DeskRequest, pk: str) -> HttpResponse:
    org = partner_page_for_staff(user=request.user, pk=pk)
    issued = _pop_issued_key(request, org)
    response = render_page(
        request, "partners/detail.html", partner_context(request, org, issued_key=issued)
    )
    if issued:
        # The page holds a secret: no cache may keep it, and it is shown only this once.
        add_never_cache_headers(response)
        response.delete_cookie(ISSUED_KEY_COOKIE, path=_partner_url(org), samesite="Strict")
    return response


def _partner_url(org: Organization, anchor: str = "") -> str:
    url = reverse("ops:partner", args=[org.pk])
    return f"{url}#{anchor}" if anchor else url


def _leases_url(org: Organization, status: str) -> str:
    return f"{reverse('ops:partner-leases', args=[org.pk])}?status={status}"


# ----------------------------------------------------------------------- partner's lists


@require_GET
@role_required()
def partner_leases_view(request: DeskRequest, pk: str) -> HttpResponse:
    org = partner_page_for_staff(user=request.user, pk=pk)
    form = PartnerLeasesForm(request.GET)
    ended = form.ended()
    leases = None
    if "status" not in form.errors:
        leases = partner_leases_page(
            user=request.user,
            organization=org,
            ended=ended,
            data=request.GET,
            page=form.page_number(),
        )
    path = reverse("ops:partner-leases", args=[org.pk])
    context: dict[str, Any] = {
        "nav": "partners",
        "org": org,
        "stats": PartnerStats.of(org),
        "ended": ended,
        "ended_count": ended_leases_label(org),
        "leases": leases,
        "form_errors": form.errors,
        "partner_url": _partner_url(org),
        "active_url": _leases_url(org, PartnerLeasesForm.ACTIVE),
        "ended_url": _leases_url(org, PartnerLeasesForm.ENDED),
        **pager_urls(path, request.GET, leases),
    }
    return render_page(request, "partners/leases.html", context)


@require_GET
@role_required()
def partner_projects_view(request: DeskRequest, pk: str) -> HttpResponse:
    org = partner_page_for_staff(user=request.user, pk=pk)
    paging = QueuePageForm(request.GET)
    projects = partner_projects_page(organization=org, data=request.GET, page=paging.page_number())
    path = reverse("ops:partner-projects", args=[org.pk])
    context: dict[str, Any] = {
        "nav": "partners",
        "org": org,
        "projects": projects,
        "project_count": getattr(org, "project_count", None),
        "paging_errors": paging.errors.get("page"),
        "partner_url": _partner_url(org),
        **pager_urls(path, request.GET, projects),
    }
    return render_page(request, "partners/projects.html", context)


# ----------------------------------------------------------------------- wallet


WALLET_ACTIONS = {
    "top_up": ("Top up the wallet", "ops:partner-top-up", "ops:partner-top-up-preview"),
    "adjust": ("Adjust the wallet", "ops:partner-adjust", "ops:partner-adjust-preview"),
    "price": ("Change the price per account", "ops:partner-price", "ops:partner-price-preview"),
}


def _render_wallet(
    request: DeskRequest,
    org: Organization,
    *,
    action: str,
    form: Form,
    effect: WalletEffect | PriceEffect | None,
    status: int = 200,
) -> HttpResponse:
    title, commit_url, preview_url = WALLET_ACTIONS[action]
    context = {
        "nav": "partners",
        "org": org,
        "stats": PartnerStats.of(org),
        "action": action,
        "title": title,
        "form": form,
        "effect": effect,
        "commit_url": reverse(commit_url, args=[org.pk]),
        "preview_url": reverse(preview_url, args=[org.pk]),
        "partner_url": _partner_url(org, "wallet"),
    }
    return render_page(request, "partners/wallet.html", context, status=status)


def _wallet_effect(org: Organization, amount_cents: int) -> WalletEffect:
    stats = PartnerStats.of(org)
    return WalletEffect(
        stats=stats, amount_cents=amount_cents, renewals=renewal_days(organization=org)
    )


def _money_preview(
    request: DeskRequest, pk: str, action: str, form_class: type[TopUpForm | AdjustmentForm]
) -> HttpResponse:
    org = partner_for_staff(user=request.user, pk=pk)
    form = form_class(request.GET or None)
    effect = None
    if form.is_bound and form.is_valid():
        effect = _wallet_effect(org, form.amount_cents())
        if not effect.allowed:
            form.add_error(
                "amount",
                f"The wallet holds {format_cents(effect.before_cents)}; an adjustment can take "
                f"out at most that much.",
            )
    status = 422 if form.is_bound and form.errors else 200
    return _render_wallet(request, org, action=action, form=form, effect=effect, status=status)


def _service_errors_to_form(form: Form, exc: ServiceError, fields: dict[str, str]) -> None:
    if isinstance(exc, ValidationFailed):
        for problem in exc.fields:
            name = fields.get(problem.field)
            form.add_error(name, f"{problem.problem[:1].upper()}{problem.problem[1:]}.")
    else:
        form.add_error(None, exc.message)


@require_GET
@role_required(WALLET)
def top_up_preview_view(request: DeskRequest, pk: str) -> HttpResponse:
    return _money_preview(request, pk, "top_up", TopUpForm)


@require_GET
@role_required(WALLET)
def adjust_preview_view(request: DeskRequest, pk: str) -> HttpResponse:
    return _money_preview(request, pk, "adjust", AdjustmentForm)


def _money_commit(
    request: DeskRequest, pk: str, action: str, form_class: type[TopUpForm | AdjustmentForm]
) -> HttpResponseBase:
    org = partner_for_staff(user=request.user, pk=pk)
    form = form_class(request.POST)
    if form.is_valid():
        service = wallet_top_up if action == "top_up" else wallet_adjust
        try:
            entry = service(
                organization=org,
                amount_cents=form.amount_cents(),
                memo=form.cleaned_data["memo"],
                actor=actor_for(request),
            )
        except ServiceError as exc:
            _service_errors_to_form(form, exc, {"amount_cents": "amount", "memo": "memo"})
        else:
            what = "Top-up" if action == "top_up" else "Adjustment"
            messages.success(
                request,
                f"{what} of {format_cents(entry.amount_cents)} recorded; "
                f"{org.name}'s balance is now {format_cents(entry.balance_after_cents)}.",
            )
            return HttpResponseSeeOther(_partner_url(org, "wallet"))
    effect = _wallet_effect(org, form.amount_cents()) if "amount" in form.cleaned_data else None
    return _render_wallet(request, org, action=action, form=form, effect=effect, status=422)


@require_POST
@role_required(WALLET)
def top_up_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    return _money_commit(request, pk, "top_up", TopUpForm)


@require_POST
@role_required(WALLET)
def adjust_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    return _money_commit(request, pk, "adjust", AdjustmentForm)


@require_GET
@role_required(PRICE)
def price_preview_view(request: DeskRequest, pk: str) -> HttpResponse:
    org = partner_for_staff(user=request.user, pk=pk)
    form = PriceForm(request.GET or None)
    effect = None
    if form.is_bound and form.is_valid():
        effect = PriceEffect(stats=PartnerStats.of(org), new_price_cents=form.price_cents())
        if effect.change_cents == 0:
            form.add_error("price", "That is the current price.")
            effect = None
    status = 422 if form.is_bound and form.errors else 200
    return _render_wallet(request, org, action="price", form=form, effect=effect, status=status)


@require_POST
@role_required(PRICE)
def price_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    org = partner_for_staff(user=request.user, pk=pk)
    form = PriceForm(request.POST)
    before = org.monthly_price_cents
    if form.is_valid():
        try:
            organization_set_price(
                organization=org, monthly_price_cents=form.price_cents(), actor=actor_for(request)
            )
        except ServiceError as exc:
            _service_errors_to_form(form, exc, {"monthly_price_cents": "price"})
        else:
            messages.success(
                request,
                f"{org.name}'s price per account is now {format_cents(org.monthly_price_cents)} "
                f"(was {format_cents(before)}); it applies to new leases.",
            )
            return HttpResponseSeeOther(_partner_url(org, "wallet"))
    return _render_wallet(request, org, action="price", form=form, effect=None, status=422)


# ----------------------------------------------------------------------- API keys


@require_POST
@role_required(API_KEYS)
def api_key_issue_view(request: DeskRequest, pk: str) -> HttpResponseBase:
    org = partner_page_for_staff(user=request.user, pk=pk)
    form = ApiKeyIssueForm(request.POST)
    if form.is_valid():
        try:
            api_key, raw = api_key_issue(
                organization=org,
                scopes=form.cleaned_data["scopes"],
                tier=form.cleaned_data["tier"],
                name=form.cleaned_data["name"],
                actor=actor_for(request),
            )
        except ServiceError as exc:
            _service_errors_to_form(form, exc, {"scopes": "scopes", "tier": "tier", "name": "name"})
        else:
            # Shown once on the next page load, then dropped; only its hash is stored.
            response = HttpResponseSeeOther(_partner_url(org, "api-keys"))
            response.set_signed_cookie(
                ISSUED_KEY_COOKIE,
                json.dumps(
                    {
                        "organization": org.pk,
                        "id": api_key.pk,
                        "raw": raw,
                        "prefix": api_key.display_prefix,
                    }
                ),
                salt=ISSUED_KEY_SALT,
                max_age=ISSUED_KEY_MAX_AGE,
                path=_partner_url(org),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Strict",
            )
            return response
    context = partner_context(request, org, key_form=form, key_form_open=True)
    return render_page(request, "partners/detail.html", context, status=422)


@require_POST
@role_required(API_KEYS)
def api_key_revoke_view(request: DeskRequest, pk: str, key_id: int) -> HttpResponseBase:
    org = partner_for_staff(user=request.user, pk=pk)
    api_key = get_object_or_404(ApiKey.objects.filter(organization=org), pk=key_id)
    try:
        api_key_revoke(api_key=api_key, actor=actor_for(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Key {api_key.display_prefix}… is revoked; calls with it now get 401."
        )
    return HttpResponseSeeOther(_partner_url(org, "api-keys"))

"""FilterSets: the query language of the dashboard's lists.

Each filter names the field and lookup it applies, so a reader can tell from the
declaration alone what a query-string parameter does to the SQL. Views check `is_valid()`
and show the errors instead of silently ignoring a bad filter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from html import escape as escape_html
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from leasing.models import (
    ApiCallLog,
    AuditEvent,
    Lease,
    LeaseRequest,
    LedgerEntry,
    Organization,
    PoolAccount,
    PoolAccountTag,
)
from leasing.services.allocation import account_tagged
from leasing.services.validation import (
    country_code,
    language_primary,
    language_problem,
    normalize_vertical,
)

CLAIMED_MINE = "mine"
CLAIMED_UNCLAIMED = "unclaimed"

OLDER_THAN = {"24h": timedelta(hours=24), "48h": timedelta(hours=48)}

# Every ordering ends on a unique column, so paging never repeats or skips a row.
QUEUE_SORTS: dict[str, tuple[str, ...]] = {
    "oldest": ("submitted_at", "id"),
    "newest": ("-submitted_at", "-id"),
    "count": ("-count", "submitted_at", "id"),
    "partner": ("organization__name", "submitted_at", "id"),
}
QUEUE_SORT_LABELS = [
    ("oldest", "Oldest first"),
    ("newest", "Newest first"),
    ("count", "Most accounts"),
    ("partner", "Partner A to Z"),
]


PARTNER_ID_PREFIX = "org_"


class PartnerInput(forms.TextInput):
    """The partner filter: a text box that suggests partners as you type.

    A <select> of every partner was 400 KB of a page at 5,000 partners, and no one scrolls
    a list that long. The box takes a partner's name (or id, which is what links carry);
    suggestions come from `ops:partner-suggest` into the box's <datalist> through htmx.
    It shows the partner's name even when the page was opened with an id.
    """

    input_type = "search"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "autocomplete": "off",
                "placeholder": "Type a name",
                "hx-trigger": "input changed delay:150ms",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
                # Not inherited from a filter form that pushes its own URL: suggestions
                # are not a page to go back to.
                "hx-push-url": "false",
                "hx-indicator": "this",
                **(attrs or {}),
            }
        )
        # Names of the partners this form resolved, by what was typed (see PartnerField).
        self.names: dict[str, str] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> PartnerInput:
        # Each form works on a copy of the filter's widget, and Django's copy of a widget
        # is shallow but for its attrs: without this, every visit's names landed in one
        # dict shared by all of them, which grew without end and showed a partner's old
        # name for text that no longer matches it.
        copied = super().__deepcopy__(memo)
        copied.names = {}
        return copied

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, Organization):
            return value.name
        text = str(value or "").strip()
        if text in self.names:
            return self.names[text]
        if text.lower().startswith(PARTNER_ID_PREFIX):
            # An id from a link (?partner=org_...): show whose it is.
            name = (
                Organization.objects.filter(pk=as_public_id(text))
                .values_list("name", flat=True)
                .first()
            )
            return name or text
        return text or None

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, attrs)
        options_id = f"{final_attrs.get('id') or 'id_' + name}-options"
        final_attrs.update(
            {
                "list": options_id,
                "hx-get": reverse("ops:partner-suggest"),
                "hx-target": f"#{options_id}",
            }
        )
        box = super().render(name, value, final_attrs, renderer)
        # The id is ours (an auto_id plus a suffix), escaped all the same.
        datalist = f'<datalist id="{escape_html(options_id)}"></datalist>'
        return mark_safe(box + datalist)  # noqa: S308


class PartnerField(forms.CharField):
    """A partner named by its id or its name (any case); cleans to the Organization."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("widget", PartnerInput)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Organization | None:
        text = super().clean(value).strip()
        if not text:
            return None
        found = list(
            Organization.objects.filter(Q(pk=as_public_id(text)) | Q(name__iexact=text))
            .only("id", "name")
            .order_by("name")[:3]
        )
        exact = [org for org in found if org.pk == as_public_id(text) or org.name == text]
        if len(exact) == 1 or len(found) == 1:
            org = exact[0] if len(exact) == 1 else found[0]
            if isinstance(self.widget, PartnerInput):
                self.widget.names[str(value).strip()] = org.name
            return org
        if not found:
            raise ValidationError(
                f"no partner is called “{text}”; pick one from the suggestions as you type"
            )
        raise ValidationError(
            f"“{text}” matches several partners ({', '.join(org.name for org in found)}); "
            "type the name exactly as it is written"
        )


class PartnerChoiceFilter(django_filters.Filter):
    field_class = PartnerField


def partner_filter(empty_label: str = "All partners") -> PartnerChoiceFilter:
    return PartnerChoiceFilter(
        field_name="organization",
        lookup_expr="exact",
        label="Partner",
        widget=PartnerInput(attrs={"placeholder": f"{empty_label} (type a name)"}),
    )


def as_public_id(text: str) -> str:
    """`text` written the way our ids are (a lower-case prefix, `_`, an upper-case ULID),
    so an id pasted in any case is found by its primary key instead of by comparing
    UPPER(id) on every row."""
    head, sep, tail = text.partition("_")
    return f"{head.lower()}_{tail.upper()}" if sep else text


def _validate_country(value: str) -> None:
    if value and country_code(value) is None:
        raise ValidationError(f"{value!r} is not a two-letter country code (for example US, DE)")


def _validate_language(value: str) -> None:
    problem = language_problem(value) if value else None
    if problem:
        raise ValidationError(problem)


class QueueFilter(django_filters.FilterSet):
    """The request queue. With no status chosen it shows the open queue."""

    q = django_filters.CharFilter(
        field_name="request_key",
        lookup_expr="icontains",
        method="filter_search",
        label="Search",
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Request id, partner, target…",
                "autocomplete": "off",
                "class": "js-filter-type",
            }
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        field_name="status",
        lookup_expr="in",
        method="filter_status",
        choices=LeaseRequest.Status.choices,
        distinct=False,
        label="Status",
        widget=forms.CheckboxSelectMultiple,
    )
    vertical = django_filters.CharFilter(
        field_name="vertical",
        lookup_expr="iexact",
        label="Vertical",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "coffee", "class": "js-filter-type"}),
    )
    language = django_filters.CharFilter(
        field_name="language",
        lookup_expr="istartswith",
        label="Language",
        max_length=35,
        validators=[_validate_language],
        widget=forms.TextInput(attrs={"placeholder": "en", "class": "js-filter-type"}),
    )
    country = django_filters.CharFilter(
        field_name="geo",
        lookup_expr="icontains",
        method="filter_country",
        label="Country",
        max_length=2,
        validators=[_validate_country],
        widget=forms.TextInput(attrs={"placeholder": "US", "class": "js-filter-type"}),
    )
    partner = partner_filter("Any partner")
    claimed = django_filters.ChoiceFilter(
        field_name="claimed_by",
        lookup_expr="exact",
        method="filter_claimed",
        choices=[(CLAIMED_MINE, "Mine"), (CLAIMED_UNCLAIMED, "Unclaimed")],
        label="Claimed",
        empty_label="Anyone",
    )
    older_than = django_filters.ChoiceFilter(
        field_name="submitted_at",
        lookup_expr="lt",
        method="filter_older_than",
        choices=[("24h", "Over 24 h"), ("48h", "Over 48 h")],
        label="Waiting",
        empty_label="Any age",
    )
    sort = django_filters.ChoiceFilter(
        field_name="submitted_at",
        lookup_expr="exact",
        method="filter_sort",
        choices=QUEUE_SORT_LABELS,
        label="Sort",
        empty_label=None,
    )

    class Meta:
        model = LeaseRequest
        fields: list[str] = []

    def __init__(self, data: QueryDict | None = None, *args: Any, **kwargs: Any) -> None:
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.getlist("status"):
            # The landing view: requests someone still has to work on.
            data.setlist("status", list(LeaseRequest.OPEN_STATUSES))
        super().__init__(data, *args, **kwargs)

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        text = value.strip()
        if not text:
            return queryset
        key = as_public_id(text)
        # Partners by name first, so every condition below is on the request table and
        # each has an index (pk, trigram, request_by_organization) to OR together.
        partners = list(
            Organization.objects.filter(Q(name__icontains=text) | Q(pk=key)).values_list(
                "pk", flat=True
            )
        )
        return queryset.filter(
            Q(pk=key)
            | Q(**{f"{name}__icontains": text})
            | Q(organization__in=partners)
            | Q(project_id=key)
            | Q(target__icontains=text)
        )

    def filter_status(self, queryset: QuerySet[Any], name: str, value: list[str]) -> QuerySet[Any]:
        chosen = sorted(set(value))
        if set(chosen) >= set(LeaseRequest.Status.values):
            # Every status is no condition at all, and lets the planner walk request_time.
            return queryset
        return queryset.filter(**{f"{name}__in": chosen})

    def filter_country(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        code = country_code(value)
        if code is None:
            return queryset
        # geo is a JSON list; matching the quoted code finds the element, not a substring.
        return queryset.filter(**{f"{name}__icontains": f'"{code}"'})

    def filter_claimed(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if value == CLAIMED_MINE:
            user = getattr(self.request, "user", None)
            return queryset.filter(**{name: user.pk if user is not None else None})
        if value == CLAIMED_UNCLAIMED:
            return queryset.filter(**{f"{name}__isnull": True})
        return queryset

    def filter_older_than(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{f"{name}__lt": timezone.now() - OLDER_THAN[value]})

    def filter_sort(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.order_by(*QUEUE_SORTS[value])


# =====================================================================================
# Partners, pool, audit log and reports (the console pages of issue 5)
# =====================================================================================

# A partner is at risk when its wallet lasts under two weeks at the current burn, or the
# next renewal day costs more than the wallet holds.
AT_RISK_RUNWAY_DAYS = 14
AT_RISK = "at_risk"


def day_start(day: date) -> datetime:
    """Midnight UTC opening `day`: dates in filters bound UTC timestamps."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def _since(queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
    return queryset.filter(**{f"{name}__gte": day_start(value)})


def _until(queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
    # Inclusive of the whole last day.
    return queryset.filter(**{f"{name}__lt": day_start(value + timedelta(days=1))})


class DateRangeForm(forms.Form):
    """A FilterSet form whose `since` must not come after its `until`."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "must be on or after the start date")
        return data


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


# Partner list orderings, each ending on the primary key so paging is stable. Runway and
# next renewal are empty for partners without active leases; those sort last.
PARTNER_SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "burn": (F("burn_cents").desc(), "name", "id"),
    "-burn": (F("burn_cents").asc(), "name", "id"),
    "accounts": (F("active_accounts").desc(), "name", "id"),
    "-accounts": (F("active_accounts").asc(), "name", "id"),
    "balance": ("balance_cents", "name", "id"),
    "-balance": ("-balance_cents", "name", "id"),
    "runway": (F("runway_days").asc(nulls_last=True), "name", "id"),
    "-runway": (F("runway_days").desc(nulls_last=True), "name", "id"),
    "renewal": (F("next_renewal_at").asc(nulls_last=True), "name", "id"),
    "-renewal": (F("next_renewal_at").desc(nulls_last=True), "name", "id"),
    "open": (F("open_requests").desc(), "name", "id"),
    "-open": (F("open_requests").asc(), "name", "id"),
}
PARTNER_SORT_LABELS = [
    ("name", "Name A to Z"),
    ("-name", "Name Z to A"),
    ("burn", "Highest burn"),
    ("-burn", "Lowest burn"),
    ("accounts", "Most accounts"),
    ("-accounts", "Fewest accounts"),
    ("balance", "Lowest balance"),
    ("-balance", "Highest balance"),
    ("runway", "Shortest runway"),
    ("-runway", "Longest runway"),
    ("renewal", "Next renewal soonest"),
    ("-renewal", "Next renewal latest"),
    ("open", "Most open requests"),
    ("-open", "Fewest open requests"),
]


class PartnerFilter(django_filters.FilterSet):
    """The partner list. Works on a queryset annotated by selectors.partner_rows."""

    q = django_filters.CharFilter(
        field_name="name",
        lookup_expr="icontains",
        method="filter_search",
        label="Search",
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Partner name or org_ id",
                "autocomplete": "off",
            }
        ),
    )
    status = django_filters.ChoiceFilter(
        field_name="status",
        lookup_expr="exact",
        choices=Organization.Status.choices,
        label="Status",
        empty_label="Any status",
    )
    view = django_filters.ChoiceFilter(
        field_name="at_risk",
        lookup_expr="exact",
        method="filter_view",
        choices=[(AT_RISK, "At risk")],
        label="Show",
        empty_label="All partners",
    )
    sort = django_filters.ChoiceFilter(
        field_name="name",
        lookup_expr="exact",
        method="filter_sort",
        choices=PARTNER_SORT_LABELS,
        label="Sort",
        empty_label=None,
    )

    class Meta:
        model = Organization
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(Q(**{f"{name}__icontains": text}) | Q(id__iexact=text))

    def filter_view(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{name: True}) if value == AT_RISK else queryset

    def filter_sort(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.order_by(*PARTNER_SORTS[value])


API_CALL_ERRORS = "errors"
API_CALL_OK = "ok"


class ApiCallFilter(django_filters.FilterSet):
    """The partner page's latest API calls: find one by request id, or only the failures."""

    request_id = django_filters.CharFilter(
        field_name="request_id",
        lookup_expr="startswith",
        method="filter_request_id",
        label="Request id",
        max_length=32,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "req_01…", "autocomplete": "off"}
        ),
    )
    outcome = django_filters.ChoiceFilter(
        field_name="status",
        lookup_expr="gte",
        method="filter_outcome",
        choices=[(API_CALL_ERRORS, "Errors only"), (API_CALL_OK, "Successful only")],
        label="Outcome",
        empty_label="All calls",
    )

    class Meta:
        model = ApiCallLog
        fields: list[str] = []

    def filter_request_id(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        text = value.strip()
        if not text:
            return queryset
        # Ids are "req_" and an upper-case ULID; people paste them in any case.
        prefix, sep, rest = text.partition("_")
        text = f"{prefix.lower()}_{rest.upper()}" if sep else text.upper()
        return queryset.filter(**{f"{name}__startswith": text})

    def filter_outcome(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if value == API_CALL_ERRORS:
            return queryset.filter(**{f"{name}__gte": 400})
        return queryset.filter(**{f"{name}__lt": 400})


POOL_SORTS: dict[str, tuple[str, ...]] = {
    "followers": ("-followers", "id"),
    "handle": ("handle", "id"),
    "newest": ("-created_at", "-id"),
    "warmed": ("warmed_since", "id"),
}
POOL_SORT_LABELS = [
    ("followers", "Most followers"),
    ("handle", "Handle A to Z"),
    ("newest", "Newest in the pool"),
    ("warmed", "Warmed longest"),
]


class PoolFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("followers_min"), data.get("followers_max")
        if low is not None and high is not None and low > high:
            self.add_error("followers_max", "must be at least the minimum")
        return data


class PoolFilter(django_filters.FilterSet):
    """The pool list and the pool CSV."""

    q = django_filters.CharFilter(
        field_name="handle",
        lookup_expr="icontains",
        method="filter_search",
        label="Handle",
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "@handle or sa_ id",
                "autocomplete": "off",
                "class": "js-filter-type",
            }
        ),
    )
    state = django_filters.MultipleChoiceFilter(
        field_name="state",
        lookup_expr="exact",
        choices=PoolAccount.State.choices,
        distinct=False,
        label="State",
        widget=forms.CheckboxSelectMultiple,
    )
    vertical = django_filters.CharFilter(
        field_name="tags__value",
        lookup_expr="exact",
        method="filter_vertical",
        label="Vertical",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "coffee", "class": "js-filter-type"}),
    )
    language = django_filters.CharFilter(
        field_name="language_primary",
        lookup_expr="exact",
        method="filter_language",
        label="Language",
        max_length=35,
        validators=[_validate_language],
        widget=forms.TextInput(attrs={"placeholder": "en", "class": "js-filter-type"}),
    )
    country = django_filters.CharFilter(
        field_name="tags__value",
        lookup_expr="exact",
        method="filter_country",
        label="Country",
        max_length=2,
        validators=[_validate_country],
        widget=forms.TextInput(attrs={"placeholder": "US", "class": "js-filter-type"}),
    )
    followers_min = django_filters.NumberFilter(
        field_name="followers",
        lookup_expr="gte",
        label="Followers from",
        min_value=0,
        widget=forms.NumberInput(attrs={"placeholder": "0", "min": "0", "class": "js-filter-type"}),
    )
    followers_max = django_filters.NumberFilter(
        field_name="followers",
        lookup_expr="lte",
        label="Followers to",
        min_value=0,
        widget=forms.NumberInput(
            attrs={"placeholder": "any", "min": "0", "class": "js-filter-type"}
        ),
    )
    sort = django_filters.ChoiceFilter(
        field_name="followers",
        lookup_expr="exact",
        method="filter_sort",
        choices=POOL_SORT_LABELS,
        label="Sort",
        empty_label=None,
    )

    class Meta:
        model = PoolAccount
        fields: list[str] = []
        form = PoolFilterForm

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        text = value.strip().lstrip("@")
        if not text:
            return queryset
        return queryset.filter(Q(**{f"{name}__icontains": text}) | Q(pk=as_public_id(text)))

    def filter_vertical(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        vertical = normalize_vertical(value)
        if not vertical:
            return queryset
        return queryset.filter(account_tagged(PoolAccountTag.Kind.VERTICAL, vertical))

    def filter_language(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{name: language_primary(value.strip())})

    def filter_country(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        code = country_code(value)
        if code is None:
            return queryset
        return queryset.filter(account_tagged(PoolAccountTag.Kind.COUNTRY, code))

    def filter_sort(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.order_by(*POOL_SORTS[value])


# What the services record; the audit log offers these in its action filter.
AUDIT_ACTIONS = [
    ("api_key.issue", "API key issued"),
    ("api_key.revoke", "API key revoked"),
    ("lease.disconnect", "Lease ended"),
    ("lease.renew", "Lease renewed"),
    ("organization.onboard", "Partner onboarded"),
    ("organization.set_price", "Price changed"),
    ("organization.set_status", "Partner status changed"),
    ("pool.create", "Account added"),
    ("pool.import", "Pool import"),
    ("pool.mark_ready", "Account marked ready"),
    ("pool.mark_warming", "Account back to warming"),
    ("pool.retire", "Account retired"),
    ("project.create", "Project created"),
    ("report.export", "Report downloaded"),
    ("request.assign", "Accounts assigned"),
    ("request.claim", "Request claimed"),
    ("request.close_partial", "Request closed as partial"),
    ("request.close_rejected", "Request rejected"),
    ("request.create", "Request received"),
    ("request.unclaim", "Request unclaimed"),
    ("staff.create", "Staff user created"),
    ("wallet.adjustment", "Wallet adjustment"),
    ("wallet.refund", "Wallet refund"),
    ("wallet.top_up", "Wallet top-up"),
]
AUDIT_OBJECT_TYPES = [
    ("organization", "Partner"),
    ("project", "Project"),
    ("api_key", "API key"),
    ("pool_account", "Pool account"),
    ("lease_request", "Request"),
    ("lease", "Lease"),
    ("report", "Report"),
    ("user", "Staff user"),
]


def _staff_users() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_staff=True).order_by("username")


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.ModelChoiceFilter(
        field_name="actor_user",
        lookup_expr="exact",
        queryset=_staff_users(),
        label="Staff user",
        empty_label="Anyone",
    )
    actor_type = django_filters.ChoiceFilter(
        field_name="actor_type",
        lookup_expr="exact",
        choices=AuditEvent.ActorType.choices,
        label="Actor type",
        empty_label="Any actor",
    )
    action = django_filters.ChoiceFilter(
        field_name="action",
        lookup_expr="exact",
        choices=AUDIT_ACTIONS,
        label="Action",
        empty_label="Any action",
    )
    object_type = django_filters.ChoiceFilter(
        field_name="object_type",
        lookup_expr="exact",
        choices=AUDIT_OBJECT_TYPES,
        label="Object type",
        empty_label="Any object",
    )
    object_id = django_filters.CharFilter(
        field_name="object_id",
        lookup_expr="exact",
        label="Object id",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "org_…, sa_…, lease id", "type": "search"}),
    )
    partner = partner_filter()
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="gte",
        method=_since,
        label="From",
        widget=_date_input(),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="lt",
        method=_until,
        label="To",
        widget=_date_input(),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = DateRangeForm


class LeaseReportFilter(django_filters.FilterSet):
    """The leases CSV."""

    partner = partner_filter()
    status = django_filters.ChoiceFilter(
        field_name="status",
        lookup_expr="exact",
        choices=Lease.Status.choices,
        label="Status",
        empty_label="Active and disconnected",
    )
    since = django_filters.DateFilter(
        field_name="assigned_at",
        lookup_expr="gte",
        method=_since,
        label="Assigned from",
        widget=_date_input(),
    )
    until = django_filters.DateFilter(
        field_name="assigned_at",
        lookup_expr="lt",
        method=_until,
        label="Assigned to",
        widget=_date_input(),
    )

    class Meta:
        model = Lease
        fields: list[str] = []
        form = DateRangeForm


class LedgerFilter(django_filters.FilterSet):
    """The wallet ledger CSV for a date range."""

    partner = partner_filter()
    kind = django_filters.MultipleChoiceFilter(
        field_name="kind",
        lookup_expr="exact",
        choices=LedgerEntry.Kind.choices,
        distinct=False,
        label="Kinds",
        widget=forms.CheckboxSelectMultiple,
    )
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="gte",
        method=_since,
        label="From",
        widget=_date_input(),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="lt",
        method=_until,
        label="To",
        widget=_date_input(),
    )

    class Meta:
        model = LedgerEntry
        fields: list[str] = []
        form = DateRangeForm


class BurnMonthlyFilter(django_filters.FilterSet):
    """Burn by partner month by month: lease charges in a date range."""

    partner = partner_filter()
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="gte",
        method=_since,
        label="From",
        widget=_date_input(),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="lt",
        method=_until,
        label="To",
        widget=_date_input(),
    )

    class Meta:
        model = LedgerEntry
        fields: list[str] = []
        form = DateRangeForm


RENEWAL_WINDOW_DAYS = 30
RENEWAL_WINDOW_MAX = 90


class RenewalsDueFilter(django_filters.FilterSet):
    """Active leases renewing within `days` (default 30); overdue ones are included."""

    partner = partner_filter()
    days = django_filters.NumberFilter(
        field_name="next_renewal_at",
        lookup_expr="lt",
        method="filter_days",
        label="Within days",
        min_value=1,
        max_value=RENEWAL_WINDOW_MAX,
        widget=forms.NumberInput(attrs={"min": "1", "max": str(RENEWAL_WINDOW_MAX)}),
    )

    class Meta:
        model = Lease
        fields: list[str] = []

    def __init__(self, data: QueryDict | None = None, *args: Any, **kwargs: Any) -> None:
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("days"):
            data["days"] = str(RENEWAL_WINDOW_DAYS)
        super().__init__(data, *args, **kwargs)

    def filter_days(self, queryset: QuerySet[Any], name: str, value: Decimal) -> QuerySet[Any]:
        return queryset.filter(**{f"{name}__lt": timezone.now() + timedelta(days=int(value))})

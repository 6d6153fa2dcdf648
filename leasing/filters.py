"""FilterSets: the query language of the dashboard's lists.

Each filter names the field and lookup it applies, so a reader can tell from the
declaration alone what a query-string parameter does to the SQL. Views check `is_valid()`
and show the errors instead of silently ignoring a bad filter.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from leasing.models import LeaseRequest, Organization
from leasing.services.validation import country_code, language_problem

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
        lookup_expr="exact",
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
    partner = django_filters.ModelChoiceFilter(
        field_name="organization",
        lookup_expr="exact",
        queryset=Organization.objects.only("id", "name").order_by("name"),
        label="Partner",
        empty_label="Any partner",
    )
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
        return queryset.filter(
            Q(id__iexact=text)
            | Q(**{f"{name}__icontains": text})
            | Q(organization__name__icontains=text)
            | Q(organization__id__iexact=text)
            | Q(project__id__iexact=text)
            | Q(target__icontains=text)
        )

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

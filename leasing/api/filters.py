"""The query language of the API's list endpoints. A bad value is a 422, never ignored."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.http import QueryDict

from leasing.models import Lease, LeaseRequest
from leasing.services.errors import FieldProblem

REQUEST_STATUSES = ("requested", "assigned", "partial", "rejected")
LEASE_STATUSES = (Lease.Status.ASSIGNED.value, Lease.Status.DISCONNECTED.value)
SOCIAL_STATUSES = ("connected", "disconnected")
BOOLEANS = ("true", "false")
PLATFORM_PROBLEM = "must be a lower-case platform name (tiktok)"


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


def _invalid_choice(values: tuple[str, ...]) -> dict[str, str]:
    return {
        "invalid_choice": f"must be one of {', '.join(values)}",
        "required": f"must be one of {', '.join(values)}",
    }


class LeaseRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        field_name="status",
        lookup_expr="in",
        choices=_choices(REQUEST_STATUSES),
        error_messages=_invalid_choice(REQUEST_STATUSES),
        method="filter_status",
    )

    class Meta:
        model = LeaseRequest
        fields: list[str] = []

    def filter_status(
        self, queryset: QuerySet[LeaseRequest], name: str, value: str
    ) -> QuerySet[LeaseRequest]:
        # Partners see work in progress as still requested.
        statuses = [value]
        if value == LeaseRequest.Status.REQUESTED:
            statuses.append(LeaseRequest.Status.IN_PROGRESS)
        return queryset.filter(**{f"{name}__in": statuses})


class LeasedAccountFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        field_name="status",
        lookup_expr="exact",
        choices=_choices(LEASE_STATUSES),
        # The view fills in `assigned` when the parameter is absent.
        error_messages=_invalid_choice(LEASE_STATUSES),
    )

    class Meta:
        model = Lease
        fields: list[str] = []


class SocialAccountFilter(django_filters.FilterSet):
    leased = django_filters.ChoiceFilter(
        field_name="pk",
        lookup_expr="isnull",
        choices=_choices(BOOLEANS),
        error_messages=_invalid_choice(BOOLEANS),
        method="filter_leased",
    )
    platform = django_filters.CharFilter(
        field_name="account__platform",
        lookup_expr="exact",
        validators=[RegexValidator(r"^[a-z0-9_-]{1,32}$", PLATFORM_PROBLEM)],
        error_messages={"required": PLATFORM_PROBLEM},
    )
    status = django_filters.ChoiceFilter(
        field_name="status",
        lookup_expr="exact",
        choices=_choices(SOCIAL_STATUSES),
        error_messages=_invalid_choice(SOCIAL_STATUSES),
        method="filter_status",
    )

    class Meta:
        model = Lease
        fields: list[str] = []

    def filter_leased(self, queryset: QuerySet[Lease], name: str, value: str) -> QuerySet[Lease]:
        # Lease Desk only knows leased accounts: every row here is leased.
        return queryset if value == "true" else queryset.none()

    def filter_status(self, queryset: QuerySet[Lease], name: str, value: str) -> QuerySet[Lease]:
        # Every publishable (actively leased) account is connected.
        return queryset if value == "connected" else queryset.none()


def filter_problems(filterset: django_filters.FilterSet) -> list[FieldProblem]:
    """Every bad filter value. An empty one (`?status=`) is bad too: django-filter would
    read it as "no filter", which is not what a partner who sent it meant."""
    problems = []
    for name, declared in filterset.filters.items():
        if name in filterset.data and filterset.data[name] == "":
            messages = declared.extra.get("error_messages", {})
            problems.append(FieldProblem(name, messages.get("required", "must not be empty")))
    if not filterset.is_valid():
        problems += [
            FieldProblem(name, " ".join(str(message) for message in messages))
            for name, messages in filterset.errors.items()
        ]
    return problems


def query_with_default(query: QueryDict, **defaults: str) -> QueryDict | dict[str, Any]:
    """The query string with defaults for absent parameters (an empty value stays)."""
    data = query.copy()
    for name, value in defaults.items():
        if name not in data:
            data[name] = value
    return data

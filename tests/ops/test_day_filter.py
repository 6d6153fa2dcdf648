"""`day`: the tables' date filter says exactly what Django's `date:"M j, Y"` says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.template import Context, Template
from django.utils import timezone as django_timezone

from leasing.templatetags.desk import day

TOKYO = timezone(timedelta(hours=9), "Tokyo")
MOMENTS = [
    date(2026, 1, 5),
    date(2026, 12, 31),
    date(2027, 9, 30),
    *(date(2026, month, 1) for month in range(1, 13)),
    datetime(2026, 11, 22, 4, 5, tzinfo=UTC),
    datetime(2026, 11, 22, 23, 59, tzinfo=UTC),  # the next day in Tokyo
    datetime(2026, 3, 1, 0, 0, tzinfo=TOKYO),  # still February in UTC
    datetime(2026, 6, 15, 12, 0),  # naive: shown as it is
]


def django_says(value: object) -> str:
    return Template('{{ value|date:"M j, Y" }}').render(Context({"value": value}))


@pytest.mark.parametrize("value", MOMENTS, ids=str)
def test_same_text_as_djangos_date_filter(value):
    assert day(value) == django_says(value)


@pytest.mark.parametrize("value", MOMENTS[-4:], ids=str)
def test_moments_are_shown_in_the_current_time_zone(value):
    with django_timezone.override(TOKYO):
        assert day(value) == django_says(value)


def test_no_date_is_empty_so_default_can_stand_in():
    assert day(None) == ""
    assert (
        Template('{% load desk %}{{ value|day|default:"—" }}').render(Context({"value": None}))
        == "—"
    )

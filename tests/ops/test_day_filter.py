"""`day` and `month_day`: the tables' date filters say exactly what Django's
`date:"M j, Y"` and `date:"M j"` say."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.template import Context, Template
from django.utils import timezone as django_timezone

from leasing.templatetags.desk import day, month_day

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


FILTERS = [(day, "M j, Y"), (month_day, "M j")]


def django_says(value: object, format: str) -> str:
    return Template(f'{{{{ value|date:"{format}" }}}}').render(Context({"value": value}))


@pytest.mark.parametrize(("ours", "format"), FILTERS, ids=lambda f: getattr(f, "__name__", f))
@pytest.mark.parametrize("value", MOMENTS, ids=str)
def test_same_text_as_djangos_date_filter(value, ours, format):
    assert ours(value) == django_says(value, format)


@pytest.mark.parametrize(("ours", "format"), FILTERS, ids=lambda f: getattr(f, "__name__", f))
@pytest.mark.parametrize("value", MOMENTS[-4:], ids=str)
def test_moments_are_shown_in_the_current_time_zone(value, ours, format):
    with django_timezone.override(TOKYO):
        assert ours(value) == django_says(value, format)


def test_no_date_is_empty_so_default_can_stand_in():
    assert day(None) == month_day(None) == ""
    assert (
        Template('{% load desk %}{{ value|day|default:"—" }}').render(Context({"value": None}))
        == "—"
    )

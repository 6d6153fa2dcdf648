"""Template filters for the ops dashboard: money, ages and roles, said the same way on
every page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django import template
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from leasing.money import format_cents
from leasing.services.staff import staff_role

register = template.Library()

# The queue's age chip: amber after a day waiting, red after two.
AGE_AMBER = timedelta(hours=24)
AGE_RED = timedelta(hours=48)


_URL_PLACEHOLDER = "URLPLACEHOLDER"


@lru_cache(maxsize=128)
def _page_url(name: str, script_prefix: str) -> str:
    return reverse(name)


@register.simple_tag
def page_url(name: str) -> str:
    """{% page_url "ops:queue" %}: what {% url "ops:queue" %} gives for a page without
    arguments, looked up once per process. Every page's header links nine pages, and
    each {% url %} walks the resolver again (0.4 ms of an empty page, 0.8 of the queue)."""
    return _page_url(name, get_script_prefix())


@lru_cache(maxsize=64)
def _url_around(name: str, script_prefix: str) -> tuple[str, str]:
    """The URL of `name` before and after its one argument, under `script_prefix`."""
    head, _, tail = reverse(name, args=[_URL_PLACEHOLDER]).partition(_URL_PLACEHOLDER)
    return head, tail


@register.filter
def url_of(pk: str, name: str) -> str:
    """{{ org.pk|url_of:"ops:partner" }}: the page `name` of one object, as {% url %}
    gives it, for pages that link hundreds of rows (each {% url %} walks the resolver)."""
    return url_maker(name)(pk)


@receiver(setting_changed)
def _forget_urls(*, setting: str, **kwargs: Any) -> None:
    """Tests that swap the URLconf get its URLs, not the ones looked up before."""
    if setting == "ROOT_URLCONF":
        _page_url.cache_clear()
        _url_around.cache_clear()


def url_maker(name: str) -> Callable[[str], str]:
    """`url_of` for one kind of page and many rows: the page's URL is looked up once."""
    head, tail = _url_around(name, get_script_prefix())
    return lambda pk: f"{head}{quote(str(pk), safe='')}{tail}"


@register.filter
def day(value: date | datetime | None) -> str:
    """Nov 5, 2026: what {{ value|date:"M j, Y" }} says in English (a moment in the
    current time zone, as Django's filter shows it), for tables of hundreds of dates:
    Django's filter parses its format and translates the month's name on every call,
    and on the pool list that was a sixth of the page's time. "" for no date."""
    shown = _local(value)
    return "" if shown is None else f"{shown:%b} {shown.day}, {shown.year}"


@register.filter
def month_day(value: date | datetime | None) -> str:
    """Nov 5: what {{ value|date:"M j" }} says, as `day` does for "M j, Y"."""
    shown = _local(value)
    return "" if shown is None else f"{shown:%b} {shown.day}"


def _local(value: date | datetime | None) -> date | datetime | None:
    """The day as Django's date filter shows it: a moment in the current time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def thousands(value: int) -> str:
    """12345 -> 12,345, as humanize's intcomma says it in English, for tables of hundreds
    of numbers: as text, the template does not localise it again."""
    return f"{int(value):,}"


@register.filter
def cents(value: int | None) -> str:
    """12345 -> $123.45"""
    if value is None:
        return "—"
    return format_cents(int(value))


@register.filter
def age(moment: datetime | None, *, now: datetime | None = None) -> str:
    """How long ago, short: 45m, 5h, 2d 3h. `now` for many rows that share one clock."""
    if moment is None:
        return "—"
    seconds = max(0, int(((now or timezone.now()) - moment).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        rest = hours - days * 24
        return f"{days}d {rest}h" if rest else f"{days}d"
    if hours:
        return f"{hours}h"
    return f"{minutes}m"


@register.filter
def age_level(moment: datetime | None, *, now: datetime | None = None) -> str:
    """fresh, amber (over 24 h) or red (over 48 h)."""
    if moment is None:
        return "fresh"
    waited = (now or timezone.now()) - moment
    if waited > AGE_RED:
        return "red"
    if waited > AGE_AMBER:
        return "amber"
    return "fresh"


@register.filter
def first_line(text: str | None, length: int = 80) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"


@register.filter
def role_label(user: AbstractUser | AnonymousUser) -> str:
    if not user.is_authenticated or not isinstance(user, AbstractUser):
        return ""
    role = staff_role(user)
    return role.capitalize() if role else "Staff"


@register.filter
def display_name(user: AbstractUser | AnonymousUser | None) -> str:
    if user is None or not user.is_authenticated or not isinstance(user, AbstractUser):
        return ""
    return staff_name(user.first_name, user.last_name, user.get_username())


def staff_name(first_name: str, last_name: str, username: str) -> str:
    """A staff member as pages show them: the full name, else the username."""
    return f"{first_name} {last_name}".strip() or username


@register.filter
def fill_class(done: int, total: int) -> str:
    """A width class (w-0 ... w-100, in tens) for a progress bar without inline styles."""
    if not total:
        return "w-0"
    tens = min(10, max(0, round(10 * done / total)))
    return f"w-{tens * 10}"

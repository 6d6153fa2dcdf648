"""Money and billing-calendar helpers."""

from __future__ import annotations

from datetime import datetime

from dateutil.relativedelta import relativedelta


def format_cents(cents: int) -> str:
    """$1,234.50 (negative amounts as -$12.00)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months, the day clamped to the month's end."""
    return moment + relativedelta(months=months)

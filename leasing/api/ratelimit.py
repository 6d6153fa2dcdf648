"""Fixed-window rate limits per API key and endpoint class, counted in the database.

The count lives in one RateLimitWindow row per (key, class, minute) and moves with a
single atomic upsert, so every gunicorn worker and server sees the same budget. The
upsert only increments while the count is below the limit: a refused call leaves the
counter (and everything else) exactly as it was.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from leasing.api.calls import READ_LIGHT, WRITE_LIGHT, ApiCall, RateState
from leasing.api.errors import RATE_LIMITED, ApiError
from leasing.db import fetch_prepared, prepared_statements
from leasing.models import ApiKey, RateLimitWindow

WINDOW = timedelta(minutes=1)

# Calls per minute: (read-light, write-light) for each key tier.
TIER_LIMITS: dict[str, dict[str, int]] = {
    ApiKey.Tier.STANDARD: {READ_LIGHT: 120, WRITE_LIGHT: 60},
    ApiKey.Tier.PILOT: {READ_LIGHT: 1200, WRITE_LIGHT: 600},
    ApiKey.Tier.PARTNER: {READ_LIGHT: 6000, WRITE_LIGHT: 3000},
}


def clock() -> datetime:
    """Now. A function of its own so tests can move the window without sleeping."""
    return timezone.now()


def limit_for(tier: str, endpoint_class: str) -> int:
    return TIER_LIMITS.get(tier, TIER_LIMITS[ApiKey.Tier.STANDARD])[endpoint_class]


def window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _reset_seconds(now: datetime) -> int:
    remaining = (window_start(now) + WINDOW - now).total_seconds()
    return max(1, math.ceil(remaining))


def _column(name: str) -> str:
    field = RateLimitWindow._meta.get_field(name)
    assert isinstance(field, Field)
    assert field.column is not None
    return connection.ops.quote_name(field.column)


RATE_STATEMENT = "lease_desk_rate_limit"


@cache
def _upsert_sql(*, numbered: bool) -> str:
    """The upsert with %s placeholders, or with $1..$4 for a prepared statement."""
    table = connection.ops.quote_name(RateLimitWindow._meta.db_table)
    key_col, class_col = _column("api_key"), _column("endpoint_class")
    window_col, count_col = _column("window_start"), _column("count")
    key, endpoint_class, window, limit = ("$1", "$2", "$3", "$4") if numbered else ("%s",) * 4
    # SQLite >= 3.35 and PostgreSQL both read this; the WHERE turns an over-budget
    # increment into no row at all. Only model metadata is interpolated, never input.
    return (
        f"INSERT INTO {table} ({key_col}, {class_col}, {window_col}, {count_col}) "  # noqa: S608
        f"VALUES ({key}, {endpoint_class}, {window}, 1) "
        f"ON CONFLICT ({key_col}, {class_col}, {window_col}) "
        f"DO UPDATE SET {count_col} = {table}.{count_col} + 1 "
        f"WHERE {table}.{count_col} < {limit} "
        f"RETURNING {count_col}"
    )


def _upsert(args: list[Any]) -> int | None:
    """The window's count after this call, or None when the budget is used up. Every API
    call runs it, so on PostgreSQL it is a prepared statement (leasing/db.py)."""
    if prepared_statements():
        rows = fetch_prepared(RATE_STATEMENT, _upsert_sql(numbered=True), args)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(numbered=False), args)
            rows = cursor.fetchall()
    return int(rows[0][0]) if rows else None


def rate_limit_consume(call: ApiCall, api_key: ApiKey) -> None:
    """Count one call against the key's budget (recording it on `call` for the
    headers), or refuse it with a 429."""
    now = clock()
    limit = limit_for(api_key.tier, call.endpoint_class)
    start = connection.ops.adapt_datetimefield_value(window_start(now))
    count = _upsert([api_key.pk, call.endpoint_class, start, limit])
    reset = _reset_seconds(now)
    if count is None:
        call.rate = RateState(limit=limit, remaining=0, reset_seconds=reset)
        raise ApiError(
            429,
            RATE_LIMITED,
            f"the {call.endpoint_class} budget of {limit} calls per minute is used up; "
            f"retry in {reset} s",
            details={"endpointClass": call.endpoint_class, "limit": limit},
            headers={"Retry-After": str(reset)},
        )
    call.rate = RateState(limit=limit, remaining=max(0, limit - count), reset_seconds=reset)


def rate_state_uncounted(endpoint_class: str) -> RateState:
    """Headers for a call that used no budget (no valid key, public docs): the default
    tier's full allowance for the current window."""
    now = clock()
    limit = limit_for(ApiKey.Tier.STANDARD, endpoint_class)
    return RateState(limit=limit, remaining=limit, reset_seconds=_reset_seconds(now))

"""The API call log support reads on the partner page ("why did my call fail?").

One INSERT per call, run when the server closes the response, that is after the bytes
went to the client: the partner never waits for it, and a failed insert (the database
being down is the usual reason) costs a log line, never the call.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from leasing.api.calls import ApiCall
from leasing.db import execute_prepared, prepared_statements
from leasing.models import ApiCallLog

logger = logging.getLogger(__name__)

PATH_MAX = ApiCallLog._meta.get_field("path").max_length or 500


def api_call_log_write(
    call: ApiCall, *, method: str, path: str, status: int, duration_ms: int, at: datetime
) -> None:
    api_key = call.api_key
    row = ApiCallLog(
        request_id=call.request_id,
        api_key_id=api_key.pk if api_key is not None else None,
        organization_id=api_key.organization_id if api_key is not None else None,
        method=method[:8],
        path=path[:PATH_MAX],
        status=status,
        error_code=call.error_code,
        duration_ms=duration_ms,
        created_at=at,
    )
    if not prepared_statements():
        row.save(force_insert=True)
        return
    # Every API call writes one, so on PostgreSQL it is a prepared statement
    # (leasing/db.py), each value prepared for the database by its field as save() does.
    fields = _written_fields()
    execute_prepared(
        CALL_LOG_STATEMENT,
        _insert_sql(),
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields],
    )


CALL_LOG_STATEMENT = "lease_desk_api_call_log"


def _written_fields() -> list[Field[Any, Any]]:
    """Every column but the generated id."""
    return [f for f in ApiCallLog._meta.concrete_fields if not f.primary_key]


@cache
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _written_fields())
    values = ", ".join(f"${n}" for n in range(1, len(_written_fields()) + 1))
    # Only model metadata is interpolated, never input.
    return f"INSERT INTO {quote(ApiCallLog._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608


def api_call_log_schedule(call: ApiCall, request: HttpRequest, response: HttpResponseBase) -> None:
    """Write the log row once the response has been sent."""
    duration_ms = max(0, round((time.perf_counter() - call.started) * 1000))
    at = timezone.now()
    method = request.method or ""
    path = request.path.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    status = response.status_code

    def write() -> None:
        try:
            api_call_log_write(
                call, method=method, path=path, status=status, duration_ms=duration_ms, at=at
            )
        except Exception:
            logger.warning(
                "could not write the API call log for %s", call.request_id, exc_info=True
            )

    # Django runs these when the WSGI/ASGI server closes the response (FileResponse uses
    # the same hook for its file); there is no public equivalent.
    response._resource_closers.append(write)  # type: ignore[attr-defined]

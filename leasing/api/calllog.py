"""The API call log support reads on the partner page ("why did my call fail?").

One INSERT per call, run when the server closes the response, that is after the bytes
went to the client: the partner never waits for it, and a failed insert (the database
being down is the usual reason) costs a log line, never the call.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from leasing.api.calls import ApiCall
from leasing.models import ApiCallLog

logger = logging.getLogger(__name__)

PATH_MAX = ApiCallLog._meta.get_field("path").max_length or 500


def api_call_log_write(
    call: ApiCall, *, method: str, path: str, status: int, duration_ms: int, at: datetime
) -> None:
    api_key = call.api_key
    ApiCallLog.objects.create(
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

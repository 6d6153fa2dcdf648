"""What every /v1 response gets, whoever produced it.

A request id (also set for audit events), the error envelope on any 4xx/5xx (Django's
own 404/405/500 pages included, and never a traceback), the rate-limit headers, and a
row in the API call log. Paths outside /v1 pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase

from leasing.api.calllog import api_call_log_schedule
from leasing.api.calls import ApiCall, api_call, api_call_start
from leasing.api.errors import (
    INTERNAL,
    UNAVAILABLE,
    VALIDATION,
    error_response,
    status_error_response,
)
from leasing.api.ratelimit import rate_state_uncounted
from leasing.context import current_request_id

logger = logging.getLogger("leasing.api")

API_PREFIX = "/v1/"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api_path(request.path):
            return self.get_response(request)
        call = api_call_start(request)
        token = current_request_id.set(call.request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        if response.status_code >= 400 and not call.enveloped:
            # Django answered on its own (no route matched before ours, a middleware
            # refused the request, an exception escaped): same envelope as ours.
            enveloped = status_error_response(call, response.status_code)
            if "Allow" in response:
                enveloped["Allow"] = response["Allow"]
            response = enveloped
        self._add_headers(call, response)
        api_call_log_schedule(call, request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        call = api_call(request)
        if isinstance(exception, Http404):
            return status_error_response(call, 404)
        if isinstance(exception, SuspiciousOperation):
            logger.warning("%s refused: %s", call.request_id, exception)
            return error_response(
                call, status=400, code=VALIDATION, message="the request could not be understood"
            )
        if isinstance(exception, OperationalError | InterfaceError):
            logger.error("%s database unavailable", call.request_id, exc_info=exception)
            return error_response(
                call,
                status=503,
                code=UNAVAILABLE,
                message="the service is temporarily unavailable; retry shortly",
            )
        logger.error("%s unhandled error", call.request_id, exc_info=exception)
        return error_response(
            call,
            status=500,
            code=INTERNAL,
            message=f"internal error; quote {call.request_id} to support",
        )

    @staticmethod
    def _add_headers(call: ApiCall, response: HttpResponseBase) -> None:
        rate = call.rate or rate_state_uncounted(call.endpoint_class)
        response["X-Request-Id"] = call.request_id
        response["RateLimit-Limit"] = str(rate.limit)
        response["RateLimit-Remaining"] = str(rate.remaining)
        response["RateLimit-Reset"] = str(rate.reset_seconds)
        response["X-RateLimit-Endpoint-Class"] = call.endpoint_class

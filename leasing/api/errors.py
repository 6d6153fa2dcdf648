"""JSON responses and the error envelope every 4xx/5xx of the partner API uses."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from leasing.api.calls import ApiCall
from leasing.services.errors import BillingExhausted, NotFound, ServiceError, ValidationFailed

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN_SCOPE = "FORBIDDEN_SCOPE"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
VALIDATION = "VALIDATION"
CONFLICT = "CONFLICT"
BILLING_EXHAUSTED = "BILLING_EXHAUSTED"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL = "INTERNAL"
UNAVAILABLE = "UNAVAILABLE"

# What a bare framework status becomes when Django, not our code, produced the response.
CODE_FOR_STATUS = {
    400: VALIDATION,
    401: UNAUTHENTICATED,
    402: BILLING_EXHAUSTED,
    403: FORBIDDEN_SCOPE,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    422: VALIDATION,
    429: RATE_LIMITED,
    503: UNAVAILABLE,
}
MESSAGE_FOR_STATUS = {
    400: "the request could not be understood",
    404: "no such resource",
    405: "method not allowed on this resource",
    500: "internal error; the request id identifies it in our logs",
    503: "the service is temporarily unavailable; retry shortly",
}


def json_bytes(data: Any) -> bytes:
    """The one JSON encoding of the API, so a stored response replays byte for byte."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(data: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(json_bytes(data), status=status, content_type=JSON_CONTENT_TYPE)


def error_response(
    call: ApiCall,
    *,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> HttpResponse:
    error: dict[str, Any] = {"code": code, "message": message, "requestId": call.request_id}
    if details:
        error["details"] = details
    call.error_code = code
    response = json_response({"error": error}, status=status)
    call.enveloped = True
    return response


def status_error_response(call: ApiCall, status: int) -> HttpResponse:
    """The envelope for a status that reached us without one (framework 404/405/500...)."""
    if status >= 500:
        code = UNAVAILABLE if status == 503 else INTERNAL
    else:
        code = CODE_FOR_STATUS.get(status, VALIDATION)
    message = MESSAGE_FOR_STATUS.get(status, MESSAGE_FOR_STATUS[500 if status >= 500 else 400])
    return error_response(call, status=status, code=code, message=message)


class ApiError(Exception):
    """Raised anywhere under a view to answer with the error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def response(self, call: ApiCall) -> HttpResponse:
        response = error_response(
            call, status=self.status, code=self.code, message=self.message, details=self.details
        )
        for name, value in self.headers.items():
            response[name] = value
        return response


def not_found(message: str) -> ApiError:
    return ApiError(404, NOT_FOUND, message)


def fields_details(error: ValidationFailed) -> dict[str, Any]:
    return {"fields": [{"field": p.field, "problem": p.problem} for p in error.fields]}


def service_error(error: ServiceError) -> ApiError:
    """The API answer for a refusal from the services layer."""
    if isinstance(error, ValidationFailed):
        return ApiError(422, VALIDATION, error.message, details=fields_details(error))
    if isinstance(error, BillingExhausted):
        return ApiError(402, BILLING_EXHAUSTED, error.message, details=error.details)
    if isinstance(error, NotFound):
        return ApiError(404, NOT_FOUND, error.message)
    # Conflict, InvalidState (a suspended partner, a request closed meanwhile) and any
    # other refusal clash with the resource's current state; the contract's code for
    # that is CONFLICT.
    return ApiError(409, CONFLICT, error.message, details=error.details)

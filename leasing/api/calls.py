"""The state of one partner API call, shared by the middleware, decorators and views."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.http import HttpRequest

from leasing.ids import new_api_request_id
from leasing.models import ApiKey

READ_LIGHT = "read-light"
WRITE_LIGHT = "write-light"
_ATTRIBUTE = "_lease_desk_api_call"


def endpoint_class_for(method: str | None) -> str:
    return READ_LIGHT if method in ("GET", "HEAD", "OPTIONS") else WRITE_LIGHT


@dataclass
class RateState:
    """The caller's budget after this call, for the RateLimit-* headers."""

    limit: int
    remaining: int
    reset_seconds: int


@dataclass
class ApiCall:
    request_id: str
    endpoint_class: str
    started: float = field(default_factory=time.perf_counter)
    api_key: ApiKey | None = None
    rate: RateState | None = None
    error_code: str = ""
    # True once a response carries our envelope, so the middleware leaves it alone.
    enveloped: bool = False


def api_call_start(request: HttpRequest) -> ApiCall:
    call = ApiCall(
        request_id=new_api_request_id(), endpoint_class=endpoint_class_for(request.method)
    )
    setattr(request, _ATTRIBUTE, call)
    return call


def api_call(request: HttpRequest) -> ApiCall:
    """The call state the middleware attached (a fresh one if it did not run, e.g. in a
    view called directly)."""
    call = getattr(request, _ATTRIBUTE, None)
    if call is None:
        call = api_call_start(request)
    assert isinstance(call, ApiCall)
    return call

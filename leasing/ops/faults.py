"""The dashboard when the database is unreachable: a friendly 503 page, not a 500.

Every write runs inside a service's transaction, so a database that goes away mid-request
leaves nothing half-written: the transaction never commits. All the page has to do is say
so and ask the person to try again. /v1 paths are the API middleware's (503 UNAVAILABLE in
the error envelope).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

from leasing.api.middleware import is_api_path

logger = logging.getLogger("leasing.ops")

RETRY_AFTER_SECONDS = 30


def unavailable_response() -> HttpResponse:
    # Rendered without the request: the context processors would look up the signed-in
    # user, which needs the very database that is down.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api_path(request.path) or not isinstance(
            exception, OperationalError | InterfaceError
        ):
            return None
        logger.error(
            "database unavailable on %s %s", request.method, request.path, exc_info=exception
        )
        return unavailable_response()


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the 503 page when the error is the database being away.

    Catches what the middleware above cannot see: a database error raised by another
    middleware (saving the session, say) rather than by a view.
    """
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return unavailable_response()
    return django_server_error(request)

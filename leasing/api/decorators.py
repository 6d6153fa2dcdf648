"""The checks every partner endpoint makes before its view runs, in the order partners
see them: method (405), key (401), budget (429), scope (403)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from leasing.api.auth import bearer_key, require_scope
from leasing.api.calls import api_call
from leasing.api.errors import METHOD_NOT_ALLOWED, ApiError, service_error
from leasing.api.ratelimit import rate_limit_consume
from leasing.models import ApiKey
from leasing.services.errors import FieldProblem, ServiceError, ValidationFailed

View = Callable[..., HttpResponse]


def _method_not_allowed(request: HttpRequest, methods: tuple[str, ...]) -> ApiError:
    allowed = ", ".join(methods)
    return ApiError(
        405,
        METHOD_NOT_ALLOWED,
        f"{request.method} is not allowed on {request.path}; allowed: {allowed}",
        headers={"Allow": allowed},
    )


def _unknown_query(request: HttpRequest, known: tuple[str, ...]) -> None:
    # A mistyped filter (?stauts=disconnected) must not quietly list something else.
    unknown = [name for name in request.GET if name not in known]
    if unknown:
        raise ValidationFailed(
            [FieldProblem(name[:100], "is not a known query parameter") for name in unknown]
        )


def api_endpoint(*methods: str, scope: str, query: tuple[str, ...] = ()) -> Callable[[View], View]:
    """A partner endpoint: the view gets the authenticated key after the first argument.

    `query` names the query parameters it reads; any other one is a 422. ApiError and
    service refusals raised by the view become the error envelope.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: str) -> HttpResponse:
            call = api_call(request)
            try:
                if request.method not in methods:
                    raise _method_not_allowed(request, methods)
                api_key: ApiKey = bearer_key(request)
                call.api_key = api_key
                rate_limit_consume(call, api_key)
                require_scope(api_key, scope)
                _unknown_query(request, query)
                return view(request, api_key, **kwargs)
            except ApiError as exc:
                return exc.response(call)
            except ServiceError as exc:
                return service_error(exc).response(call)

        # Bearer keys, not cookies, authenticate these calls: no CSRF exposure.
        return csrf_exempt(wrapper)

    return decorator


def public_endpoint(*methods: str) -> Callable[[View], View]:
    """An unauthenticated /v1 page (the OpenAPI document, the docs)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if request.method not in methods:
                return _method_not_allowed(request, methods).response(api_call(request))
            return view(request, **kwargs)

        return csrf_exempt(wrapper)

    return decorator

"""Partner API v1 endpoints (see /work/shared/api-contract.md and /v1/docs)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from leasing.api import openapi, selectors
from leasing.api.auth import LEASED_WRITE, SOCIAL_READ
from leasing.api.calls import api_call
from leasing.api.decorators import api_endpoint, public_endpoint
from leasing.api.docs import docs_html
from leasing.api.errors import json_response, not_found
from leasing.api.filters import (
    LeasedAccountFilter,
    LeaseRequestFilter,
    SocialAccountFilter,
    filter_problems,
    query_with_default,
)
from leasing.api.idempotency import idempotent
from leasing.api.pagination import Keyset, page_request, paginate
from leasing.api.payloads import json_body, lease_request_input, release_input
from leasing.api.serializers import (
    lease_request_data,
    leased_account_data,
    release_data,
    request_accepted_data,
    social_account_data,
)
from leasing.ids import is_id
from leasing.models import ApiKey, Lease, LeaseRequest
from leasing.services.audit import Actor
from leasing.services.errors import InvalidState, ValidationFailed
from leasing.services.leases import lease_release
from leasing.services.requests import lease_request_create

# Requests newest first; leases (leased and social accounts) oldest assignment first.
REQUEST_KEYSET = Keyset("requests", "submitted_at", descending=True, id_type=str)
LEASED_KEYSET = Keyset("leased-accounts", "assigned_at", descending=False, id_type=int)
SOCIAL_KEYSET = Keyset("social-accounts", "assigned_at", descending=False, id_type=int)


@api_endpoint("POST", scope=LEASED_WRITE)
def lease_request_submit(request: HttpRequest, api_key: ApiKey, project_id: str) -> HttpResponse:
    body = json_body(request)
    assert body is not None

    def submit() -> HttpResponse:
        project = selectors.project_of(api_key, project_id)
        fields = lease_request_input(body, project_id=project.pk)
        created = lease_request_create(project=project, actor=Actor.for_api_key(api_key), **fields)
        return json_response(request_accepted_data(created), status=202)

    return idempotent(api_call(request), request, api_key, body, submit)


def _request_items(requests: list[LeaseRequest]) -> list[dict[str, object]]:
    accounts = selectors.assigned_account_ids(requests)
    return [
        lease_request_data(
            r,
            account_ids=accounts.get(r.pk, []),
            note=r.visible_note,  # type: ignore[attr-defined]
        )
        for r in requests
    ]


@api_endpoint("GET", scope=LEASED_WRITE)
def lease_request_detail(
    request: HttpRequest, api_key: ApiKey, project_id: str, request_id: str
) -> HttpResponse:
    found = selectors.lease_request_of(api_key, request_id, project_id=project_id)
    return json_response(_request_items([found])[0])


@api_endpoint("GET", scope=LEASED_WRITE)
def lease_request_detail_any_project(
    request: HttpRequest, api_key: ApiKey, request_id: str
) -> HttpResponse:
    found = selectors.lease_request_of(api_key, request_id)
    return json_response(_request_items([found])[0])


@api_endpoint("GET", scope=LEASED_WRITE, query=("status", "limit", "cursor"))
def lease_request_list(request: HttpRequest, api_key: ApiKey, project_id: str) -> HttpResponse:
    project = selectors.project_of(api_key, project_id)
    filterset = LeaseRequestFilter(
        request.GET, queryset=selectors.lease_requests(api_key).filter(project=project)
    )
    page, page_problems = page_request(request, REQUEST_KEYSET)
    problems = filter_problems(filterset) + page_problems
    if problems:
        raise ValidationFailed(problems)
    rows, next_cursor = paginate(filterset.qs, REQUEST_KEYSET, page)
    return json_response({"items": _request_items(rows), "nextCursor": next_cursor})


@api_endpoint("GET", scope=LEASED_WRITE, query=("status", "limit", "cursor"))
def leased_account_list(request: HttpRequest, api_key: ApiKey, project_id: str) -> HttpResponse:
    # The partners' most frequent call: the project is checked (404) only when there is
    # no lease to show, which saves a query on every other call. A malformed id is a 404
    # before any query (PostgreSQL refuses some characters, such as NUL, in text).
    if not is_id(project_id, "prj"):
        selectors.project_of(api_key, project_id)
    filterset = LeasedAccountFilter(
        query_with_default(request.GET, status=Lease.Status.ASSIGNED),
        queryset=selectors.organization_project_leases(api_key, project_id),
    )
    page, page_problems = page_request(request, LEASED_KEYSET)
    problems = filter_problems(filterset) + page_problems
    if problems:
        selectors.project_of(api_key, project_id)
        raise ValidationFailed(problems)
    rows, next_cursor = paginate(filterset.qs, LEASED_KEYSET, page)
    if not rows:
        selectors.project_of(api_key, project_id)
    return json_response(
        {"items": [leased_account_data(lease) for lease in rows], "nextCursor": next_cursor}
    )


@api_endpoint("DELETE", scope=LEASED_WRITE)
def leased_account_release(
    request: HttpRequest, api_key: ApiKey, social_account_id: str
) -> HttpResponse:
    reason = release_input(json_body(request, optional=True))
    lease = selectors.active_lease_of_account(api_key, social_account_id)
    try:
        released = lease_release(
            lease=lease,
            actor=Actor.for_api_key(api_key),
            reason=Lease.Reason.RELEASED_BY_PARTNER,
            note=reason,
        )
    except InvalidState:
        # Released by a concurrent call or by ops a moment ago: no longer leased.
        raise not_found(
            f"account {social_account_id} is not currently leased to your organization"
        ) from None
    return json_response(release_data(released))


@api_endpoint("GET", scope=SOCIAL_READ, query=("leased", "platform", "status", "limit", "cursor"))
def social_account_list(request: HttpRequest, api_key: ApiKey, project_id: str) -> HttpResponse:
    project = selectors.project_of(api_key, project_id)
    filterset = SocialAccountFilter(
        request.GET,
        queryset=selectors.project_leases(project).filter(status=Lease.Status.ASSIGNED),
    )
    page, page_problems = page_request(request, SOCIAL_KEYSET)
    problems = filter_problems(filterset) + page_problems
    if problems:
        raise ValidationFailed(problems)
    rows, next_cursor = paginate(filterset.qs, SOCIAL_KEYSET, page)
    return json_response(
        {"items": [social_account_data(lease) for lease in rows], "nextCursor": next_cursor}
    )


@public_endpoint("GET")
def openapi_document(request: HttpRequest) -> HttpResponse:
    return json_response(openapi.document())


@public_endpoint("GET")
def docs(request: HttpRequest) -> HttpResponse:
    return HttpResponse(docs_html(), content_type="text/html; charset=utf-8")


@csrf_exempt
def no_such_endpoint(request: HttpRequest) -> HttpResponse:
    return not_found(f"no endpoint at {request.path[:200]}; see /v1/docs").response(
        api_call(request)
    )

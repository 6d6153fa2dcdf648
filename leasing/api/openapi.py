"""The OpenAPI 3 document of the partner API, built from code so it cannot drift from the
constants the implementation uses (limits, scopes, enums, error codes).

The suite checks it against the running API with schemathesis (tests/api/test_schema.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from leasing.api import errors
from leasing.api.auth import LEASED_WRITE, SOCIAL_READ
from leasing.api.calls import READ_LIGHT, WRITE_LIGHT
from leasing.api.filters import LEASE_STATUSES, REQUEST_STATUSES, SOCIAL_STATUSES
from leasing.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from leasing.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from leasing.api.ratelimit import TIER_LIMITS
from leasing.models import ApiKey, Lease
from leasing.services.leases import REASON_MAX
from leasing.services.requests import MAX_COUNT, MAX_GEO, NOTE_MAX

Schema = dict[str, Any]

ULID = "[0-9A-HJKMNP-TV-Z]{26}"
TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
    "example": "2026-04-20T16:12:02Z",
}
ERROR_CODES = [
    errors.UNAUTHENTICATED,
    errors.FORBIDDEN_SCOPE,
    errors.NOT_FOUND,
    errors.METHOD_NOT_ALLOWED,
    errors.VALIDATION,
    errors.CONFLICT,
    errors.BILLING_EXHAUSTED,
    errors.RATE_LIMITED,
    errors.INTERNAL,
    errors.UNAVAILABLE,
]
DISCONNECT_REASONS = [reason.value for reason in Lease.Reason]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _id(prefix: str, description: str) -> Schema:
    return {"type": "string", "pattern": f"^{prefix}_{ULID}$", "description": description}


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def _page(item: str) -> Schema:
    return {
        "type": "object",
        "required": ["items", "nextCursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "nextCursor": {
                "type": "string",
                "nullable": True,
                "description": "Pass back as `cursor` for the next page; null on the last page.",
            },
        },
    }


def _schemas() -> dict[str, Schema]:
    request_key = {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "description": "Your own id for the request, or the lreq_ id the server minted.",
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "requestId"],
                    "properties": {
                        "code": {"type": "string", "enum": ERROR_CODES},
                        "message": {"type": "string"},
                        "requestId": _id("req", "Equals the X-Request-Id header."),
                        "details": {
                            "type": "object",
                            "description": "Present only when there is structured context.",
                            "properties": {
                                "fields": {
                                    "type": "array",
                                    "items": _ref("FieldProblem"),
                                    "description": "VALIDATION (422): every wrong field.",
                                },
                                "requiredScope": {
                                    "type": "string",
                                    "description": "FORBIDDEN_SCOPE: the scope the key lacks.",
                                },
                                "reason": {
                                    "type": "string",
                                    "description": (
                                        "CONFLICT on an Idempotency-Key: `in_progress` while "
                                        "the first call runs, `key_reused` for a different body."
                                    ),
                                },
                            },
                        },
                    },
                }
            },
        },
        "FieldProblem": {
            "type": "object",
            "required": ["field", "problem"],
            "properties": {
                "field": {"type": "string", "example": "niche.geo"},
                "problem": {"type": "string"},
            },
        },
        "NicheInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["vertical"],
            "properties": {
                "vertical": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "description": "Matched case-insensitively against the pool's tags.",
                    "example": "coffee",
                },
                "audience": _nullable({"type": "string", "maxLength": 500}),
                "language": _nullable(
                    {
                        "type": "string",
                        "description": "BCP-47 tag: en, en-US, pt-BR.",
                        "example": "en",
                    }
                ),
                "geo": _nullable(
                    {
                        "type": "array",
                        "maxItems": MAX_GEO,
                        "items": {
                            "type": "string",
                            "pattern": "^[A-Za-z]{2}$",
                            "description": "ISO 3166-1 alpha-2, any case in, upper case out.",
                        },
                        "example": ["US", "CA"],
                    }
                ),
            },
        },
        "LeaseRequestInput": {
            "type": "object",
            "additionalProperties": False,
            "required": ["projectId", "count", "niche"],
            "properties": {
                "projectId": _id("prj", "Must equal the projectId in the path."),
                "count": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                "niche": _ref("NicheInput"),
                "target": _nullable({"type": "string", "maxLength": 2000}),
                "note": _nullable({"type": "string", "maxLength": NOTE_MAX}),
                "requestId": _nullable(
                    {
                        **request_key,
                        "description": (
                            "Your own id, unique in your organization; reuse is 409 "
                            "CONFLICT. Omit it and the server mints lreq_<ULID>."
                        ),
                    }
                ),
            },
        },
        "LeaseRequestAccepted": {
            "type": "object",
            "required": ["requestId", "status", "submittedAt"],
            "properties": {
                "requestId": request_key,
                "status": {"type": "string", "enum": ["requested"]},
                "submittedAt": TIMESTAMP,
            },
        },
        "Niche": {
            "type": "object",
            "required": ["vertical", "audience", "language", "geo"],
            "properties": {
                "vertical": {"type": "string"},
                "audience": _nullable({"type": "string"}),
                "language": _nullable({"type": "string"}),
                "geo": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"}},
            },
        },
        "LeaseRequest": {
            "type": "object",
            "required": [
                "requestId",
                "projectId",
                "status",
                "count",
                "niche",
                "target",
                "submittedAt",
                "assignedAt",
                "assignedSocialAccountIds",
                "note",
            ],
            "properties": {
                "requestId": request_key,
                "projectId": _id("prj", "The project the accounts go to."),
                "status": {
                    "type": "string",
                    "enum": list(REQUEST_STATUSES),
                    "description": (
                        "requested: queued or being worked; assigned: all accounts assigned; "
                        "partial: closed with fewer (only those billed); rejected: closed "
                        "with none."
                    ),
                },
                "count": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                "niche": _ref("Niche"),
                "target": _nullable({"type": "string"}),
                "submittedAt": TIMESTAMP,
                "assignedAt": _nullable({**TIMESTAMP, "description": "First assignment."}),
                "assignedSocialAccountIds": {
                    "type": "array",
                    "items": _id("sa", "A social account id."),
                    "description": "Every account assigned so far, released ones included.",
                },
                "note": _nullable(
                    {"type": "string", "description": "Latest note ops left for you."}
                ),
            },
        },
        "LeaseRequestPage": _page("LeaseRequest"),
        "LeasedAccount": {
            "type": "object",
            "required": [
                "socialAccountId",
                "projectId",
                "handle",
                "platform",
                "followers",
                "status",
                "assignedAt",
                "nextRenewalAt",
                "monthlyPriceCents",
            ],
            "properties": {
                "socialAccountId": _id("sa", "The account."),
                "projectId": _id("prj", "The project it is leased to."),
                "handle": {"type": "string"},
                "platform": {"type": "string", "enum": ["tiktok"]},
                "followers": {"type": "integer", "minimum": 0},
                "status": {"type": "string", "enum": list(LEASE_STATUSES)},
                "assignedAt": TIMESTAMP,
                "nextRenewalAt": _nullable(
                    {**TIMESTAMP, "description": "When monthlyPriceCents is next charged."}
                ),
                "monthlyPriceCents": {"type": "integer", "minimum": 1},
                "disconnectedAt": {**TIMESTAMP, "description": "Disconnected items only."},
                "disconnectedReason": {
                    "type": "string",
                    "enum": DISCONNECT_REASONS,
                    "description": "Disconnected items only.",
                },
            },
        },
        "LeasedAccountPage": _page("LeasedAccount"),
        "ReleaseInput": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "reason": _nullable(
                    {
                        "type": "string",
                        "maxLength": REASON_MAX,
                        "description": "Kept on the audit trail.",
                    }
                )
            },
        },
        "Released": {
            "type": "object",
            "required": ["socialAccountId", "status", "disconnectedReason", "disconnectedAt"],
            "properties": {
                "socialAccountId": _id("sa", "The released account."),
                "status": {"type": "string", "enum": ["disconnected"]},
                "disconnectedReason": {"type": "string", "enum": ["released_by_partner"]},
                "disconnectedAt": TIMESTAMP,
            },
        },
        "SocialAccount": {
            "type": "object",
            "required": [
                "socialAccountId",
                "platform",
                "handle",
                "status",
                "leased",
                "connectedAt",
            ],
            "properties": {
                "socialAccountId": _id("sa", "The account."),
                "platform": {"type": "string"},
                "handle": {"type": "string"},
                "status": {"type": "string", "enum": ["connected"]},
                "leased": {"type": "boolean", "enum": [True]},
                "connectedAt": {**TIMESTAMP, "description": "The assignment time."},
            },
        },
        "SocialAccountPage": _page("SocialAccount"),
    }


def _headers() -> dict[str, Schema]:
    def integer(description: str) -> Schema:
        return {"required": True, "description": description, "schema": {"type": "integer"}}

    return {
        "X-Request-Id": {
            "required": True,
            "description": "This call's id; quote it to support.",
            "schema": {"type": "string", "pattern": f"^req_{ULID}$"},
        },
        "RateLimit-Limit": integer("Calls allowed per minute for this key and endpoint class."),
        "RateLimit-Remaining": integer("Calls left in the current window."),
        "RateLimit-Reset": integer("Seconds until the window resets."),
        "X-RateLimit-Endpoint-Class": {
            "required": True,
            "description": "Which budget the call counts against.",
            "schema": {"type": "string", "enum": [READ_LIGHT, WRITE_LIGHT]},
        },
        "Retry-After": integer("Seconds to wait before retrying."),
        "Idempotent-Replayed": {
            "description": "Present (true) when this is the stored outcome of an earlier call.",
            "schema": {"type": "string", "enum": ["true"]},
        },
        "Allow": {
            "required": True,
            "description": "The methods this path accepts.",
            "schema": {"type": "string"},
        },
        "WWW-Authenticate": {
            "required": True,
            "description": "Bearer challenge.",
            "schema": {"type": "string"},
        },
    }


# On every response, success or error.
COMMON_HEADERS = (
    "X-Request-Id",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Endpoint-Class",
)


def _header_refs(*extra: str) -> dict[str, Schema]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in (*COMMON_HEADERS, *extra)}


def _json(schema: Schema) -> dict[str, Schema]:
    return {"application/json": {"schema": schema}}


_ERROR_RESPONSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "400": ("VALIDATION: the body is not JSON, or not a JSON object.", ()),
    "401": ("UNAUTHENTICATED: missing, malformed, unknown or revoked key.", ("WWW-Authenticate",)),
    "402": ("BILLING_EXHAUSTED: the wallet does not cover one account. Nothing queued.", ()),
    "403": ("FORBIDDEN_SCOPE: the key lacks `details.requiredScope`.", ()),
    "404": (
        "NOT_FOUND: no such project, request or account in your organization (or an id of "
        "the wrong shape).",
        (),
    ),
    "405": ("METHOD_NOT_ALLOWED: see the Allow header.", ("Allow",)),
    "409": (
        "CONFLICT: requestId already used, or Idempotency-Key reused with a different body "
        "(`details.reason` key_reused) or still in progress (`in_progress`).",
        (),
    ),
    "422": (
        "VALIDATION: `details.fields` lists every wrong field (an unknown query parameter "
        "is one too).",
        (),
    ),
    "429": ("RATE_LIMITED: this key's budget for the endpoint class is used up.", ("Retry-After",)),
    "500": ("INTERNAL: our fault; quote the requestId.", ()),
    "503": ("UNAVAILABLE: the database is unreachable; retry shortly.", ()),
}


def _responses(success: tuple[str, str, str], errors_: tuple[str, ...]) -> dict[str, Schema]:
    status, description, schema = success
    extra = ("Idempotent-Replayed",) if status == "202" else ()
    responses: dict[str, Schema] = {
        status: {
            "description": description,
            "headers": _header_refs(*extra),
            "content": _json(_ref(schema)),
        }
    }
    for code in (*errors_, "401", "403", "405", "429", "500", "503"):
        text, headers = _ERROR_RESPONSES[code]
        responses[code] = {
            "description": text,
            "headers": _header_refs(*headers),
            "content": _json(_ref("Error")),
        }
    return dict(sorted(responses.items()))


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _parameters() -> dict[str, Schema]:
    return {
        "projectId": {
            "name": "projectId",
            "in": "path",
            "required": True,
            "schema": _id("prj", "A project of your organization."),
        },
        "requestId": {
            "name": "requestId",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "description": "The requestId you sent, or the one the server minted.",
        },
        "socialAccountId": {
            "name": "socialAccountId",
            "in": "path",
            "required": True,
            "schema": _id("sa", "A leased account."),
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "description": f"Page size, 1-{MAX_LIMIT}; default {DEFAULT_LIMIT}.",
        },
        "cursor": {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string"},
            "description": "The nextCursor of the previous page, unchanged.",
        },
        "IdempotencyKey": {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": "^[\\x21-\\x7E]+$",
            },
            "description": (
                "Recommended (a UUID). Same key and same body within 24 hours replays the "
                "first outcome with Idempotent-Replayed: true and does nothing new."
            ),
        },
    }


def _status_query(values: tuple[str, ...], description: str) -> Schema:
    return {
        "name": "status",
        "in": "query",
        "schema": {"type": "string", "enum": list(values)},
        "description": description,
    }


def _paths() -> dict[str, Schema]:
    leased: list[Schema] = [{"bearerAuth": []}]
    return {
        "/v1/projects/{projectId}/leased-accounts/request": {
            "parameters": [_param("projectId")],
            "post": {
                "operationId": "requestLease",
                "summary": "Request leased accounts",
                "description": (
                    f"Queue a request for `count` warmed TikTok accounts in a niche. Scope "
                    f"{LEASED_WRITE}. Nothing is charged until ops assign accounts; a wallet "
                    "that cannot cover one account is refused with 402."
                ),
                "tags": ["Leased accounts"],
                "security": leased,
                "parameters": [_param("IdempotencyKey")],
                "requestBody": {"required": True, "content": _json(_ref("LeaseRequestInput"))},
                "responses": _responses(
                    ("202", "Accepted into the ops queue.", "LeaseRequestAccepted"),
                    ("400", "402", "404", "409", "422"),
                ),
            },
        },
        "/v1/projects/{projectId}/leased-accounts/requests": {
            "parameters": [_param("projectId")],
            "get": {
                "operationId": "listLeaseRequests",
                "summary": "List a project's lease requests",
                "description": f"Newest first, ties by id. Scope {LEASED_WRITE}.",
                "tags": ["Leased accounts"],
                "security": leased,
                "parameters": [
                    _status_query(REQUEST_STATUSES, "Only requests in this status."),
                    _param("limit"),
                    _param("cursor"),
                ],
                "responses": _responses(
                    ("200", "A page of requests.", "LeaseRequestPage"), ("404", "422")
                ),
            },
        },
        "/v1/projects/{projectId}/leased-accounts/requests/{requestId}": {
            "parameters": [_param("projectId"), _param("requestId")],
            "get": {
                "operationId": "getLeaseRequest",
                "summary": "Get a lease request",
                "description": f"Poll a request's progress. Scope {LEASED_WRITE}.",
                "tags": ["Leased accounts"],
                "security": leased,
                "responses": _responses(("200", "The request.", "LeaseRequest"), ("404", "422")),
            },
        },
        "/v1/leased-accounts/requests/{requestId}": {
            "parameters": [_param("requestId")],
            "get": {
                "operationId": "getLeaseRequestAnyProject",
                "summary": "Get a lease request (any project)",
                "description": (
                    f"Same as the project-scoped path, looked up across your organization. "
                    f"Scope {LEASED_WRITE}."
                ),
                "tags": ["Leased accounts"],
                "security": leased,
                "responses": _responses(("200", "The request.", "LeaseRequest"), ("404", "422")),
            },
        },
        "/v1/projects/{projectId}/leased-accounts": {
            "parameters": [_param("projectId")],
            "get": {
                "operationId": "listLeasedAccounts",
                "summary": "List leased accounts",
                "description": (
                    "Accounts ops assigned to the project, oldest assignment first, ties by "
                    "id. An assignment shows up as soon as it is committed. Disconnected items "
                    f"add disconnectedAt and disconnectedReason. Scope {LEASED_WRITE}."
                ),
                "tags": ["Leased accounts"],
                "security": leased,
                "parameters": [
                    _status_query(LEASE_STATUSES, "Default assigned."),
                    _param("limit"),
                    _param("cursor"),
                ],
                "responses": _responses(
                    ("200", "A page of leased accounts.", "LeasedAccountPage"), ("404", "422")
                ),
            },
        },
        "/v1/leased-accounts/{socialAccountId}": {
            "parameters": [_param("socialAccountId")],
            "delete": {
                "operationId": "releaseLeasedAccount",
                "summary": "Release a leased account",
                "description": (
                    "Ends the lease now: no refund or proration, no further renewals, the "
                    "account goes back to the pool. An account not currently leased to your "
                    f"organization is 404. Scope {LEASED_WRITE}."
                ),
                "tags": ["Leased accounts"],
                "security": leased,
                "requestBody": {"required": False, "content": _json(_ref("ReleaseInput"))},
                "responses": _responses(("200", "Released.", "Released"), ("400", "404", "422")),
            },
        },
        "/v1/projects/{projectId}/social-accounts": {
            "parameters": [_param("projectId")],
            "get": {
                "operationId": "listSocialAccounts",
                "summary": "List social accounts",
                "description": (
                    "The project's publishable accounts in the unified shape, oldest first. "
                    "Lease Desk only knows leased accounts, so leased=false is an empty list. "
                    f"Scope {SOCIAL_READ}."
                ),
                "tags": ["Social accounts"],
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "leased",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                    {
                        "name": "platform",
                        "in": "query",
                        "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"},
                        "example": "tiktok",
                    },
                    _status_query(SOCIAL_STATUSES, "connected or disconnected."),
                    _param("limit"),
                    _param("cursor"),
                ],
                "responses": _responses(
                    ("200", "A page of social accounts.", "SocialAccountPage"), ("404", "422")
                ),
            },
        },
    }


def _limits_text() -> str:
    rows = ", ".join(
        f"{tier} {limits[READ_LIGHT]}/{limits[WRITE_LIGHT]}" for tier, limits in TIER_LIMITS.items()
    )
    return f"Per key and endpoint class, per minute (read GET / write POST, DELETE): {rows}."


DESCRIPTION = """\
The partner API of Lease Desk: ask Layers ops for warmed TikTok accounts, follow the \
request, list what you lease and release accounts.

Authenticate with `Authorization: Bearer lp_live_<keyid>_<secret>`. Every response carries \
`X-Request-Id`; every error is `{"error": {"code", "message", "requestId", "details"?}}`. \
Timestamps are UTC ISO-8601 with Z in whole seconds; money is integer cents.

Lists are paginated with `limit` (1-200, default 100) and `cursor` (pass `nextCursor` \
back); they answer `{"items": [...], "nextCursor": ... | null}`.

POST accepts an `Idempotency-Key` (1-255 visible ASCII characters, scoped to your \
organization, kept 24 hours). Only successful outcomes are stored: a refused call can be \
retried with the same key once the cause is fixed.
"""


@cache
def document() -> Schema:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Lease Desk partner API",
            "version": "1.0.0",
            "description": (
                f"{DESCRIPTION}\n{_limits_text()} Every response carries RateLimit-Limit, "
                "RateLimit-Remaining, RateLimit-Reset (seconds) and X-RateLimit-Endpoint-Class; "
                "over budget: 429 RATE_LIMITED with Retry-After."
            ),
        },
        "tags": [
            {"name": "Leased accounts", "description": "Requests, leases and releases."},
            {"name": "Social accounts", "description": "The unified publishable-account view."},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        f"lp_live_<keyid>_<secret>. Scopes: {LEASED_WRITE}, {SOCIAL_READ}, "
                        f"* (everything). Tiers: {', '.join(ApiKey.Tier.values)}."
                    ),
                }
            },
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": _headers(),
        },
    }

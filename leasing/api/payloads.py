"""Reading JSON bodies: 400 when the body is not a JSON object, 422 listing every wrong
field otherwise."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from leasing.api.errors import VALIDATION, ApiError
from leasing.services.errors import FieldProblem, ValidationFailed
from leasing.services.leases import REASON_MAX
from leasing.services.requests import lease_request_problems

REQUEST_FIELDS = ("projectId", "count", "niche", "target", "note", "requestId")
NICHE_FIELDS = ("vertical", "audience", "language", "geo")
RELEASE_FIELDS = ("reason",)
_ECHO_MAX = 100
NUL_PROBLEM = "must not contain NUL (\\u0000) characters"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bad_body(message: str) -> ApiError:
    return ApiError(400, VALIDATION, message)


def json_body(request: HttpRequest, *, optional: bool = False) -> dict[str, Any] | None:
    """The body as a JSON object; None for an empty body when `optional`."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _bad_body("the request body is too large") from None
    if optional and not raw.strip():
        return None
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _bad_body("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _bad_body("the request body must be a JSON object")
    try:
        # JSON may spell half a surrogate pair ("\ud800"); that is no character at all,
        # and neither database can store it.
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise _bad_body(
            "the request body is not valid UTF-8: it has an unpaired surrogate (\\ud800-\\udfff)"
        ) from None
    return data


def _nul_problems(data: dict[str, Any], prefix: str = "") -> list[FieldProblem]:
    # PostgreSQL text cannot hold NUL; Django forms refuse it too.
    return [
        FieldProblem(f"{prefix}{name}", NUL_PROBLEM)
        for name, value in data.items()
        if isinstance(value, str) and "\x00" in value
    ]


def _without_redundant_nul(problems: list[FieldProblem]) -> list[FieldProblem]:
    """Drop a NUL complaint about a field that is already wrong for another reason."""
    other = {p.field for p in problems if p.problem != NUL_PROBLEM}
    return [p for p in problems if p.problem != NUL_PROBLEM or p.field not in other]


def _unknown(data: dict[str, Any], known: tuple[str, ...], prefix: str = "") -> list[FieldProblem]:
    return [
        FieldProblem(f"{prefix}{name[:_ECHO_MAX]}", "is not a known field")
        for name in data
        if name not in known
    ]


_FIELD_ORDER = [
    "projectId",
    "count",
    "niche",
    *(f"niche.{name}" for name in NICHE_FIELDS),
    "target",
    "note",
    "requestId",
]


def _body_order(problem: FieldProblem) -> tuple[int, int]:
    """Problems in the order the fields appear in the docs; unknown fields after their
    siblings."""
    if problem.field in _FIELD_ORDER:
        return _FIELD_ORDER.index(problem.field), 0
    if problem.field.startswith("niche."):
        return _FIELD_ORDER.index("niche.geo"), 1
    return len(_FIELD_ORDER), 0


def lease_request_input(body: dict[str, Any], *, project_id: str) -> dict[str, Any]:
    """The service arguments for a lease request body, or every problem with it."""
    problems = _unknown(body, REQUEST_FIELDS)
    body_project = body.get("projectId")
    if body_project is None:
        problems.append(FieldProblem("projectId", "is required"))
    elif body_project != project_id:
        problems.append(
            FieldProblem("projectId", f"must equal the project id in the path ({project_id})")
        )

    niche = body.get("niche")
    if niche is None:
        problems.append(FieldProblem("niche", "is required"))
    elif not isinstance(niche, dict):
        problems.append(FieldProblem("niche", "must be an object (vertical, audience, ...)"))
    else:
        problems += _unknown(niche, NICHE_FIELDS, prefix="niche.")
        problems += _nul_problems(niche, prefix="niche.")
    problems += _nul_problems(body)
    niche_fields: dict[str, Any] = niche if isinstance(niche, dict) else {}

    field_problems, geo = lease_request_problems(
        count=body.get("count"),
        vertical=niche_fields.get("vertical"),
        audience=niche_fields.get("audience"),
        language=niche_fields.get("language"),
        geo=niche_fields.get("geo"),
        target=body.get("target"),
        note=body.get("note"),
        request_key=body.get("requestId"),
    )
    if not isinstance(niche, dict):
        # Already reported as one problem on `niche`.
        field_problems = [p for p in field_problems if not p.field.startswith("niche.")]
    problems += field_problems
    problems = _without_redundant_nul(problems)
    if problems:
        raise ValidationFailed(sorted(problems, key=_body_order))
    return {
        "count": body["count"],
        "vertical": niche_fields["vertical"],
        "audience": niche_fields.get("audience"),
        "language": niche_fields.get("language"),
        "geo": geo,
        "target": body.get("target"),
        "note": body.get("note"),
        "request_key": body.get("requestId"),
    }


def release_input(body: dict[str, Any] | None) -> str:
    """The partner's reason for a release ("" when none)."""
    if body is None:
        return ""
    problems = _unknown(body, RELEASE_FIELDS) + _nul_problems(body)
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        problems.append(FieldProblem("reason", "must be a string"))
    elif isinstance(reason, str) and len(reason) > REASON_MAX:
        problems.append(
            FieldProblem("reason", f"must be at most {REASON_MAX} characters (got {len(reason)})")
        )
    if problems:
        raise ValidationFailed(problems)
    return reason or ""

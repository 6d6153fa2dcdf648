"""POST /v1/projects/{projectId}/leased-accounts/request: every row of the contract."""

from __future__ import annotations

import pytest

from leasing.ids import is_id
from leasing.models import AuditEvent, LeaseRequest
from leasing.services.billing import wallet_adjust
from leasing.services.partners import api_key_revoke
from tests import factories
from tests.api.conftest import (
    assert_error,
    assert_ok,
    fields_of,
    make_api,
    request_body,
    request_url,
)
from tests.invariants import snapshot


def test_it_queues_a_request_and_answers_202(api, project):
    body = request_body(
        project,
        count=5,
        niche={
            "vertical": "Coffee",
            "audience": "home baristas",
            "language": "en-US",
            "geo": ["us", "ca", "GB"],
        },
        target="brew tutorials",
        note="prefer older accounts",
    )
    response = api.post(request_url(project.pk), body)

    data = assert_ok(response, 202)
    assert set(data) == {"requestId", "status", "submittedAt"}
    assert data["status"] == "requested"
    assert is_id(data["requestId"], "lreq")
    assert data["submittedAt"].endswith("Z")
    assert len(data["submittedAt"]) == len("2026-04-20T16:12:02Z")
    assert response["X-RateLimit-Endpoint-Class"] == "write-light"

    created = LeaseRequest.objects.get()
    assert created.request_key == data["requestId"]
    assert created.project == project
    assert created.count == 5
    assert created.vertical == "Coffee"
    assert created.language == "en-US"
    assert created.geo == ["US", "CA", "GB"]
    assert created.target == "brew tutorials"
    assert created.partner_note == "prefer older accounts"
    assert created.api_key == api.api_key
    project.organization.refresh_from_db()
    assert project.organization.balance_cents == 150_000  # nothing charged on request


def test_the_audit_event_carries_the_request_id(api, project):
    response = api.post(request_url(project.pk), request_body(project))
    assert response.status_code == 202
    event = AuditEvent.objects.get(action="request.create")
    assert event.request_id == response["X-Request-Id"]
    assert event.actor_type == "api_key"
    assert event.actor_api_key == api.api_key


def test_partner_request_id_is_kept(api, project):
    data = assert_ok(
        api.post(request_url(project.pk), request_body(project, requestId="po-2026_04")), 202
    )
    assert data["requestId"] == "po-2026_04"


def test_reusing_a_partner_request_id_is_409(api, project):
    api.post(request_url(project.pk), request_body(project, requestId="po-1"))
    before = snapshot()
    response = api.post(request_url(project.pk), request_body(project, requestId="po-1", count=3))
    error = assert_error(response, 409, "CONFLICT", has_details=True)
    assert "po-1" in error["message"]
    assert snapshot() == before


def test_the_same_request_id_in_another_organization_is_fine(
    api, other_api, project, other_project
):
    api.post(request_url(project.pk), request_body(project, requestId="po-1"))
    response = other_api.post(
        request_url(other_project.pk), request_body(other_project, requestId="po-1")
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    "raw",
    ["", "not json", "{'single': 'quotes'}", '{"count": 1', "NaN", b"\xff\xfe"],
)
def test_a_body_that_is_not_json_is_400(api, project, raw):
    before = snapshot()
    error = assert_error(api.post(request_url(project.pk), raw=raw), 400, "VALIDATION")
    assert "JSON" in error["message"]
    assert snapshot() == before


@pytest.mark.parametrize("raw", ["[]", '"text"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_400(api, project, raw):
    error = assert_error(api.post(request_url(project.pk), raw=raw), 400, "VALIDATION")
    assert error["message"] == "the request body must be a JSON object"


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"count": 0}, "count", "must be between 1 and 50 (got 0)"),
        ({"count": 51}, "count", "must be between 1 and 50 (got 51)"),
        ({"count": True}, "count", "must be a whole number between 1 and 50"),
        ({"count": 2.0}, "count", "must be a whole number between 1 and 50"),
        ({"count": "2"}, "count", "must be a whole number between 1 and 50"),
        ({"count": None}, "count", "is required"),
        ({"projectId": None}, "projectId", "is required"),
        ({"niche": None}, "niche", "is required"),
        ({"niche": "coffee"}, "niche", "must be an object (vertical, audience, ...)"),
        ({"niche": {"language": "en"}}, "niche.vertical", "is required"),
        ({"niche": {"vertical": "  "}}, "niche.vertical", "must not be empty"),
        (
            {"niche": {"vertical": "x" * 65}},
            "niche.vertical",
            "must be at most 64 characters (got 65)",
        ),
        (
            {"niche": {"vertical": "coffee", "audience": "a" * 501}},
            "niche.audience",
            "must be at most 500 characters (got 501)",
        ),
        (
            {"niche": {"vertical": "coffee", "language": "english please"}},
            "niche.language",
            "'english please' is not a BCP-47 language tag (for example en, en-US, pt-BR)",
        ),
        ({"niche": {"vertical": "coffee", "language": 7}}, "niche.language", "must be a string"),
        (
            {"niche": {"vertical": "coffee", "geo": ["US", "XX"]}},
            "niche.geo",
            "not ISO 3166-1 alpha-2 country codes: 'XX'",
        ),
        (
            {"niche": {"vertical": "coffee", "geo": "US"}},
            "niche.geo",
            "must be a list of ISO 3166-1 alpha-2 country codes",
        ),
        (
            {"niche": {"vertical": "coffee", "geo": ["US"] * 51}},
            "niche.geo",
            "must list at most 50 countries (got 51)",
        ),
        (
            {"niche": {"vertical": "coffee", "colour": "brown"}},
            "niche.colour",
            "is not a known field",
        ),
        ({"target": "t" * 2001}, "target", "must be at most 2000 characters (got 2001)"),
        ({"note": "n" * 2001}, "note", "must be at most 2000 characters (got 2001)"),
        ({"note": 5}, "note", "must be a string"),
        (
            {"requestId": "has space"},
            "requestId",
            "must be 1-64 characters of A-Z, a-z, 0-9, _ and -",
        ),
        ({"requestId": "r" * 65}, "requestId", "must be 1-64 characters of A-Z, a-z, 0-9, _ and -"),
        ({"priority": "high"}, "priority", "is not a known field"),
        ({"target": "a\x00b"}, "target", "must not contain NUL (\\u0000) characters"),
        (
            {"niche": {"vertical": "cof\x00fee"}},
            "niche.vertical",
            "must not contain NUL (\\u0000) characters",
        ),
        (
            {"requestId": "po\x00"},
            "requestId",
            "must be 1-64 characters of A-Z, a-z, 0-9, _ and -",
        ),
    ],
)
def test_each_wrong_field_is_422(api, project, change, field, problem):
    body = request_body(project)
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    before = snapshot()
    error = assert_error(
        api.post(request_url(project.pk), body), 422, "VALIDATION", has_details=True
    )
    assert error["details"] == {"fields": [{"field": field, "problem": problem}]}
    assert snapshot() == before


def test_project_id_in_the_body_must_match_the_path(api, project):
    other = factories.make_project(project.organization, "Second")
    error = assert_error(
        api.post(request_url(project.pk), request_body(other)),
        422,
        "VALIDATION",
        has_details=True,
    )
    assert fields_of(error) == {
        "projectId": f"must equal the project id in the path ({project.pk})"
    }


def test_every_wrong_field_is_listed_at_once(api, project):
    body = {
        "projectId": "prj_nope",
        "count": 0,
        "niche": {"vertical": "", "language": "??", "geo": ["zz"], "mood": "calm"},
        "target": 1,
        "requestId": "",
        "extra": True,
    }
    error = assert_error(
        api.post(request_url(project.pk), body), 422, "VALIDATION", has_details=True
    )
    assert [item["field"] for item in error["details"]["fields"]] == [
        "projectId",
        "count",
        "niche.vertical",
        "niche.language",
        "niche.geo",
        "niche.mood",
        "target",
        "requestId",
        "extra",
    ]


def test_null_optional_fields_are_accepted(api, project):
    body = request_body(
        project,
        niche={"vertical": "coffee", "audience": None, "language": None, "geo": None},
        target=None,
        note=None,
        requestId=None,
    )
    assert api.post(request_url(project.pk), body).status_code == 202


def test_a_wallet_below_one_account_is_402_and_nothing_is_queued(api, project):
    org = project.organization
    wallet_adjust(
        organization=org,
        amount_cents=-(org.balance_cents - 14_999),
        memo="drain",
        actor=factories.SYSTEM,
    )
    before = snapshot()
    error = assert_error(
        api.post(request_url(project.pk), request_body(project)),
        402,
        "BILLING_EXHAUSTED",
        details={"balanceCents": 14_999, "priceCents": 15_000},
    )
    assert "top up" in error["message"]
    assert snapshot() == before
    assert not LeaseRequest.objects.exists()


def test_a_suspended_partner_gets_409(api, project):
    from leasing.services.partners import organization_set_status

    organization_set_status(
        organization=project.organization, status="suspended", actor=factories.SYSTEM
    )
    error = assert_error(api.post(request_url(project.pk), request_body(project)), 409, "CONFLICT")
    assert "suspended" in error["message"]


def test_another_partners_project_is_404(api, other_project):
    before = snapshot()
    error = assert_error(
        api.post(request_url(other_project.pk), request_body(other_project)), 404, "NOT_FOUND"
    )
    assert other_project.pk in error["message"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "project_id",
    ["123", "prj_short", "PRJ_01HX9Y7K8M2P4RSTUV56789AB", "prj_01HX9Y7K8M2P4RSTUV56789AB"],
)
def test_a_project_id_of_the_wrong_shape_or_unknown_is_404(api, project_id):
    assert_error(api.post(request_url(project_id), {"projectId": project_id}), 404, "NOT_FOUND")


def test_it_requires_a_key(anonymous_api, project):
    error = assert_error(
        anonymous_api.post(request_url(project.pk), request_body(project)), 401, "UNAUTHENTICATED"
    )
    assert "Authorization" in error["message"]
    assert not LeaseRequest.objects.exists()


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer nope",
        "Token lp_live_X_Y",
        "Bearer lp_live_0000000000000A_secret",
        "Bearer lp_live_",
    ],
)
def test_malformed_or_unknown_keys_are_401(api, project, header):
    response = api.client.post(
        request_url(project.pk),
        data="{}",
        content_type="application/json",
        headers={"Authorization": header},
    )
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_is_401(api, project):
    # Another last character: a key that already ended in "x" would stay right (1 in 62).
    wrong = api.raw_key[:-1] + ("x" if api.raw_key[-1] != "x" else "y")
    response = api.client.post(
        request_url(project.pk),
        data="{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {wrong}"},
    )
    assert_error(response, 401, "UNAUTHENTICATED")


def test_a_revoked_key_is_401(api, project):
    api_key_revoke(api_key=api.api_key, actor=factories.SYSTEM)
    error = assert_error(
        api.post(request_url(project.pk), request_body(project)), 401, "UNAUTHENTICATED"
    )
    assert error["message"] == "unknown or revoked API key"


def test_the_bearer_scheme_is_case_insensitive(api, project):
    response = api.client.post(
        request_url(project.pk),
        data=request_body(project),
        content_type="application/json",
        headers={"Authorization": f"bearer {api.raw_key}"},
    )
    assert response.status_code == 202


def test_it_requires_leased_write(partner, project):
    reader = make_api(partner, scopes=["social:read"])
    error = assert_error(
        reader.post(request_url(project.pk), request_body(project)),
        403,
        "FORBIDDEN_SCOPE",
        details={"requiredScope": "leased:write"},
    )
    assert "leased:write" in error["message"]
    assert not LeaseRequest.objects.exists()


def test_the_star_scope_grants_everything(partner, project):
    star = make_api(partner, scopes=["*"])
    assert star.post(request_url(project.pk), request_body(project)).status_code == 202


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_wrong_method_is_405(api, project, method):
    response = api.generic(method, request_url(project.pk))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "POST"

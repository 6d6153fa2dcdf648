"""GET a lease request (both paths) and GET a project's requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leasing.models import LeaseRequest
from leasing.services.audit import Actor
from leasing.services.leases import lease_release
from leasing.services.requests import lease_request_close, request_note_add
from tests import factories
from tests.api.conftest import OPS, assert_error, assert_ok, assign

REQUEST_KEYS = {
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
}


def detail_urls(project_id: str, request_key: str) -> list[str]:
    return [
        f"/v1/projects/{project_id}/leased-accounts/requests/{request_key}",
        f"/v1/leased-accounts/requests/{request_key}",
    ]


def list_url(project_id: str) -> str:
    return f"/v1/projects/{project_id}/leased-accounts/requests"


@pytest.fixture
def queued(project) -> LeaseRequest:
    return factories.make_request(
        project,
        count=3,
        vertical="coffee",
        language="en",
        geo=["US"],
        submitted_at=datetime(2026, 4, 18, 19, 24, 11, 654321, tzinfo=UTC),
    )


@pytest.mark.parametrize("which", [0, 1])
def test_a_new_request_reads_back_exactly(api, project, queued, which):
    data = assert_ok(api.get(detail_urls(project.pk, queued.request_key)[which]))
    assert data == {
        "requestId": queued.request_key,
        "projectId": project.pk,
        "status": "requested",
        "count": 3,
        "niche": {"vertical": "coffee", "audience": None, "language": "en", "geo": ["US"]},
        "target": None,
        "submittedAt": "2026-04-18T19:24:11Z",
        "assignedAt": None,
        "assignedSocialAccountIds": [],
        "note": None,
    }


def test_a_request_being_worked_still_reads_requested(api, project, queued, ops_user):
    from leasing.services.requests import lease_request_claim

    lease_request_claim(request=queued, actor=Actor.for_user(ops_user))
    for url in detail_urls(project.pk, queued.request_key):
        assert assert_ok(api.get(url))["status"] == "requested"


def test_a_partial_assignment_shows_accounts_and_first_assignment_time(api, project, queued):
    leases = assign(queued, 2)
    data = assert_ok(api.get(detail_urls(project.pk, queued.request_key)[0]))
    assert data["status"] == "requested"
    assert data["assignedSocialAccountIds"] == [lease.account_id for lease in leases]
    assert data["assignedAt"] == leases[0].assigned_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_released_accounts_stay_listed_in_assignment_order(api, project, queued):
    first = assign(queued, 1)
    rest = assign(queued, 2)
    lease_release(lease=first[0], actor=OPS)
    data = assert_ok(api.get(detail_urls(project.pk, queued.request_key)[1]))
    assert data["status"] == "assigned"
    assert data["assignedSocialAccountIds"] == [
        first[0].account_id,
        rest[0].account_id,
        rest[1].account_id,
    ]


def test_the_latest_partner_note_shows_and_internal_notes_never(api, project, queued):
    request_note_add(request=queued, body="first visible", visibility="partner", actor=OPS)
    request_note_add(request=queued, body="ops only", visibility="internal", actor=OPS)
    assign(queued, 1)
    lease_request_close(request=queued, outcome="partial", note="only one in stock", actor=OPS)
    request_note_add(request=queued, body="internal after close", visibility="internal", actor=OPS)
    data = assert_ok(api.get(detail_urls(project.pk, queued.request_key)[0]))
    assert data["status"] == "partial"
    assert data["note"] == "only one in stock"
    assert "ops only" not in str(data)


def test_a_rejected_request(api, project, queued):
    lease_request_close(request=queued, outcome="rejected", note="no coffee accounts", actor=OPS)
    data = assert_ok(api.get(detail_urls(project.pk, queued.request_key)[1]))
    assert data["status"] == "rejected"
    assert data["note"] == "no coffee accounts"
    assert data["assignedAt"] is None


def test_a_partner_request_id_is_the_path_id(api, project):
    mine = factories.make_request(project, request_key="po-77")
    for url in detail_urls(project.pk, "po-77"):
        assert assert_ok(api.get(url))["requestId"] == mine.request_key


@pytest.mark.parametrize(
    "request_key", ["nope", "bad*shape", "x" * 65, "lreq_01HX9Y7K8M2P4RSTUV56789AB"]
)
def test_unknown_or_malformed_request_ids_are_404(api, project, request_key):
    for url in detail_urls(project.pk, request_key):
        assert_error(api.get(url), 404, "NOT_FOUND")


def test_the_project_path_must_hold_the_request(api, project, queued):
    elsewhere = factories.make_project(project.organization, "Second")
    assert_error(api.get(detail_urls(elsewhere.pk, queued.request_key)[0]), 404, "NOT_FOUND")
    assert_error(api.get(detail_urls("prj_bad", queued.request_key)[0]), 404, "NOT_FOUND")


def test_the_detail_costs_a_fixed_number_of_queries(
    api, project, queued, django_assert_num_queries
):
    assign(queued, 3)
    request_note_add(request=queued, body="hello", visibility="partner", actor=OPS)
    # key, rate-limit upsert, request with its note, its leases, call log
    with django_assert_num_queries(5):
        assert api.get(detail_urls(project.pk, queued.request_key)[0]).status_code == 200
    with django_assert_num_queries(5):
        assert api.get(detail_urls(project.pk, queued.request_key)[1]).status_code == 200


def test_the_list_is_newest_first_with_every_item_in_full(api, project):
    old = factories.make_request(project, submitted_at=datetime(2026, 1, 1, tzinfo=UTC))
    new = factories.make_request(project, submitted_at=datetime(2026, 3, 1, tzinfo=UTC))
    middle = factories.make_request(project, submitted_at=datetime(2026, 2, 1, tzinfo=UTC))
    assign(middle, 1)
    data = assert_ok(api.get(list_url(project.pk)))
    assert set(data) == {"items", "nextCursor"}
    assert data["nextCursor"] is None
    assert [item["requestId"] for item in data["items"]] == [
        new.request_key,
        middle.request_key,
        old.request_key,
    ]
    for item in data["items"]:
        assert set(item) == REQUEST_KEYS
    assert len(data["items"][1]["assignedSocialAccountIds"]) == 1


def test_the_list_only_holds_the_projects_requests(api, project):
    factories.make_request(factories.make_project(project.organization, "Second"))
    mine = factories.make_request(project)
    data = assert_ok(api.get(list_url(project.pk)))
    assert [item["requestId"] for item in data["items"]] == [mine.request_key]


def test_the_status_filter(api, project, ops_user):
    from leasing.services.requests import lease_request_claim

    queued = factories.make_request(project)
    worked = factories.make_request(project)
    lease_request_claim(request=worked, actor=Actor.for_user(ops_user))
    done = factories.make_request(project, count=1)
    assign(done)
    rejected = factories.make_request(project)
    lease_request_close(request=rejected, outcome="rejected", note="none", actor=OPS)

    def keys(status: str) -> set[str]:
        return {
            i["requestId"] for i in assert_ok(api.get(list_url(project.pk), status=status))["items"]
        }

    assert keys("requested") == {queued.request_key, worked.request_key}
    assert keys("assigned") == {done.request_key}
    assert keys("rejected") == {rejected.request_key}
    assert keys("partial") == set()


def test_a_bad_status_filter_is_422(api, project):
    error = assert_error(
        api.get(list_url(project.pk), status="in_progress"), 422, "VALIDATION", has_details=True
    )
    assert error["details"]["fields"] == [
        {"field": "status", "problem": "must be one of requested, assigned, partial, rejected"}
    ]


def test_the_list_costs_a_fixed_number_of_queries(api, project, django_assert_num_queries):
    for _ in range(4):
        req = factories.make_request(project, count=2)
        assign(req, 2)
        request_note_add(request=req, body="note", visibility="partner", actor=OPS)
    # key, rate-limit upsert, project, requests with notes, their leases, call log
    with django_assert_num_queries(6):
        data = assert_ok(api.get(list_url(project.pk)))
    assert len(data["items"]) == 4


def test_the_list_of_another_partners_project_is_404(api, other_project):
    assert_error(api.get(list_url(other_project.pk)), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_wrong_methods_are_405(api, project, method):
    queued = factories.make_request(project)
    for url in (list_url(project.pk), *detail_urls(project.pk, queued.request_key)):
        response = api.generic(method, url)
        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert response["Allow"] == "GET"


def test_reads_require_a_key_and_the_scope(anonymous_api, partner, project):
    queued = factories.make_request(project)
    from tests.api.conftest import make_api

    reader = make_api(partner, scopes=["social:read"])
    for url in (list_url(project.pk), *detail_urls(project.pk, queued.request_key)):
        assert_error(anonymous_api.get(url), 401, "UNAUTHENTICATED")
        assert_error(
            reader.get(url), 403, "FORBIDDEN_SCOPE", details={"requiredScope": "leased:write"}
        )

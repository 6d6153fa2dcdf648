"""A second partner sees none of the first one's projects, requests or accounts: every
endpoint answers 404 exactly as for an id that does not exist, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from leasing.models import ApiKey
from tests import factories
from tests.api.conftest import assert_error, assert_ok, assign, request_body, request_url
from tests.invariants import snapshot


@pytest.fixture
def brewline(project):
    """The first partner's project with a request and one active lease."""
    lease_request = factories.make_request(project, count=2, request_key="po-1")
    (lease,) = assign(lease_request, 1)
    return {"project": project.pk, "request": "po-1", "account": lease.account_id}


def _calls(ids: dict[str, str]) -> dict[str, tuple[str, str]]:
    p, r, a = ids["project"], ids["request"], ids["account"]
    return {
        "request a lease": ("post", request_url(p)),
        "get a request (project path)": ("get", f"/v1/projects/{p}/leased-accounts/requests/{r}"),
        "get a request (any project)": ("get", f"/v1/leased-accounts/requests/{r}"),
        "list requests": ("get", f"/v1/projects/{p}/leased-accounts/requests"),
        "list leased accounts": ("get", f"/v1/projects/{p}/leased-accounts"),
        "list disconnected": ("get", f"/v1/projects/{p}/leased-accounts?status=disconnected"),
        "release": ("delete", f"/v1/leased-accounts/{a}"),
        "list social accounts": ("get", f"/v1/projects/{p}/social-accounts"),
    }


ENDPOINTS = list(_calls({"project": "", "request": "", "account": ""}))


def _call(api: Any, method: str, url: str, project_id: str) -> Any:
    if method == "post":
        return api.post(url, {**request_body_for(project_id), "requestId": "po-2"})
    if method == "delete":
        return api.delete(url)
    return api.get(url)


def request_body_for(project_id: str) -> dict[str, Any]:
    return {"projectId": project_id, "count": 1, "niche": {"vertical": "coffee"}}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_other_partner_gets_404_for_everything_of_ours(other_api, brewline, endpoint):
    method, url = _calls(brewline)[endpoint]
    before = snapshot()
    error = assert_error(_call(other_api, method, url, brewline["project"]), 404, "NOT_FOUND")
    assert snapshot() == before
    # Indistinguishable from an id that exists nowhere.
    missing = {
        "project": "prj_01HX9Y7K8M2P4RSTUV56789AB",
        "request": "po-never",
        "account": "sa_01HXZS8N3C5R6STUV7WXYZ9AB",
    }
    method, url = _calls(missing)[endpoint]
    other = assert_error(_call(other_api, method, url, missing["project"]), 404, "NOT_FOUND")
    assert set(other) == set(error)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_owner_reaches_every_endpoint(api, brewline, endpoint):
    method, url = _calls(brewline)[endpoint]
    response = _call(api, method, url, brewline["project"])
    assert_ok(response, 202 if method == "post" else 200)


def test_lists_never_mix_partners(api, other_api, project, other_project):
    assign(factories.make_request(other_project, count=1))
    factories.make_request(other_project, request_key="po-1")
    mine = factories.make_request(project, request_key="po-1")
    items = assert_ok(api.get(f"/v1/projects/{project.pk}/leased-accounts/requests"))["items"]
    assert [item["projectId"] for item in items] == [project.pk]
    # Same partner request id in both organizations: each key sees its own.
    mine_data = assert_ok(api.get("/v1/leased-accounts/requests/po-1"))
    assert mine_data["projectId"] == mine.project_id
    theirs = assert_ok(other_api.get("/v1/leased-accounts/requests/po-1"))
    assert theirs["projectId"] == other_project.pk


def test_a_key_of_one_partner_cannot_post_to_the_others_project(other_api, project):
    before = snapshot()
    assert_error(other_api.post(request_url(project.pk), request_body(project)), 404, "NOT_FOUND")
    assert snapshot() == before
    assert ApiKey.objects.count() == 1

"""GET leased accounts, DELETE (release) and GET social accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from leasing.models import AuditEvent, Lease, PoolAccount
from leasing.services.leases import lease_release
from tests import factories
from tests.api.conftest import OPS, assert_error, assert_ok, assign, make_api
from tests.invariants import snapshot

ASSIGNED_AT = datetime(2026, 4, 20, 16, 12, 2, 999_999, tzinfo=UTC)


def leased_url(project_id: str) -> str:
    return f"/v1/projects/{project_id}/leased-accounts"


def release_url(account_id: str) -> str:
    return f"/v1/leased-accounts/{account_id}"


def social_url(project_id: str) -> str:
    return f"/v1/projects/{project_id}/social-accounts"


@pytest.fixture
def leases(project) -> list[Lease]:
    request = factories.make_request(project, count=2)
    with time_machine.travel(ASSIGNED_AT, tick=False):
        first = assign(request, 1, followers=12840)
    second = assign(request, 1, followers=8412)
    return first + second


def test_leased_accounts_read_exactly_as_the_seed_page(api, project, leases):
    data = assert_ok(api.get(leased_url(project.pk)))
    first = leases[0]
    assert data["nextCursor"] is None
    assert data["items"][0] == {
        "socialAccountId": first.account_id,
        "projectId": project.pk,
        "handle": first.account.handle,
        "platform": "tiktok",
        "followers": 12840,
        "status": "assigned",
        "assignedAt": "2026-04-20T16:12:02Z",
        "nextRenewalAt": "2026-05-20T16:12:02Z",
        "monthlyPriceCents": 15000,
    }
    assert [item["socialAccountId"] for item in data["items"]] == [
        lease.account_id for lease in leases
    ]


def test_an_assignment_shows_as_soon_as_it_commits(api, project):
    request = factories.make_request(project, count=1)
    assert assert_ok(api.get(leased_url(project.pk)))["items"] == []
    (lease,) = assign(request)
    items = assert_ok(api.get(leased_url(project.pk)))["items"]
    assert [item["socialAccountId"] for item in items] == [lease.account_id]


def test_status_assigned_is_the_default(api, project, leases):
    lease_release(lease=leases[0], actor=OPS)
    default = assert_ok(api.get(leased_url(project.pk)))
    explicit = assert_ok(api.get(leased_url(project.pk), status="assigned"))
    assert default == explicit
    assert [item["socialAccountId"] for item in default["items"]] == [leases[1].account_id]


def test_disconnected_items_add_when_and_why(api, project, leases):
    when = datetime(2026, 4, 25, 9, 30, 0, 500_000, tzinfo=UTC)
    with time_machine.travel(when, tick=False):
        lease_release(lease=leases[1], actor=OPS)
    data = assert_ok(api.get(leased_url(project.pk), status="disconnected"))
    (item,) = data["items"]
    assert item == {
        "socialAccountId": leases[1].account_id,
        "projectId": project.pk,
        "handle": leases[1].account.handle,
        "platform": "tiktok",
        "followers": 8412,
        "status": "disconnected",
        "assignedAt": leases[1].assigned_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nextRenewalAt": None,
        "monthlyPriceCents": 15000,
        "disconnectedAt": "2026-04-25T09:30:00Z",
        "disconnectedReason": "released_by_partner",
    }


@pytest.mark.parametrize("status", ["", "active", "ASSIGNED", "all"])
def test_a_bad_status_is_422(api, project, status):
    error = assert_error(
        api.get(leased_url(project.pk), status=status), 422, "VALIDATION", has_details=True
    )
    assert error["details"] == {
        "fields": [{"field": "status", "problem": "must be one of assigned, disconnected"}]
    }


def test_leased_accounts_cost_a_fixed_number_of_queries(api, project, django_assert_num_queries):
    for _ in range(3):
        assign(factories.make_request(project, count=3))
    # key, rate-limit upsert, leases with their accounts (the project is looked up only
    # when there are none), call log
    with django_assert_num_queries(4):
        data = assert_ok(api.get(leased_url(project.pk)))
    assert len(data["items"]) == 9


def test_another_partners_leased_accounts_are_404(api, other_project):
    assign(factories.make_request(other_project, count=1))
    assert_error(api.get(leased_url(other_project.pk)), 404, "NOT_FOUND")
    assert_error(api.get(leased_url("prj_nope")), 404, "NOT_FOUND")


def test_leased_accounts_need_a_key_and_the_scope(anonymous_api, partner, project):
    assert_error(anonymous_api.get(leased_url(project.pk)), 401, "UNAUTHENTICATED")
    reader = make_api(partner, scopes=["social:read"])
    assert_error(
        reader.get(leased_url(project.pk)),
        403,
        "FORBIDDEN_SCOPE",
        details={"requiredScope": "leased:write"},
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_leased_accounts_wrong_method_is_405(api, project, method):
    response = api.generic(method, leased_url(project.pk))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET"


# DELETE /v1/leased-accounts/{socialAccountId}


def test_release_disconnects_now_and_returns_the_account_to_the_pool(api, project, leases):
    org = project.organization
    org.refresh_from_db()
    balance = org.balance_cents
    when = datetime(2026, 4, 28, 8, 0, 0, 250_000, tzinfo=UTC)
    with time_machine.travel(when, tick=False):
        response = api.delete(release_url(leases[0].account_id), {"reason": "campaign over"})
    data = assert_ok(response)
    assert data == {
        "socialAccountId": leases[0].account_id,
        "status": "disconnected",
        "disconnectedReason": "released_by_partner",
        "disconnectedAt": "2026-04-28T08:00:00Z",
    }
    assert response["X-RateLimit-Endpoint-Class"] == "write-light"
    lease = Lease.objects.get(pk=leases[0].pk)
    assert lease.status == "disconnected"
    assert lease.next_renewal_at is None
    assert lease.disconnected_note == "campaign over"
    assert PoolAccount.objects.get(pk=leases[0].account_id).state == "ready"
    org.refresh_from_db()
    assert org.balance_cents == balance  # no refund
    event = AuditEvent.objects.get(action="lease.disconnect")
    assert event.request_id == response["X-Request-Id"]
    assert event.after is not None
    assert event.after["note"] == "campaign over"
    # ...and it now shows under status=disconnected.
    disconnected = assert_ok(api.get(leased_url(project.pk), status="disconnected"))["items"]
    assert [item["socialAccountId"] for item in disconnected] == [leases[0].account_id]


def test_release_without_a_body(api, leases):
    response = api.client.delete(
        release_url(leases[0].account_id), headers={"Authorization": f"Bearer {api.raw_key}"}
    )
    assert assert_ok(response)["status"] == "disconnected"
    assert Lease.objects.get(pk=leases[0].pk).disconnected_note == ""


def test_releasing_twice_is_404(api, leases):
    assert api.delete(release_url(leases[0].account_id)).status_code == 200
    before = snapshot()
    assert_error(api.delete(release_url(leases[0].account_id)), 404, "NOT_FOUND")
    assert snapshot() == before


def test_releasing_an_account_never_leased_is_404(api, db):
    account = factories.make_account()
    assert_error(api.delete(release_url(account.pk)), 404, "NOT_FOUND")
    assert_error(api.delete(release_url("sa_01HXZS8N3C5R6STUV7WXYZ9AB")), 404, "NOT_FOUND")


@pytest.mark.parametrize("account_id", ["42", "sa_", "sa_lowercase01hxzs8n3c5r6stuv7", "requests"])
def test_release_of_a_malformed_id_is_404(api, account_id):
    assert_error(api.delete(release_url(account_id)), 404, "NOT_FOUND")


def test_releasing_another_partners_account_is_404_and_changes_nothing(api, other_project):
    (theirs,) = assign(factories.make_request(other_project, count=1))
    before = snapshot()
    assert_error(api.delete(release_url(theirs.account_id)), 404, "NOT_FOUND")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("raw", "status", "fields"),
    [
        ("nope", 400, None),
        ("[]", 400, None),
        ('{"reason": 5}', 422, [{"field": "reason", "problem": "must be a string"}]),
        (
            '{"reason": "' + "r" * 2001 + '"}',
            422,
            [{"field": "reason", "problem": "must be at most 2000 characters (got 2001)"}],
        ),
        ('{"why": "x"}', 422, [{"field": "why", "problem": "is not a known field"}]),
        (
            '{"reason": "a\\u0000b"}',
            422,
            [{"field": "reason", "problem": "must not contain NUL (\\u0000) characters"}],
        ),
    ],
)
def test_a_bad_release_body_is_refused(api, leases, raw, status, fields):
    before = snapshot()
    response = api.delete(release_url(leases[0].account_id), raw=raw)
    if fields is None:
        assert_error(response, status, "VALIDATION")
    else:
        assert_error(response, status, "VALIDATION", details={"fields": fields})
    assert snapshot() == before


def test_release_needs_a_key_and_the_scope(anonymous_api, partner, leases):
    reader = make_api(partner, scopes=["social:read"])
    before = snapshot()
    assert_error(anonymous_api.delete(release_url(leases[0].account_id)), 401, "UNAUTHENTICATED")
    assert_error(
        reader.delete(release_url(leases[0].account_id)),
        403,
        "FORBIDDEN_SCOPE",
        details={"requiredScope": "leased:write"},
    )
    assert snapshot() == before


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_release_wrong_method_is_405(api, leases, method):
    response = api.generic(method, release_url(leases[0].account_id))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "DELETE"


# GET /v1/projects/{projectId}/social-accounts


def test_social_accounts_show_active_leases_in_the_unified_shape(api, project, leases):
    lease_release(lease=leases[1], actor=OPS)
    data = assert_ok(api.get(social_url(project.pk)))
    assert data == {
        "items": [
            {
                "socialAccountId": leases[0].account_id,
                "platform": "tiktok",
                "handle": leases[0].account.handle,
                "status": "connected",
                "leased": True,
                "connectedAt": "2026-04-20T16:12:02Z",
            }
        ],
        "nextCursor": None,
    }
    assert data == assert_ok(
        api.get(social_url(project.pk), leased="true", platform="tiktok", status="connected")
    )


@pytest.mark.parametrize(
    "query", [{"leased": "false"}, {"platform": "instagram"}, {"status": "disconnected"}]
)
def test_social_account_filters_that_match_nothing(api, project, leases, query):
    assert assert_ok(api.get(social_url(project.pk), **query)) == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    ("query", "field", "problem"),
    [
        ({"leased": "yes"}, "leased", "must be one of true, false"),
        ({"status": "online"}, "status", "must be one of connected, disconnected"),
        ({"platform": "TikTok!"}, "platform", "must be a lower-case platform name (tiktok)"),
        ({"limit": "500"}, "limit", "must be a whole number between 1 and 200"),
    ],
)
def test_bad_social_account_filters_are_422(api, project, query, field, problem):
    assert_error(
        api.get(social_url(project.pk), **query),
        422,
        "VALIDATION",
        details={"fields": [{"field": field, "problem": problem}]},
    )


def test_social_accounts_need_social_read(partner, project):
    writer = make_api(partner, scopes=["leased:write"])
    assert_error(
        writer.get(social_url(project.pk)),
        403,
        "FORBIDDEN_SCOPE",
        details={"requiredScope": "social:read"},
    )
    assert_ok(make_api(partner, scopes=["*"]).get(social_url(project.pk)))


def test_social_accounts_of_another_partner_are_404(api, other_project, anonymous_api):
    assert_error(api.get(social_url(other_project.pk)), 404, "NOT_FOUND")
    assert_error(anonymous_api.get(social_url(other_project.pk)), 401, "UNAUTHENTICATED")


def test_social_accounts_cost_a_fixed_number_of_queries(api, project, django_assert_num_queries):
    for _ in range(3):
        assign(factories.make_request(project, count=2))
    with django_assert_num_queries(5):
        assert len(assert_ok(api.get(social_url(project.pk)))["items"]) == 6


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_social_accounts_wrong_method_is_405(api, project, method):
    response = api.generic(method, social_url(project.pk))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET"

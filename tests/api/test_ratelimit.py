"""Per-key, per-endpoint-class fixed windows of one minute, with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leasing.models import LeaseRequest, RateLimitWindow
from leasing.services.housekeeping import purge_expired
from tests.api.conftest import assert_error, assert_ok, make_api, request_body, request_url
from tests.invariants import snapshot

# 20 s into a minute: the window resets in 40 s.
T0 = datetime(2026, 4, 20, 16, 12, 20, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def leased_url(project_id: str) -> str:
    return f"/v1/projects/{project_id}/leased-accounts"


def test_headers_count_down_the_budget(api, project, clock):
    first = api.get(leased_url(project.pk))
    second = api.get(leased_url(project.pk))
    assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("120", "119")
    assert (second["RateLimit-Limit"], second["RateLimit-Remaining"]) == ("120", "118")
    assert first["RateLimit-Reset"] == "40"
    assert first["X-RateLimit-Endpoint-Class"] == "read-light"


def test_reads_and_writes_have_separate_budgets(api, project, clock):
    api.get(leased_url(project.pk))
    write = api.post(request_url(project.pk), request_body(project))
    assert write["X-RateLimit-Endpoint-Class"] == "write-light"
    assert (write["RateLimit-Limit"], write["RateLimit-Remaining"]) == ("60", "59")
    release = api.delete("/v1/leased-accounts/sa_01HXZS8N3C5R6STUV7WXYZ9AB")
    assert release["X-RateLimit-Endpoint-Class"] == "write-light"
    assert release["RateLimit-Remaining"] == "58"


def test_write_budget_exhaustion_and_reset(api, project, clock):
    for n in range(60):
        response = api.post(request_url(project.pk), request_body(project))
        assert response.status_code == 202, n
    assert response["RateLimit-Remaining"] == "0"

    clock.shift(15)  # 35 s into the minute
    before = snapshot()
    refused = api.post(request_url(project.pk), request_body(project))
    error = assert_error(
        refused,
        429,
        "RATE_LIMITED",
        details={"endpointClass": "write-light", "limit": 60},
    )
    assert "retry in 25 s" in error["message"]
    assert refused["Retry-After"] == "25"
    assert refused["RateLimit-Remaining"] == "0"
    assert refused["RateLimit-Reset"] == "25"
    # A refused call changes nothing: no request, and the counter did not move either.
    assert snapshot() == before
    assert LeaseRequest.objects.count() == 60
    assert RateLimitWindow.objects.get(endpoint_class="write-light").count == 60

    # Reads are still allowed.
    assert api.get(leased_url(project.pk)).status_code == 200

    clock.move_to(datetime(2026, 4, 20, 16, 13, 0, tzinfo=UTC))
    again = api.post(request_url(project.pk), request_body(project))
    assert again.status_code == 202
    assert again["RateLimit-Remaining"] == "59"
    assert again["RateLimit-Reset"] == "60"


def test_the_read_budget_is_120_for_standard_keys(api, project, clock):
    for _ in range(120):
        assert api.get(leased_url(project.pk)).status_code == 200
    refused = api.get(leased_url(project.pk))
    assert_error(
        refused, 429, "RATE_LIMITED", details={"endpointClass": "read-light", "limit": 120}
    )
    assert refused["Retry-After"] == "40"


def test_errors_after_authentication_count_too(api, project, clock):
    api.get(leased_url("prj_nope"))  # 404
    api.get(leased_url(project.pk), status="bad")  # 422
    assert api.get(leased_url(project.pk))["RateLimit-Remaining"] == "117"


def test_unauthenticated_calls_use_no_budget(api, anonymous_api, project, clock):
    response = anonymous_api.get(leased_url(project.pk))
    assert response.status_code == 401
    # The default tier's full allowance, counted against nobody.
    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"]) == ("120", "120")
    assert response["RateLimit-Reset"] == "40"
    assert not RateLimitWindow.objects.exists()


def test_budgets_are_per_key(partner, project, clock):
    one, two = make_api(partner), make_api(partner)
    one.get(leased_url(project.pk))
    one.get(leased_url(project.pk))
    assert two.get(leased_url(project.pk))["RateLimit-Remaining"] == "119"


@pytest.mark.parametrize(
    ("tier", "read", "write"),
    [("standard", 120, 60), ("pilot", 1200, 600), ("partner", 6000, 3000)],
)
def test_tier_limits(partner, project, clock, tier, read, write):
    api = make_api(partner, tier=tier)
    assert api.get(leased_url(project.pk))["RateLimit-Limit"] == str(read)
    assert api.post(request_url(project.pk), request_body(project))["RateLimit-Limit"] == str(write)


def test_a_nearly_spent_pilot_budget(partner, project, clock):
    api = make_api(partner, tier="pilot")
    assert api.api_key is not None
    RateLimitWindow.objects.create(
        api_key=api.api_key,
        endpoint_class="write-light",
        window_start=T0.replace(second=0),
        count=599,
    )
    last = api.post(request_url(project.pk), request_body(project))
    assert (last.status_code, last["RateLimit-Remaining"]) == (202, "0")
    assert_error(
        api.post(request_url(project.pk), request_body(project)),
        429,
        "RATE_LIMITED",
        has_details=True,
    )


def test_the_purge_job_drops_finished_windows(api, project, clock):
    api.get(leased_url(project.pk))
    purge_expired(now=T0 + timedelta(minutes=1))
    assert RateLimitWindow.objects.count() == 1
    purge_expired(now=T0 + timedelta(minutes=3))
    assert not RateLimitWindow.objects.exists()


def test_limits_apply_before_the_scope_check(partner, project, clock):
    reader = make_api(partner, scopes=["social:read"])
    forbidden = reader.get(leased_url(project.pk))
    assert forbidden.status_code == 403
    assert forbidden["RateLimit-Remaining"] == "119"
    assert_ok(reader.get(f"/v1/projects/{project.pk}/social-accounts"))

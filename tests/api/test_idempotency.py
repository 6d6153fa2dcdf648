"""Idempotency-Key on POST: replay, conflict, in flight, only 2xx stored, 24 hours."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from leasing.api import idempotency
from leasing.models import IdempotencyRecord, LeaseRequest
from leasing.services.billing import wallet_adjust, wallet_top_up
from leasing.services.requests import lease_request_create
from tests import factories
from tests.api.conftest import assert_error, assert_ok, request_body, request_url
from tests.invariants import snapshot

KEY = "9a2f1e44-6b3c-4d19-9e8a-f2d7c1b5e777"


def test_replay_returns_the_same_status_and_body_byte_for_byte(api, project):
    first = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first

    before = snapshot()
    again = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert again.status_code == 202
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == first["Content-Type"]
    assert again["X-Request-Id"] != first["X-Request-Id"]
    assert snapshot() == before
    assert LeaseRequest.objects.count() == 1


def test_key_order_and_whitespace_do_not_matter(api, project):
    body = request_body(project, note="hi")
    first = api.post(request_url(project.pk), raw=json.dumps(body), idempotency_key=KEY)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4)
    again = api.post(request_url(project.pk), raw=reordered, idempotency_key=KEY)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert LeaseRequest.objects.count() == 1


def test_a_different_body_with_the_same_key_is_409(api, project):
    api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    before = snapshot()
    response = api.post(
        request_url(project.pk), request_body(project, count=3), idempotency_key=KEY
    )
    error = assert_error(response, 409, "CONFLICT", details={"reason": "key_reused"})
    assert "Idempotency-Key" in error["message"]
    assert "Idempotent-Replayed" not in response
    assert snapshot() == before


def test_the_same_key_on_another_project_is_409(api, project):
    second = factories.make_project(project.organization, "Second")
    api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    response = api.post(request_url(second.pk), request_body(second), idempotency_key=KEY)
    assert_error(response, 409, "CONFLICT", details={"reason": "key_reused"})


def test_a_key_still_in_flight_is_409_in_progress(api, project):
    now = timezone.now()
    IdempotencyRecord.objects.create(
        organization=project.organization,
        key=KEY,
        request_fingerprint=idempotency.request_fingerprint(
            "POST", request_url(project.pk), request_body(project)
        ),
        created_at=now,
        expires_at=now + idempotency.TTL,
    )
    before = snapshot()
    response = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    error = assert_error(response, 409, "CONFLICT", details={"reason": "in_progress"})
    assert "in progress" in error["message"]
    assert snapshot() == before


def test_a_second_call_during_the_first_sees_in_progress(api, project):
    """The first call's row is committed before its work runs, so a call arriving while
    it runs is told so instead of queueing a second request."""
    seen = {}

    def create_after_a_retry(**kwargs):
        seen["retry"] = api.post(
            request_url(project.pk), request_body(project), idempotency_key=KEY
        )
        return lease_request_create(**kwargs)

    with mock.patch("leasing.api.views.lease_request_create", side_effect=create_after_a_retry):
        first = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert first.status_code == 202
    assert_error(seen["retry"], 409, "CONFLICT", details={"reason": "in_progress"})
    assert LeaseRequest.objects.count() == 1
    replay = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert replay.content == first.content


def test_a_refused_call_is_not_stored_and_can_be_retried_after_a_top_up(api, project):
    org = project.organization
    wallet_adjust(
        organization=org, amount_cents=-org.balance_cents, memo="drain", actor=factories.SYSTEM
    )
    refused = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert_error(refused, 402, "BILLING_EXHAUSTED", has_details=True)
    assert not IdempotencyRecord.objects.exists()

    wallet_top_up(organization=org, amount_cents=15_000, memo="top-up", actor=factories.SYSTEM)
    retried = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried
    assert IdempotencyRecord.objects.get().state == "completed"


def test_a_422_is_not_stored_either(api, project):
    bad = api.post(request_url(project.pk), request_body(project, count=0), idempotency_key=KEY)
    assert bad.status_code == 422
    assert not IdempotencyRecord.objects.exists()
    fixed = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert fixed.status_code == 202


def test_a_crash_lets_go_of_the_key(api, project):
    with mock.patch("leasing.api.views.lease_request_create", side_effect=RuntimeError("boom")):
        crashed = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert_error(crashed, 500, "INTERNAL")
    assert not IdempotencyRecord.objects.exists()
    assert (
        api.post(request_url(project.pk), request_body(project), idempotency_key=KEY).status_code
        == 202
    )


def test_keys_last_24_hours_and_an_expired_key_is_absent(api, project):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        replay = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    # After 24 hours the key is treated as new, even before the purge job runs.
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        fresh = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert fresh.status_code == 202
    assert "Idempotent-Replayed" not in fresh
    assert fresh.json()["requestId"] != first.json()["requestId"]
    assert LeaseRequest.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


def test_the_purge_job_drops_expired_keys(api, project):
    from leasing.services.housekeeping import purge_expired

    api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    purge_expired(now=timezone.now() + timedelta(hours=23))
    assert IdempotencyRecord.objects.count() == 1
    purge_expired(now=timezone.now() + timedelta(hours=24, seconds=1))
    assert not IdempotencyRecord.objects.exists()


def test_an_abandoned_in_progress_key_is_taken_over(api, project):
    long_ago = timezone.now() - idempotency.ABANDONED_AFTER - timedelta(seconds=1)
    IdempotencyRecord.objects.create(
        organization=project.organization,
        key=KEY,
        request_fingerprint=idempotency.request_fingerprint(
            "POST", request_url(project.pk), request_body(project)
        ),
        created_at=long_ago,
        expires_at=long_ago + idempotency.TTL,
    )
    response = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert response.status_code == 202
    assert IdempotencyRecord.objects.get().state == "completed"


def test_keys_are_scoped_to_the_organization(api, other_api, project, other_project):
    mine = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    theirs = other_api.post(
        request_url(other_project.pk), request_body(other_project), idempotency_key=KEY
    )
    assert theirs.status_code == 202
    assert "Idempotent-Replayed" not in theirs
    assert theirs.content != mine.content


def test_keys_are_shared_by_the_organizations_keys(api, project):
    from tests.api.conftest import make_api

    second_key = make_api(project.organization)
    first = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    again = second_key.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_422(api, project, key):
    response = api.client.post(
        request_url(project.pk),
        data=request_body(project),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.raw_key}", "Idempotency-Key": key},
    )
    assert_error(
        response,
        422,
        "VALIDATION",
        details={
            "fields": [
                {
                    "field": "Idempotency-Key",
                    "problem": "must be 1-255 visible ASCII characters (no spaces)",
                }
            ]
        },
    )
    assert not LeaseRequest.objects.exists()


def test_the_longest_key_is_fine(api, project):
    key = "k" * 255
    assert (
        api.post(request_url(project.pk), request_body(project), idempotency_key=key).status_code
        == 202
    )
    assert (
        api.post(request_url(project.pk), request_body(project), idempotency_key=key)[
            "Idempotent-Replayed"
        ]
        == "true"
    )


def test_a_body_that_is_not_json_is_400_with_or_without_a_key(api, project):
    response = api.post(request_url(project.pk), raw="{", idempotency_key=KEY)
    assert_error(response, 400, "VALIDATION")
    assert not IdempotencyRecord.objects.exists()


def test_replays_count_against_the_rate_limit(api, project):
    first = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    again = api.post(request_url(project.pk), request_body(project), idempotency_key=KEY)
    assert int(again["RateLimit-Remaining"]) == int(first["RateLimit-Remaining"]) - 1
    assert_ok(again, 202)

"""Whatever answers under /v1 (our views, Django itself, an exception, a dead database),
the response carries the envelope, the request id and the rate-limit headers."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from leasing.models import ApiCallLog, ApiKey
from tests.api.conftest import assert_error, assert_ok, request_body, request_url


@pytest.mark.parametrize(
    "path",
    [
        "/v1/",
        "/v1/nope",
        "/v1/projects",
        "/v1/leased-accounts",
        "/v1/projects/prj_01HX9Y7K8M2P4RSTUV56789AB/leased-accounts/",
        "/v1/projects/prj_01HX9Y7K8M2P4RSTUV56789AB/leased-accounts/requests/a/b",
    ],
)
@pytest.mark.parametrize("debug", [True, False])
def test_unknown_paths_are_404_in_the_envelope(api, settings, path, debug):
    settings.DEBUG = debug
    error = assert_error(api.get(path), 404, "NOT_FOUND")
    assert "/v1/docs" in error["message"]


@pytest.mark.parametrize("debug", [True, False])
def test_an_unhandled_error_is_500_without_a_traceback(api, project, settings, debug, caplog):
    settings.DEBUG = debug
    with mock.patch("leasing.api.views.lease_request_create", side_effect=ZeroDivisionError("x")):
        response = api.post(request_url(project.pk), request_body(project))
    error = assert_error(response, 500, "INTERNAL")
    assert response["X-Request-Id"] in error["message"]
    assert "ZeroDivisionError" not in response.content.decode()
    # ...but the log has it, under the same request id.
    logged = [r for r in caplog.records if r.name == "leasing.api"]
    assert logged
    assert logged[0].exc_info is not None
    assert response["X-Request-Id"] in logged[0].getMessage()


@pytest.mark.parametrize("exc", [OperationalError("could not connect"), InterfaceError("closed")])
def test_an_unreachable_database_is_503(api, project, exc):
    with mock.patch("leasing.api.auth.api_key_authenticate", side_effect=exc):
        response = api.get(f"/v1/projects/{project.pk}/leased-accounts")
    error = assert_error(response, 503, "UNAVAILABLE")
    assert "could not connect" not in error["message"]
    # No key could be read, so no budget was counted.
    assert response["RateLimit-Remaining"] == response["RateLimit-Limit"]


def test_a_database_failing_mid_call_is_503(api, project):
    with mock.patch("leasing.api.decorators.rate_limit_consume", side_effect=OperationalError):
        response = api.post(request_url(project.pk), request_body(project))
    assert_error(response, 503, "UNAVAILABLE")


def test_a_failing_call_log_never_fails_the_call(api, project, caplog):
    with mock.patch("leasing.api.calllog.api_call_log_write", side_effect=OperationalError):
        response = api.get(f"/v1/projects/{project.pk}/leased-accounts")
    assert_ok(response)
    assert "could not write the API call log" in caplog.text


def test_a_framework_error_page_is_enveloped(api, settings):
    # A Host Django refuses never reaches our views; its 400 still gets the envelope.
    settings.ALLOWED_HOSTS = ["example.com"]
    response = api.client.get("/v1/docs", headers={"Host": "evil.test"})
    assert_error(response, 400, "VALIDATION")


def test_non_api_paths_are_left_alone(client, db):
    response = client.get("/definitely-not-a-page/")
    assert "X-Request-Id" not in response
    assert "RateLimit-Limit" not in response


def test_openapi_and_docs_carry_the_headers_without_a_key(anonymous_api):
    for path in ("/v1/openapi.json", "/v1/docs"):
        response = anonymous_api.get(path)
        assert response.status_code == 200
        assert response["X-Request-Id"].startswith("req_")
        assert response["RateLimit-Limit"] == "120"
    assert_error(anonymous_api.client.post("/v1/openapi.json"), 405, "METHOD_NOT_ALLOWED")


def test_every_call_is_logged_once_with_what_support_needs(api, anonymous_api, project):
    ok = api.get(f"/v1/projects/{project.pk}/leased-accounts")
    bad = api.get(f"/v1/projects/{project.pk}/leased-accounts", status="x")
    anon = anonymous_api.get(f"/v1/projects/{project.pk}/leased-accounts")
    missing = api.get("/v1/nope")

    rows = {row.request_id: row for row in ApiCallLog.objects.all()}
    assert len(rows) == 4
    first = rows[ok["X-Request-Id"]]
    assert first.api_key == api.api_key
    assert first.organization_id == project.organization_id
    assert (first.method, first.path, first.status, first.error_code) == (
        "GET",
        f"/v1/projects/{project.pk}/leased-accounts",
        200,
        "",
    )
    assert first.duration_ms >= 0
    assert abs(first.created_at - timezone.now()) < timedelta(minutes=1)
    assert (rows[bad["X-Request-Id"]].status, rows[bad["X-Request-Id"]].error_code) == (
        422,
        "VALIDATION",
    )
    unauthenticated = rows[anon["X-Request-Id"]]
    assert (unauthenticated.api_key, unauthenticated.organization, unauthenticated.error_code) == (
        None,
        None,
        "UNAUTHENTICATED",
    )
    assert rows[missing["X-Request-Id"]].error_code == "NOT_FOUND"


def test_the_call_log_is_written_after_the_response_is_built(api, project):
    response = api.client.get(
        f"/v1/projects/{project.pk}/leased-accounts",
        headers={"Authorization": f"Bearer {api.raw_key}"},
    )
    assert ApiCallLog.objects.filter(request_id=response["X-Request-Id"]).exists()


def test_last_used_is_written_at_most_once_a_minute(api, project, django_assert_num_queries):
    ApiKey.objects.filter(pk=api.api_key.pk).update(last_used_at=None)
    url = f"/v1/projects/{project.pk}/leased-accounts"
    # key, last-used update, rate-limit upsert, project, leases, call log
    with django_assert_num_queries(6):
        api.get(url)
    used = ApiKey.objects.get(pk=api.api_key.pk).last_used_at
    assert used is not None
    with django_assert_num_queries(5):
        api.get(url)
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at == used

    ApiKey.objects.filter(pk=api.api_key.pk).update(last_used_at=used - timedelta(seconds=61))
    api.get(url)
    touched = ApiKey.objects.get(pk=api.api_key.pk).last_used_at
    assert touched is not None
    assert touched >= used


def test_a_nul_in_the_path_is_404_and_still_logged(api):
    response = api.get("/v1/projects/prj_%00/leased-accounts")
    assert_error(response, 404, "NOT_FOUND")
    logged = ApiCallLog.objects.get(request_id=response["X-Request-Id"])
    assert logged.path == "/v1/projects/prj_/leased-accounts"

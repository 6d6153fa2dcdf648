"""Fixtures for the partner API: keys for two partners and a client that speaks JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from leasing.ids import is_id
from leasing.models import ApiKey, Lease, LeaseRequest, Organization, Project
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from tests import factories
from tests.invariants import assert_invariants

JSON = "application/json; charset=utf-8"
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
OPS = Actor.for_system("tests-ops")


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(db):
    yield
    assert_invariants()


@dataclass
class Api:
    """A partner's HTTP client: every call carries its bearer key (unless told not to)."""

    client: Client
    raw_key: str | None
    api_key: ApiKey | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        base = {"Authorization": f"Bearer {self.raw_key}"} if self.raw_key else {}
        return {**base, **(headers or {})}

    def get(self, path: str, *, headers: dict[str, str] | None = None, **query: Any) -> Any:
        return self.client.get(path, query, headers=self._headers(headers))

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        extra = dict(headers or {})
        if idempotency_key is not None:
            extra["Idempotency-Key"] = idempotency_key
        data = raw if raw is not None else json.dumps(body)
        return self.client.post(
            path, data=data, content_type="application/json", headers=self._headers(extra)
        )

    def delete(
        self, path: str, body: Any = None, *, raw: str | None = None, headers: Any = None
    ) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.client.delete(
            path, data=data, content_type="application/json", headers=self._headers(headers)
        )

    def generic(self, method: str, path: str) -> Any:
        return self.client.generic(method, path, headers=self._headers(None))


def make_api(org: Organization, **key_kwargs: Any) -> Api:
    api_key, raw = factories.make_key(org, **key_kwargs)
    # Fresh keys are touched on their first call; start as if used a moment ago so query
    # budgets count only the call itself.
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    api_key.refresh_from_db()
    return Api(client=Client(), raw_key=raw, api_key=api_key)


@pytest.fixture
def api(partner) -> Api:
    return make_api(partner)


@pytest.fixture
def other_api(other_partner) -> Api:
    """The second partner, for tenancy checks."""
    return make_api(other_partner)


@pytest.fixture
def anonymous_api(db) -> Api:
    return Api(client=Client(), raw_key=None)


def request_body(project: Project, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "projectId": project.pk,
        "count": 2,
        "niche": {"vertical": "coffee", "language": "en", "geo": ["US", "CA"]},
    }
    body.update(overrides)
    return body


def request_url(project_id: str) -> str:
    return f"/v1/projects/{project_id}/leased-accounts/request"


def assign(
    lease_request: LeaseRequest, count: int | None = None, **account_kwargs: Any
) -> list[Lease]:
    """Ops assign `count` fresh ready accounts (all the request still needs by default)."""
    n = lease_request.remaining if count is None else count
    accounts = [factories.make_account(**account_kwargs) for _ in range(n)]
    return accounts_assign(request=lease_request, account_ids=[a.pk for a in accounts], actor=OPS)


def assert_api_headers(response: Any, endpoint_class: str | None = None) -> None:
    assert is_id(response["X-Request-Id"], "req"), response.headers
    for name in RATE_HEADERS:
        assert response[name].isdigit(), (name, response[name])
    assert int(response["RateLimit-Remaining"]) <= int(response["RateLimit-Limit"])
    assert 1 <= int(response["RateLimit-Reset"]) <= 60
    assert response["X-RateLimit-Endpoint-Class"] in ("read-light", "write-light")
    if endpoint_class is not None:
        assert response["X-RateLimit-Endpoint-Class"] == endpoint_class


def assert_ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    assert_api_headers(response)
    return response.json()


def assert_error(
    response: Any, status: int, code: str, *, details: Any = None, has_details: bool | None = None
) -> dict[str, Any]:
    """The envelope exactly: {"error": {code, message, requestId[, details]}}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    assert_api_headers(response)
    body = response.json()
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    expect_details = details is not None if has_details is None else has_details
    keys = {"code", "message", "requestId"} | ({"details"} if expect_details else set())
    assert set(error) == keys, error
    assert error["code"] == code
    assert error["requestId"] == response["X-Request-Id"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert "Traceback" not in response.content.decode()
    if details is not None:
        assert error["details"] == details
    return error


def fields_of(error: dict[str, Any]) -> dict[str, str]:
    return {item["field"]: item["problem"] for item in error["details"]["fields"]}

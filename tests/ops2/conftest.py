from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from leasing.models import ApiCallLog, Lease, Organization
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from tests import factories

# The dashboard clients and the htmx header helper are the queue's; one definition.
from tests.ops.conftest import (  # noqa: F401
    anonymous,
    fast_password_hashing,
    finance_client,
    htmx_headers,
    ops_client,
    support_client,
)


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def lease_accounts(project, n: int, *, vertical: str = "coffee") -> list[Lease]:
    """Assign `n` fresh ready accounts to a new request of `project`."""
    request = factories.make_request(project, count=n, vertical=vertical)
    accounts = [factories.make_account(verticals=[vertical]) for _ in range(n)]
    return accounts_assign(
        request=request, account_ids=[a.pk for a in accounts], actor=factories.SYSTEM
    )


def log_call(
    org: Organization | None,
    request_id: str,
    *,
    status: int = 200,
    error_code: str = "",
    path: str = "/v1/projects/prj_X/leased-accounts",
    minutes_ago: int = 1,
) -> ApiCallLog:
    return ApiCallLog.objects.create(
        request_id=request_id,
        organization=org,
        method="GET",
        path=path,
        status=status,
        error_code=error_code,
        duration_ms=12,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def actor(ops_user) -> Actor:
    return Actor.for_user(ops_user)

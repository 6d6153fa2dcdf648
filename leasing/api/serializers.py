"""The API's JSON shapes: camelCase, UTC timestamps with Z in whole seconds, cents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leasing.models import Lease, LeaseRequest


def api_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_accepted_data(lease_request: LeaseRequest) -> dict[str, Any]:
    return {
        "requestId": lease_request.request_key,
        "status": lease_request.api_status,
        "submittedAt": api_time(lease_request.submitted_at),
    }


def lease_request_data(
    lease_request: LeaseRequest, *, account_ids: list[str], note: str | None
) -> dict[str, Any]:
    return {
        "requestId": lease_request.request_key,
        "projectId": lease_request.project_id,
        "status": lease_request.api_status,
        "count": lease_request.count,
        "niche": {
            "vertical": lease_request.vertical,
            "audience": lease_request.audience or None,
            "language": lease_request.language or None,
            "geo": list(lease_request.geo),
        },
        "target": lease_request.target or None,
        "submittedAt": api_time(lease_request.submitted_at),
        "assignedAt": api_time(lease_request.first_assigned_at),
        "assignedSocialAccountIds": account_ids,
        "note": note,
    }


def leased_account_data(lease: Lease) -> dict[str, Any]:
    """A lease as the seed page shows it; `lease.account` should be select_related."""
    account = lease.account
    data: dict[str, Any] = {
        "socialAccountId": account.pk,
        "projectId": lease.project_id,
        "handle": account.handle,
        "platform": account.platform,
        "followers": account.followers,
        "status": lease.status,
        "assignedAt": api_time(lease.assigned_at),
        "nextRenewalAt": api_time(lease.next_renewal_at),
        "monthlyPriceCents": lease.monthly_price_cents,
    }
    if lease.status == Lease.Status.DISCONNECTED:
        data["disconnectedAt"] = api_time(lease.disconnected_at)
        data["disconnectedReason"] = lease.disconnected_reason
    return data


def release_data(lease: Lease) -> dict[str, Any]:
    return {
        "socialAccountId": lease.account_id,
        "status": lease.status,
        "disconnectedReason": lease.disconnected_reason,
        "disconnectedAt": api_time(lease.disconnected_at),
    }


def social_account_data(lease: Lease) -> dict[str, Any]:
    """An active lease in the API family's unified social-account shape."""
    account = lease.account
    return {
        "socialAccountId": account.pk,
        "platform": account.platform,
        "handle": account.handle,
        "status": "connected",
        "leased": True,
        "connectedAt": api_time(lease.assigned_at),
    }

"""Reads for the partner API. Every query starts from the key's organization, so another
partner's project, request or account is simply not found (404, never 403)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import OuterRef, QuerySet, Subquery

from leasing.api.errors import not_found
from leasing.ids import is_id
from leasing.models import ApiKey, Lease, LeaseRequest, Project, RequestNote
from leasing.services.requests import PARTNER_REQUEST_ID


def project_of(api_key: ApiKey, project_id: str) -> Project:
    missing = not_found(f"no project {project_id[:64]} in your organization")
    if not is_id(project_id, "prj"):
        raise missing
    project = Project.objects.filter(pk=project_id, organization_id=api_key.organization_id).first()
    if project is None:
        raise missing
    return project


def lease_requests(api_key: ApiKey) -> QuerySet[LeaseRequest]:
    """The organization's requests, each with its latest partner-visible note."""
    latest_note = (
        RequestNote.objects.filter(
            request=OuterRef("pk"), visibility=RequestNote.Visibility.PARTNER
        )
        .order_by("-created_at", "-id")
        .values("body")[:1]
    )
    return LeaseRequest.objects.filter(organization_id=api_key.organization_id).annotate(
        visible_note=Subquery(latest_note)
    )


def lease_request_of(
    api_key: ApiKey, request_key: str, *, project_id: str | None = None
) -> LeaseRequest:
    """A request by its partner-visible id, optionally within one project."""
    where = f" in project {project_id[:64]}" if project_id is not None else ""
    missing = not_found(f"no lease request {request_key[:64]}{where} in your organization")
    if not PARTNER_REQUEST_ID.match(request_key):
        raise missing
    requests = lease_requests(api_key).filter(request_key=request_key)
    if project_id is not None:
        if not is_id(project_id, "prj"):
            raise missing
        requests = requests.filter(project_id=project_id)
    found = requests.first()
    if found is None:
        raise missing
    return found


def assigned_account_ids(requests: list[LeaseRequest]) -> dict[str, list[str]]:
    """Every account ever assigned to each request, released ones too, in assignment order."""
    by_request: dict[str, list[str]] = defaultdict(list)
    if not requests:
        return by_request
    rows = (
        Lease.objects.filter(request_id__in=[r.pk for r in requests])
        .order_by("assigned_at", "id")
        .values_list("request_id", "account_id")
    )
    for request_id, account_id in rows:
        if request_id is not None:
            by_request[request_id].append(account_id)
    return by_request


def project_leases(project: Project) -> QuerySet[Lease]:
    return Lease.objects.filter(project=project).select_related("account")


# What the leased-accounts items show: the account's other columns (its JSON lists of
# verticals and countries above all) are not read, so not decoded.
LEASED_ACCOUNT_FIELDS = (
    "id",
    "project_id",
    "status",
    "assigned_at",
    "next_renewal_at",
    "monthly_price_cents",
    "disconnected_at",
    "disconnected_reason",
    "account__id",
    "account__handle",
    "account__platform",
    "account__followers",
)


def organization_project_leases(api_key: ApiKey, project_id: str) -> QuerySet[Lease]:
    """The leases of one of the key's projects, without first loading the project: the
    list endpoint asks whether the project exists only when the page comes back empty."""
    return (
        # Through the project, so the planner still walks lease_project_list in order.
        Lease.objects.filter(
            project_id=project_id, project__organization_id=api_key.organization_id
        )
        .select_related("account")
        .only(*LEASED_ACCOUNT_FIELDS)
    )


def active_lease_of_account(api_key: ApiKey, account_id: str) -> Lease:
    missing = not_found(f"account {account_id[:64]} is not currently leased to your organization")
    if not is_id(account_id, "sa"):
        raise missing
    lease = Lease.objects.filter(
        account_id=account_id,
        organization_id=api_key.organization_id,
        status=Lease.Status.ASSIGNED,
    ).first()
    if lease is None:
        raise missing
    return lease

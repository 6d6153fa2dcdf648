"""No supported filter, sort or page of the dashboard and API scans the pool, request or
lease table: PostgreSQL's own plans (EXPLAIN), on generated data large enough, and
ANALYZEd, for the planner to choose as it would in production. enable_seqscan stays on.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Q
from django.test import Client

from leasing.models import ApiKey, Lease, PoolAccount, Project
from leasing.services.audit import Actor
from leasing.services.partners import api_key_issue
from tests.perf import plans

# A tenth of the default scale: big enough that reading a whole table is a real cost.
SIZES = {
    "accounts": 100_000,
    "requests": 10_000,
    "partners": 500,
    "projects": 1_000,
    "leases": 30_000,
    "ledger": 100_000,
    "api_calls_days": 2,
    "api_calls_per_day": 500,
}
DEEP_PAGE = 20


def _api_urls(client: Client) -> list[str]:
    project = (
        Project.objects.annotate(
            active=Count("leases", filter=Q(leases__status=Lease.Status.ASSIGNED))
        )
        .order_by("-active")
        .first()
    )
    assert project is not None
    _, raw = api_key_issue(
        organization=project.organization,
        actor=Actor.for_system("tests"),
        tier=ApiKey.Tier.PARTNER,
        scopes=["*"],
    )
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    base = f"/v1/projects/{project.pk}"
    return [
        f"{base}/leased-accounts",
        f"{base}/leased-accounts?status=disconnected",
        f"{base}/leased-accounts/requests",
        f"{base}/leased-accounts/requests?status=requested",
        f"{base}/social-accounts",
    ]


@pytest.mark.postgres
def test_no_supported_filter_scans_a_big_table(staff_roles):
    call_command("generate_scale_data", stdout=StringIO(), stderr=StringIO(), **SIZES)
    client = Client()
    client.force_login(get_user_model().objects.get(username="scale_ops_01"))
    fixtures = plans.scale_fixtures()
    urls = plans.dashboard_urls(**fixtures)
    for url in plans.deep_lists(**fixtures):
        link = plans.next_link(client, url, DEEP_PAGE)
        if link is not None:
            urls.append(link)
    assert sum("after=" in url for url in urls) >= 10  # deep pages were really reached

    # The check sees a scan when there is one: nothing indexes an account's notes.
    unindexed = PoolAccount.objects.filter(notes__icontains="lisbon").query
    assert plans.scanned_tables(*unindexed.sql_with_params()) == ["leasing_poolaccount"]

    found = plans.seq_scans(client, urls)
    api = Client()
    found += plans.seq_scans(api, _api_urls(api))

    assert not found, "\n".join(str(scan) for scan in found)

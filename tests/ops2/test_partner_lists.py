"""The partner page shows the head of each long list; "View all" opens the paged list."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from leasing import selectors
from leasing.models import Lease, Organization, Project
from leasing.services.audit import Actor
from leasing.services.leases import lease_release
from leasing.services.requests import lease_request_close
from tests import factories
from tests.ops2.conftest import lease_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_partner() -> Organization:
    return factories.make_org("Big Leaser", balance_cents=10_000_000)


@pytest.fixture
def big_project(big_partner) -> Project:
    return factories.make_project(big_partner, "Big TikTok")


def partner_url(org: Organization) -> str:
    return reverse("ops:partner", args=[org.pk])


def leases_url(org: Organization, status: str = "active") -> str:
    return f"{reverse('ops:partner-leases', args=[org.pk])}?status={status}"


def projects_url(org: Organization) -> str:
    return reverse("ops:partner-projects", args=[org.pk])


def lease_ids(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-lease-id="(\d+)"', body)]


def section(body: str, title_id: str) -> str:
    return body.split(f'id="{title_id}"', 1)[1].split("</section>", 1)[0]


def next_link(body: str) -> str | None:
    found = re.search(r'href="([^"]+)"[^>]*rel="next"', body)
    return html.unescape(found.group(1)) if found else None


def walk(client: Client, url: str) -> tuple[list[int], int]:
    """Every lease id of the list, following Next links from `url`; and the page count."""
    seen, pages = [], 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200
        body = response.content.decode()
        seen += lease_ids(body)
        pages += 1
        next_url = next_link(body)
    return seen, pages


def end(leases: list[Lease], ops_user) -> None:
    for lease in leases:
        lease_release(
            lease=lease, actor=Actor.for_user(ops_user), reason="released_by_ops", note="paused"
        )


# ------------------------------------------------------------------ the partner page


def test_partner_page_shows_25_of_30_active_leases_and_links_to_all(
    support_client, big_partner, big_project
):
    leases = lease_accounts(big_project, 30)
    body = support_client.get(partner_url(big_partner)).content.decode()
    active = section(body, "leases-title")
    assert active.count("<tr>") - 1 == 25  # the header row is the other one
    shown = {lease.account.handle for lease in leases if f"@{lease.account.handle}<" in active}
    assert len(shown) == 25
    assert "View all 30 active leases" in active
    assert f'href="{html.escape(leases_url(big_partner))}"' in active


def test_partner_page_counts_and_links_ended_leases(
    support_client, big_partner, big_project, ops_user
):
    end(lease_accounts(big_project, 30), ops_user)
    body = support_client.get(partner_url(big_partner)).content.decode()
    ended = section(body, "ended-title")
    assert ended.count("<tr>") - 1 == 25
    assert '<span class="chip chip-muted">30</span>' in ended
    assert "View all 30 disconnected leases" in ended
    assert html.escape(leases_url(big_partner, "ended")) in ended


def test_ended_leases_are_counted_up_to_a_cap(
    support_client, big_partner, big_project, ops_user, monkeypatch
):
    monkeypatch.setattr(selectors, "ENDED_LEASES_COUNTED", 20)
    end(lease_accounts(big_project, 21), ops_user)
    ended = section(support_client.get(partner_url(big_partner)).content.decode(), "ended-title")
    assert '<span class="chip chip-muted">20+</span>' in ended


def test_a_short_list_has_no_view_all_link(support_client, partner, project):
    lease_accounts(project, 2)
    body = support_client.get(partner_url(partner)).content.decode()
    assert "View all" not in body


def test_partner_page_shows_the_first_projects_by_name_and_links_to_all(
    support_client, big_partner
):
    for i in range(30):
        factories.make_project(big_partner, f"Project {i:02d}")
    projects = section(support_client.get(partner_url(big_partner)).content.decode(), "projects")
    assert projects.count('<li id="project-') == 25
    assert "Project 00" in projects
    assert "Project 24" in projects
    assert "Project 25" not in projects
    assert '<span class="chip chip-muted">30</span>' in projects
    assert "View all 30 projects" in projects
    assert f'href="{projects_url(big_partner)}"' in projects


def test_partner_page_query_budget_does_not_grow_with_long_lists(
    support_client, big_partner, big_project, ops_user, django_assert_num_queries
):
    end(lease_accounts(big_project, 30)[:10], ops_user)
    for i in range(30):
        factories.make_project(big_partner, f"Project {i:02d}")
    # session, user, perms with the role's groups, partner row with its counts, projects,
    # active and ended leases (one query), requests, api calls, ledger, keys, burn and
    # renewals
    with django_assert_num_queries(11):
        support_client.get(partner_url(big_partner))


# ------------------------------------------------------------------ the lease list


def test_lease_list_pages_reach_every_active_lease_once_in_renewal_order(
    support_client, big_partner, big_project, monkeypatch
):
    monkeypatch.setattr(selectors, "PARTNER_LIST_PAGE_SIZE", 7)
    lease_accounts(big_project, 30)  # all renew at the same moment: the id breaks ties
    seen, pages = walk(support_client, leases_url(big_partner))
    expected = list(
        Lease.objects.filter(organization=big_partner, status="assigned")
        .order_by("next_renewal_at", "id")
        .values_list("id", flat=True)
    )
    assert seen == expected
    assert pages == 5


def test_lease_list_pages_reach_every_ended_lease_once_latest_first(
    support_client, big_partner, big_project, ops_user, monkeypatch
):
    monkeypatch.setattr(selectors, "PARTNER_LIST_PAGE_SIZE", 4)
    leases = lease_accounts(big_project, 13)
    end(leases[:10], ops_user)
    seen, pages = walk(support_client, leases_url(big_partner, "ended"))
    expected = list(
        Lease.objects.filter(organization=big_partner, status="disconnected")
        .order_by("-disconnected_at", "-id")
        .values_list("id", flat=True)
    )
    assert seen == expected
    assert len(set(seen)) == 10
    assert pages == 3


def test_next_links_carry_a_cursor_and_previous_goes_back(
    support_client, big_partner, big_project, monkeypatch
):
    monkeypatch.setattr(selectors, "PARTNER_LIST_PAGE_SIZE", 10)
    lease_accounts(big_project, 25)
    first = support_client.get(leases_url(big_partner)).content.decode()
    second_url = next_link(first)
    assert second_url is not None
    assert "page=2" in second_url
    assert "after=" in second_url
    second = support_client.get(second_url).content.decode()
    previous = re.search(r'href="([^"]+)"[^>]*rel="prev"', second)
    assert previous is not None
    back = support_client.get(html.unescape(previous.group(1))).content.decode()
    assert lease_ids(back) == lease_ids(first)


def test_lease_list_shows_titles_breadcrumbs_and_tabs(support_client, big_partner, big_project):
    lease_accounts(big_project, 3)
    body = support_client.get(leases_url(big_partner)).content.decode()
    assert "<title>Active leases · Big Leaser · Lease Desk</title>" in body
    crumbs = body.split('class="crumbs"', 1)[1].split("</div>", 1)[0]
    assert f'href="{partner_url(big_partner)}"' in crumbs
    assert "Big Leaser" in crumbs
    assert 'aria-current="page">Active<span class="tab-count">3</span>' in body
    assert len(lease_ids(body)) == 3


def test_lease_list_empty_states(support_client, big_partner):
    active = support_client.get(leases_url(big_partner)).content.decode()
    assert "No active leases." in active
    ended = support_client.get(leases_url(big_partner, "ended")).content.decode()
    assert "No ended leases." in ended


def test_lease_list_shows_only_this_partners_leases(
    support_client, big_partner, big_project, other_project
):
    mine = lease_accounts(big_project, 2)
    lease_accounts(other_project, 2)
    body = support_client.get(leases_url(big_partner)).content.decode()
    assert sorted(lease_ids(body)) == sorted(lease.pk for lease in mine)


def test_lease_list_htmx_gets_only_the_table(
    support_client, big_partner, big_project, htmx_headers
):
    lease_accounts(big_project, 2)
    response = support_client.get(leases_url(big_partner), headers=htmx_headers("lease-list"))
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="lease-list">')
    assert "<html" not in body
    assert len(lease_ids(body)) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=paused", "Select a valid choice"),
        ("page=0", "greater than or equal to 1"),
        ("page=abc", "Enter a whole number"),
    ],
)
def test_bad_list_input_is_shown_not_ignored(
    support_client, big_partner, big_project, query, message
):
    lease_accounts(big_project, 2)
    url = f"{reverse('ops:partner-leases', args=[big_partner.pk])}?{query}"
    response = support_client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "could not be used" in body
    assert message in body


def test_a_bad_status_lists_nothing(support_client, big_partner, big_project):
    lease_accounts(big_project, 2)
    body = support_client.get(leases_url(big_partner, "paused")).content.decode()
    assert lease_ids(body) == []


def test_a_cursor_that_is_not_ours_falls_back_to_the_page_number(
    support_client, big_partner, big_project, monkeypatch
):
    monkeypatch.setattr(selectors, "PARTNER_LIST_PAGE_SIZE", 5)
    lease_accounts(big_project, 12)
    by_number = support_client.get(f"{leases_url(big_partner)}&page=2").content.decode()
    tampered = support_client.get(f"{leases_url(big_partner)}&page=2&after=%%%").content.decode()
    assert lease_ids(tampered) == lease_ids(by_number)
    assert len(lease_ids(by_number)) == 5


@pytest.mark.parametrize("leases", [3, 12])
def test_lease_list_query_budget_does_not_grow_with_rows(
    support_client, big_partner, big_project, leases, django_assert_num_queries
):
    lease_accounts(big_project, leases)
    # session, user, perms with the role's groups, partner row with its counts, the page of
    # leases
    with django_assert_num_queries(5):
        support_client.get(leases_url(big_partner))


# ------------------------------------------------------------------ the project list


def test_project_list_pages_reach_every_project_once_by_name(
    support_client, big_partner, big_project, monkeypatch
):
    monkeypatch.setattr(selectors, "PARTNER_LIST_PAGE_SIZE", 4)
    for i in range(9):
        factories.make_project(big_partner, f"Project {i:02d}")
    lease_accounts(big_project, 2)
    seen: list[str] = []
    next_url: str | None = projects_url(big_partner)
    while next_url:
        body = support_client.get(next_url).content.decode()
        seen += re.findall(r'<tr id="project-([^"]+)"', body)
        next_url = next_link(body)
    expected = list(
        Project.objects.filter(organization=big_partner)
        .order_by("name", "id")
        .values_list("id", flat=True)
    )
    assert seen == expected
    first = support_client.get(projects_url(big_partner)).content.decode()
    row = first.split(f'id="project-{big_project.pk}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">2</td>' in row  # its two active leases
    assert "<title>Projects · Big Leaser · Lease Desk</title>" in first


def test_project_list_empty_state(support_client, big_partner):
    assert "No projects." in support_client.get(projects_url(big_partner)).content.decode()


@pytest.mark.parametrize("projects", [2, 9])
def test_project_list_query_budget_does_not_grow_with_rows(
    support_client, big_partner, projects, django_assert_num_queries
):
    for _ in range(projects):
        factories.make_project(big_partner)
    # session, user, perms with the role's groups, partner row with its counts, the page of
    # projects
    with django_assert_num_queries(5):
        support_client.get(projects_url(big_partner))


# ------------------------------------------------------------------ who may see them


@pytest.mark.parametrize("url_of", [leases_url, projects_url])
def test_lists_are_for_every_dashboard_role_and_get_only(
    url_of, big_partner, anonymous, support_client, ops_client, finance_client
):
    url = url_of(big_partner)
    for client in (support_client, ops_client, finance_client):
        assert client.get(url).status_code == 200
    response = anonymous.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert support_client.post(url).status_code == 405


@pytest.mark.parametrize("url_of", [leases_url, projects_url])
def test_staff_without_the_dashboard_role_gets_403(url_of, big_partner):
    client = Client()
    client.force_login(get_user_model().objects.create_user("no_role", password="x-Pass-w0rd!"))
    assert client.get(url_of(big_partner)).status_code == 403


@pytest.mark.parametrize("name", ["ops:partner-leases", "ops:partner-projects"])
def test_unknown_partner_is_404(support_client, name):
    url = reverse(name, args=["org_01ARZ3NDEKTSV4RRFFQ69G5FAV"])
    assert support_client.get(url).status_code == 404


def test_partner_page_projects_are_the_first_rows_of_the_projects_list(monkeypatch):
    """The partner page writes its short project list in SQL of its own; it must say what
    the paged list (partner_project_rows) says: names, order and counts alike."""
    monkeypatch.setattr(selectors, "PARTNER_PROJECTS_SHOWN", 3)
    org = factories.make_org("Many Projects", balance_cents=1_500_000)
    factories.make_request(factories.make_project(factories.make_org("Someone Else")))
    projects = {name: factories.make_project(org, name) for name in ("b", "a", "c", "e", "d")}
    lease_accounts(projects["b"], 2)
    lease_accounts(projects["a"], 1)
    factories.make_request(projects["a"])
    factories.make_request(projects["c"], count=2)
    closed = factories.make_request(projects["b"])
    lease_request_close(request=closed, outcome="rejected", note="no", actor=factories.SYSTEM)

    page = selectors.PartnerPage(organization=org, calls=None)  # type: ignore[arg-type]
    shown = [(p.id, p.name, p.active_leases, p.open_requests) for p in page.projects]
    expected = [
        (p.pk, p.name, p.active_leases, p.open_requests)  # type: ignore[attr-defined]
        for p in selectors.partner_project_rows(org)[:3]
    ]
    assert shown == expected
    # a: 1 lease, its request fully assigned, one more open; b: 2 leases, its other
    # request rejected; c: nothing leased, one open request.
    assert [row[1:] for row in shown] == [("a", 1, 1), ("b", 2, 0), ("c", 0, 1)]

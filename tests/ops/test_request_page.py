from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from leasing.models import Lease, RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.leases import lease_release
from leasing.services.requests import lease_request_claim, request_note_add
from tests import factories

pytestmark = pytest.mark.django_db


def page_url(req) -> str:
    return reverse("ops:request", args=[req.pk])


def candidate_handles(body: str) -> list[str]:
    section = body.split('id="candidates"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<span class="cell-main">@([\w.]+)</span>', section)


def test_anonymous_is_redirected_to_login(anonymous, project):
    req = factories.make_request(project)
    response = anonymous.get(page_url(req))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/requests/")


def test_unknown_request_is_404(ops_client):
    assert ops_client.get("/requests/lreq_nope/").status_code == 404


def test_request_page_is_get_only(ops_client, project):
    req = factories.make_request(project)
    assert ops_client.post(page_url(req)).status_code == 405


def test_page_shows_the_request_and_the_partner_wallet(ops_client, ops_user, project):
    # Brewline: $1,500.00 in the wallet at $150.00 per account.
    req = factories.make_request(
        project,
        count=3,
        target="cold brew launch",
        note="Please prefer US accounts",
        audience="home baristas",
    )
    other_req = factories.make_request(project, count=2)
    accounts_assign(
        request=other_req,
        account_ids=[factories.make_account().pk, factories.make_account().pk],
        actor=Actor.for_user(ops_user),
    )

    body = ops_client.get(page_url(req)).content.decode()

    assert "Brewline Coffee" in body
    assert "Brewline TikTok" in body
    assert "cold brew launch" in body
    assert "Please prefer US accounts" in body
    assert "home baristas" in body
    assert "$1,200.00" in body  # balance after two charges
    assert "$150.00" in body  # price per account
    assert "Monthly burn · 2 active" in body
    assert "$300.00" in body  # burn
    assert "8 accounts" in body  # the wallet covers 8 more


def test_timeline_merges_events_notes_and_charges_newest_first(ops_client, ops_user, project):
    actor = Actor.for_user(ops_user)
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:
        req = factories.make_request(project, count=2)
        clock.shift(timedelta(minutes=1))
        lease_request_claim(request=req, actor=actor)
        clock.shift(timedelta(minutes=1))
        request_note_add(request=req, body="checking the pool", actor=actor)
        clock.shift(timedelta(minutes=1))
        account = factories.make_account("brew_daily")
        (lease,) = accounts_assign(request=req, account_ids=[account.pk], actor=actor)
        clock.shift(timedelta(minutes=1))
        lease_release(lease=lease, reason=Lease.Reason.RELEASED_BY_OPS, note="banned", actor=actor)
        clock.shift(timedelta(minutes=1))
        request_note_add(request=req, body="told them", visibility="partner", actor=actor)

    body = ops_client.get(page_url(req)).content.decode()
    timeline = body.split('class="timeline"', 1)[1]
    titles = re.findall(r'<span class="tl-title">([^<]+)</span>', timeline)

    assert titles == [
        "Partner-visible note",
        "@brew_daily released: released by ops",
        "1 account assigned",
        "Charge for @brew_daily",
        "Internal note",
        "Claimed",
        "Request received",
    ]
    assert "Partner sees this" in timeline
    assert "olive_ops ·" in timeline
    assert "$150.00 charged · wallet $1,350.00 after" in timeline


def test_candidates_show_chips_for_each_criterion(ops_client, project):
    req = factories.make_request(project, language="en", geo=["US", "CA"])
    factories.make_account("best_fit", countries=["US", "CA"], followers=5000)
    factories.make_account("half_fit", countries=["US"], followers=9000)

    body = ops_client.get(page_url(req)).content.decode()

    assert candidate_handles(body) == ["best_fit", "half_fit"]
    assert "coffee ✓" in body
    assert "en ✓" in body
    assert "countries 2 of 2" in body
    assert "countries 1 of 2" in body
    assert "Fill best 2" in body


def test_candidates_default_to_the_request_language_and_widen_on_demand(
    ops_client, project, htmx_headers
):
    req = factories.make_request(project, language="en", geo=["US"])
    factories.make_account("english", language="en")
    factories.make_account("french", language="fr")
    factories.make_account("tea_en", verticals=["tea"], language="en")
    factories.make_account("in_de", language="en", countries=["DE"])

    default = ops_client.get(page_url(req)).content.decode()
    any_language = ops_client.get(page_url(req), {"vertical": "coffee", "any_language": "on"})
    any_vertical = ops_client.get(page_url(req), {"vertical": ""})
    in_germany = ops_client.get(page_url(req), {"vertical": "coffee", "country": "de"})

    assert sorted(candidate_handles(default)) == ["english", "in_de"]
    assert sorted(candidate_handles(any_language.content.decode())) == [
        "english",
        "french",
        "in_de",
    ]
    assert "tea_en" in candidate_handles(any_vertical.content.decode())
    assert "coffee ✗" in any_vertical.content.decode()
    assert candidate_handles(in_germany.content.decode()) == ["in_de"]
    assert "widened search" in in_germany.content.decode()


def test_bad_candidate_search_says_why(ops_client, project):
    req = factories.make_request(project)
    body = ops_client.get(page_url(req), {"country": "ZZ"}).content.decode()
    assert "is not a two-letter country code" in body


def test_htmx_candidate_search_gets_only_the_candidates(ops_client, project, htmx_headers):
    req = factories.make_request(project)
    factories.make_account("english")
    response = ops_client.get(
        page_url(req), {"vertical": "coffee"}, headers=htmx_headers("candidates")
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="candidates"')
    assert "<html" not in body
    assert "@english" in body
    assert "Notes and timeline" not in body


def test_htmx_timeline_gets_only_the_timeline(ops_client, project, htmx_headers):
    req = factories.make_request(project)
    body = ops_client.get(page_url(req), headers=htmx_headers("timeline")).content.decode()
    assert body.lstrip().startswith('<section id="timeline"')
    assert "Candidates" not in body


def test_support_sees_everything_but_no_actions(support_client, ops_user, project):
    req = factories.make_request(project, count=3)
    factories.make_account("spare")
    (lease,) = accounts_assign(
        request=req,
        account_ids=[factories.make_account("given").pk],
        actor=Actor.for_user(ops_user),
    )

    body = support_client.get(page_url(req)).content.decode()

    assert "@spare" in body  # candidates are visible
    assert "@given" in body  # and what was assigned
    assert "Partner wallet" in body
    for action in (
        reverse("ops:request-claim", args=[req.pk]),
        reverse("ops:request-unclaim", args=[req.pk]),
        reverse("ops:request-assign-preview", args=[req.pk]),
        reverse("ops:request-close", args=[req.pk]),
        reverse("ops:lease-release", args=[lease.pk]),
    ):
        assert action not in body
    assert 'name="account"' not in body
    assert "Fill best" not in body
    assert 'value="partner"' not in body
    # Support may add internal notes.
    assert reverse("ops:request-note", args=[req.pk]) in body
    assert "Internal note: only staff see it." in body


def test_ops_sees_claim_assign_close_and_release(ops_client, ops_user, project):
    req = factories.make_request(project, count=3)
    factories.make_account("spare")
    (lease,) = accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    body = ops_client.get(page_url(req)).content.decode()
    assert reverse("ops:request-claim", args=[req.pk]) in body
    assert reverse("ops:request-assign-preview", args=[req.pk]) in body
    assert reverse("ops:request-close", args=[req.pk]) in body
    assert reverse("ops:lease-release", args=[lease.pk]) in body
    assert "Close as partial (1 of 3)" in body
    assert 'value="partner"' in body


def test_closed_request_has_no_candidates_or_close_panel(ops_client, ops_user, project):
    req = factories.make_request(project, count=1)
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    body = ops_client.get(page_url(req)).content.decode()
    assert 'id="candidates"' not in body
    assert reverse("ops:request-close", args=[req.pk]) not in body
    assert "status-assigned" in body


def _busy_request(project, ops_user, *, leases: int, notes: int, pool: int):
    req = factories.make_request(project, count=leases + 2)
    actor = Actor.for_user(ops_user)
    lease_request_claim(request=req, actor=actor)
    for i in range(notes):
        request_note_add(
            request=req,
            body=f"note {i}",
            visibility=RequestNote.Visibility.PARTNER if i % 2 else "internal",
            actor=actor,
        )
    accounts = [factories.make_account() for _ in range(leases + pool)]
    accounts_assign(request=req, account_ids=[a.pk for a in accounts[:leases]], actor=actor)
    return req


# session, user, permissions and the role's groups (one query), the request, its
# candidates, its leases, the partner's burn, then the timeline's notes, audit events and
# charges.
REQUEST_PAGE_QUERIES = 10


@pytest.mark.parametrize(("leases", "notes", "pool"), [(1, 1, 1), (6, 8, 12)])
def test_request_page_query_budget_does_not_grow_with_rows(
    ops_client, ops_user, project, leases, notes, pool, django_assert_num_queries
):
    req = _busy_request(project, ops_user, leases=leases, notes=notes, pool=pool)
    with django_assert_num_queries(REQUEST_PAGE_QUERIES):
        response = ops_client.get(page_url(req))
    assert response.status_code == 200
    assert len(candidate_handles(response.content.decode())) == pool


def test_timeline_fragment_runs_only_the_timeline_queries(
    ops_client, ops_user, project, htmx_headers, django_assert_num_queries
):
    req = _busy_request(project, ops_user, leases=3, notes=3, pool=3)
    # session, user, permissions, the request, leases, notes, audit events, charges
    with django_assert_num_queries(8):
        ops_client.get(page_url(req), headers=htmx_headers("timeline"))

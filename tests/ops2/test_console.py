"""Renewals board, audit log and the header search."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from leasing import selectors
from leasing.models import AuditEvent
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run, wallet_adjust
from tests import factories
from tests.ops2.conftest import lease_accounts, log_call

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ renewals


def test_renewals_by_day_flag_wallets_that_will_not_cover(support_client, project, other_project):
    lease_accounts(project, 2)  # Brewline: $1,200 left, $300 renewing in a month
    lease_accounts(other_project, 3)  # Rival: $1,050 left, $450 renewing
    wallet_adjust(
        organization=project.organization, amount_cents=-100_000, memo="x", actor=factories.SYSTEM
    )  # Brewline now $200: $100 short
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        body = support_client.get("/renewals/").content.decode()
    uncovered = body.split('id="uncovered-title"', 1)[1].split("</section>", 1)[0]
    assert "Brewline Coffee" in uncovered
    assert "$100.00" in uncovered
    assert "Rival Fitness" not in uncovered
    by_day = body.split('id="days-title"', 1)[1].split("</section>", 1)[0]
    assert "$750.00" in by_day  # both partners renew the same day
    assert 'class="row-error"' in by_day
    assert "Partners not covered" in body


def test_recent_renewal_charges_and_failures(support_client, project, other_project):
    lease_accounts(project, 1)
    (failing,) = lease_accounts(other_project, 1)
    wallet_adjust(
        organization=other_project.organization,
        amount_cents=-135_000,
        memo="x",
        actor=factories.SYSTEM,
    )
    renewals_run(now=timezone.now() + timedelta(days=32))
    body = support_client.get("/renewals/").content.decode()
    charges = body.split('id="charges-title"', 1)[1].split("</section>", 1)[0]
    assert "Brewline Coffee" in charges
    assert "-$150.00" in charges
    failures = body.split('id="failures-title"', 1)[1].split("</section>", 1)[0]
    assert "Rival Fitness" in failures
    assert f"@{failing.account.handle}" in failures


def test_renewals_query_budget(support_client, project, django_assert_num_queries):
    lease_accounts(project, 5)
    # session, user, perms with the role's groups, renewals per day and partner, charges,
    # failures
    with django_assert_num_queries(6):
        support_client.get("/renewals/")


def partners_renewing_together(sizes: list[int], *, short: set[int]) -> list[str]:
    """Partners P0, P1, ... leasing sizes[i] accounts each at the same moment (so they
    renew the same day); those in `short` keep less than one renewal in their wallet."""
    names = []
    with time_machine.travel(datetime(2026, 3, 2, 12, tzinfo=UTC), tick=False):
        for i, size in enumerate(sizes):
            # $150 a lease: the assignment, then the first renewal with $150 to spare.
            org = factories.make_org(f"P{i}", balance_cents=(2 * size + 1) * 15_000)
            lease_accounts(factories.make_project(org), size)
            if i in short:
                wallet_adjust(
                    organization=org,
                    amount_cents=-(size * 15_000 + 1_000),
                    memo="x",
                    actor=factories.SYSTEM,
                )
            names.append(org.name)
    return names


def day_row(body: str) -> str:
    by_day = body.split('id="days-title"', 1)[1].split("</section>", 1)[0]
    rows: list[str] = re.findall(r"<tr class=\"row-error\">.*?</tr>", by_day, re.S)
    assert len(rows) == 1
    return rows[0]


def test_renewals_day_names_five_partners_uncovered_first_then_how_many_more(support_client):
    # P0 is short and renews the least; P6 renews the most.
    partners_renewing_together([1, 2, 3, 4, 5, 6, 7], short={0})
    with time_machine.travel(datetime(2026, 3, 20, tzinfo=UTC)):
        row = day_row(support_client.get("/renewals/").content.decode())
    named = re.findall(r'href="/partners/[^"]+/"[^>]*>(P\d)</a>', row)
    assert named == ["P0", "P6", "P5", "P4", "P3"]
    assert 'class="text-danger" title="Not covered">P0<' in row
    assert "and 2 more" in row
    assert ">28<" in row  # the day still counts every partner's leases


def test_renewals_lists_a_limited_number_of_short_wallets(support_client, monkeypatch):
    monkeypatch.setattr(selectors, "UNCOVERED_SHOWN", 2)
    partners_renewing_together([1, 1, 1, 1], short={0, 1, 2})
    with time_machine.travel(datetime(2026, 3, 20, tzinfo=UTC)):
        body = support_client.get("/renewals/").content.decode()
    uncovered = body.split('id="uncovered-title"', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r'class="cell-main" href="/partners/', uncovered)) == 2
    assert "1 more partner short later in the window." in uncovered
    assert "Every renewal due (CSV)" not in uncovered  # support may not export
    assert 'Partners not covered</div><div class="stat-value is-low">3<' in body


def test_renewals_lists_the_latest_charges_and_failures_and_links_to_the_rest(
    support_client, ops_client, project, other_project, monkeypatch
):
    monkeypatch.setattr(selectors, "RECENT_RENEWALS_SHOWN", 2)
    lease_accounts(project, 3)  # Brewline: $1,050 left, $450 renewing: three charges
    lease_accounts(other_project, 3)
    wallet_adjust(
        organization=other_project.organization,
        amount_cents=-105_000,
        memo="x",
        actor=factories.SYSTEM,
    )  # Rival: nothing left, three failures
    renewals_run(now=timezone.now() + timedelta(days=32))
    body = support_client.get("/renewals/").content.decode()
    charges = body.split('id="charges-title"', 1)[1].split("</section>", 1)[0]
    assert charges.count("-$150.00") == 2
    more = charges.split("data-charges-more>", 1)[1].split("</p>", 1)[0]
    assert "The latest 2." in more
    assert 'href="/audit/?action=lease.renew"' in more
    assert "ledger.csv" not in more  # support may not export
    failures = body.split('id="failures-title"', 1)[1].split("</section>", 1)[0]
    assert failures.count("Rival Fitness") == 2
    assert 'href="/audit/?action=lease.disconnect"' in failures.split("data-failures-more>")[1]
    charges = ops_client.get("/renewals/").content.decode().split('id="charges-title"', 1)[1]
    assert 'href="/reports/ledger.csv?kind=renewal_charge"' in charges.split("</section>")[0]


def test_renewals_shows_every_charge_without_a_link_when_there_are_few(support_client, project):
    lease_accounts(project, 2)
    renewals_run(now=timezone.now() + timedelta(days=32))
    body = support_client.get("/renewals/").content.decode()
    assert body.count("-$150.00") == 2
    assert "data-charges-more" not in body
    assert "data-failures-more" not in body


def test_renewals_folds_overdue_days_into_one_row(support_client, project):
    for day in (2, 4, 6):
        with time_machine.travel(datetime(2026, 3, day, 12, tzinfo=UTC), tick=False):
            lease_accounts(project, 1)  # renews Apr 2, Apr 4 and Apr 6
    # The renewal job has not run since Apr 1: Apr 2 and Apr 4 are overdue.
    with time_machine.travel(datetime(2026, 4, 5, 9, tzinfo=UTC)):
        body = support_client.get("/renewals/").content.decode()
    by_day = body.split('id="days-title"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr[^>]*>\s*<td class=\"nowrap\">(.*?)</td>", by_day, re.S)
    assert rows == [
        'Thu Apr 2 \u2013 Sat Apr 4 <span class="chip chip-warn">overdue</span>',
        "Mon Apr 6",
    ]
    overdue = by_day.split("Sat Apr 4", 1)[1].split("</tr>", 1)[0]
    assert ">2<" in overdue  # both overdue leases
    assert overdue.count("Brewline Coffee") == 1  # the partner once, summed
    assert "$300.00" in overdue


def test_renewals_window_ends_with_the_whole_of_its_last_day(support_client, project):
    with time_machine.travel(datetime(2026, 3, 2, 12, tzinfo=UTC), tick=False):
        lease_accounts(project, 1)  # renews Apr 2 at noon
    with time_machine.travel(datetime(2026, 3, 2, 23, tzinfo=UTC)):
        body = support_client.get("/renewals/").content.decode()
    assert "Nothing renews in the next 30 days" in body  # the window ends on Apr 1
    with time_machine.travel(datetime(2026, 3, 3, 6, tzinfo=UTC)):
        body = support_client.get("/renewals/").content.decode()
    assert "Thu Apr 2" in body  # in the window, though due after the window's 06:00 end


def test_renewals_is_get_only_and_needs_login(support_client, anonymous):
    assert support_client.post("/renewals/").status_code == 405
    assert anonymous.get("/renewals/").status_code == 302


# ------------------------------------------------------------------ audit log


def audit_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-audit-id="(\d+)"', response.content.decode())]


def test_audit_log_filters_by_actor_action_object_and_date(support_client, finance_user, partner):
    actor = Actor.for_user(finance_user)
    wallet_adjust(organization=partner, amount_cents=-1_000, memo="fee", actor=actor)
    mine = AuditEvent.objects.get(action="wallet.adjustment")
    old = AuditEvent.objects.filter(action="wallet.top_up").get()
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    assert audit_ids(support_client.get("/audit/", {"actor": finance_user.pk})) == [mine.pk]
    assert audit_ids(support_client.get("/audit/", {"action": "wallet.adjustment"})) == [mine.pk]
    by_object = support_client.get(
        "/audit/", {"object_type": "organization", "object_id": partner.pk}
    )
    assert mine.pk in audit_ids(by_object)
    assert old.pk in audit_ids(by_object)
    today = timezone.now().date()
    recent = audit_ids(support_client.get("/audit/", {"since": str(today - timedelta(days=1))}))
    assert mine.pk in recent
    assert old.pk not in recent
    older = audit_ids(support_client.get("/audit/", {"until": str(today - timedelta(days=5))}))
    assert older == [old.pk]


def test_audit_log_rejects_a_backwards_date_range(support_client):
    body = support_client.get(
        "/audit/", {"since": "2026-05-02", "until": "2026-05-01"}
    ).content.decode()
    assert "must be on or after the start date" in body


def test_audit_rows_link_to_their_objects(support_client, partner):
    body = support_client.get("/audit/", {"action": "wallet.top_up"}).content.decode()
    assert f'href="/partners/{partner.pk}/"' in body
    assert "Wallet top-up" in body


def test_audit_fragment_and_budget(
    support_client, partner, htmx_headers, django_assert_num_queries
):
    for _ in range(5):
        wallet_adjust(organization=partner, amount_cents=100, memo="x", actor=factories.SYSTEM)
    # session, user, perms, the page of events with their partner (no role chip, no
    # staff list for the actor filter: the fragment leaves the form out)
    with django_assert_num_queries(4):
        response = support_client.get("/audit/", headers=htmx_headers("audit-results"))
    assert response.content.decode().lstrip().startswith('<div id="audit-results">')


# ------------------------------------------------------------------ search


def test_exact_ids_jump_to_their_pages(support_client, partner, project):
    req = factories.make_request(project)
    account = factories.make_account()
    log_call(partner, "req_01HZZZZZZZZZZZZZZZZZZZZZZA", status=402, error_code="BILLING_EXHAUSTED")
    cases = {
        partner.pk: f"/partners/{partner.pk}/",
        project.pk: f"/partners/{partner.pk}/#project-{project.pk}",
        account.pk: f"/pool/{account.pk}/",
        req.pk: f"/requests/{req.pk}/",
        "req_01hzzzzzzzzzzzzzzzzzzzzzza": (
            f"/partners/{partner.pk}/?request_id=req_01HZZZZZZZZZZZZZZZZZZZZZZA#api-calls"
        ),
    }
    for query, target in cases.items():
        response = support_client.get("/search/", {"q": f"  {query} "})
        assert response.status_code == 302, query
        assert response["Location"] == target


def test_an_unknown_id_gets_the_results_page(support_client):
    response = support_client.get("/search/", {"q": "org_01ARZ3NDEKTSV4RRFFQ69G5FAV"})
    assert response.status_code == 200
    assert "Nothing matches" in response.content.decode()


def test_an_api_call_without_a_partner_is_described(support_client):
    log_call(None, "req_01HZZZZZZZZZZZZZZZZZZZZZZQ", status=401, error_code="UNAUTHENTICATED")
    response = support_client.get("/search/", {"q": "req_01HZZZZZZZZZZZZZZZZZZZZZZQ"}, follow=True)
    body = response.content.decode()
    assert "No partner is attached" in body
    assert "401 UNAUTHENTICATED" in body


def test_text_search_groups_partners_projects_handles_and_requests(
    support_client, partner, project
):
    factories.make_account("brewmaster")
    req = factories.make_request(project, request_key="BREW-77")
    body = support_client.get("/search/", {"q": "brew"}).content.decode()
    for label in ("Partners", "Projects", "Handles", "Requests"):
        assert f">{label} <span" in body
    assert "Brewline Coffee" in body
    assert "@brewmaster" in body
    assert req.request_key in body


def test_suggestions_are_an_htmx_fragment_with_the_exact_match_first(
    support_client, partner, htmx_headers
):
    response = support_client.get(
        "/search/suggest/", {"q": partner.pk.lower()}, headers=htmx_headers("search-suggest")
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="search-suggest"')
    assert body.index("suggest-exact") < body.index("Partners")
    assert f'href="/partners/{partner.pk}/"' in body


def test_empty_query_hides_the_suggestions(support_client):
    body = support_client.get("/search/suggest/", {"q": ""}).content.decode()
    assert "hidden" in body.split(">", 1)[0]


def test_search_box_is_on_every_page(support_client, partner):
    for url in ("/", "/partners/", f"/partners/{partner.pk}/", "/pool/", "/audit/"):
        assert 'id="topsearch-q"' in support_client.get(url).content.decode(), url


def test_search_needs_login(anonymous):
    assert anonymous.get("/search/suggest/", {"q": "x"}).status_code == 302

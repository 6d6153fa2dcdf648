from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leasing.models import Lease, LedgerEntry, Organization
from leasing.selectors import RENEWAL_HORIZON_DAYS
from leasing.services.audit import Actor
from leasing.services.billing import wallet_adjust
from leasing.services.requests import request_note_add
from leasing.services.totals import lease_totals_refresh, renewal_days_rebuild
from tests import factories
from tests.ops2.conftest import lease_accounts, log_call

pytestmark = pytest.mark.django_db

LIST = "/partners/"


def partner_ids(response) -> list[str]:
    return re.findall(r'data-partner-id="([^"]+)"', response.content.decode())


def partner_url(org: Organization) -> str:
    return reverse("ops:partner", args=[org.pk])


# ------------------------------------------------------------------ the list


def test_anonymous_is_redirected_to_login(anonymous):
    response = anonymous.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/partners/")


def test_partner_list_is_get_only(support_client):
    assert support_client.post(LIST).status_code == 405


def test_list_shows_burn_accounts_balance_runway_next_renewal_and_open_requests(
    support_client, partner, project
):
    # Brewline: $1,500 wallet at $150 per account; 2 leases charged $300 -> $1,200 left.
    leases = lease_accounts(project, 2)
    factories.make_request(project, count=4)
    body = support_client.get(LIST).content.decode()
    row = body.split(f'data-partner-id="{partner.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "$300.00" in row  # monthly burn: two accounts at $150
    assert ">2<" in row.replace(" ", "")  # active accounts
    assert "$1,200.00" in row  # balance
    assert "120 days" in row  # runway: 1200 / 300 * 30
    renews = leases[0].next_renewal_at
    assert renews is not None
    assert renews.strftime("%b %-d") in row
    assert "/?partner=" in row  # open requests link to the queue
    assert "At risk" not in row


def test_at_risk_view_lists_short_runway_and_uncovered_renewals(support_client, project):
    safe = factories.make_org("Safe Partner", balance_cents=900_000)
    lease_accounts(factories.make_project(safe), 1)
    # Brewline: runway 1,200 / 300 * 30 = 120 days, but the next renewal costs $300 and
    # the wallet holds $100 after an adjustment: not covered.
    lease_accounts(project, 2)
    wallet_adjust(
        organization=project.organization,
        amount_cents=-110_000,
        memo="refund of an overpayment",
        actor=factories.SYSTEM,
    )
    short = factories.make_org("Short Runway", balance_cents=30_000)
    lease_accounts(factories.make_project(short), 1)  # $150 left at $150 a month: 30 days
    response = support_client.get(LIST, {"view": "at_risk"})
    assert partner_ids(response) == [project.organization.pk]
    assert "At risk<span" in response.content.decode()


def test_sort_by_burn_puts_the_biggest_spender_first(support_client, project):
    big = factories.make_org("Big Spender", balance_cents=900_000)
    lease_accounts(factories.make_project(big), 3)
    lease_accounts(project, 1)
    idle = factories.make_org("Idle Partner")
    response = support_client.get(LIST, {"sort": "burn"})
    assert partner_ids(response) == [big.pk, project.organization.pk, idle.pk]
    reverse_order = support_client.get(LIST, {"sort": "-burn"})
    assert partner_ids(reverse_order)[0] == idle.pk


def test_search_and_status_filter(support_client, partner, other_partner):
    response = support_client.get(LIST, {"q": "rival"})
    assert partner_ids(response) == [other_partner.pk]
    response = support_client.get(LIST, {"q": partner.pk})
    assert partner_ids(response) == [partner.pk]
    response = support_client.get(LIST, {"status": "suspended"})
    assert partner_ids(response) == []


def test_a_bad_filter_is_shown_not_ignored(support_client, partner):
    response = support_client.get(LIST, {"sort": "loudest", "status": "gone"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Some filters could not be used" in body
    assert "Select a valid choice" in body
    assert partner_ids(response) == []


def test_htmx_gets_only_the_results_region(support_client, partner, htmx_headers):
    response = support_client.get(LIST, headers=htmx_headers("partners-results"))
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="partners-results">')
    assert "<html" not in body
    assert partner.pk in body


@pytest.mark.parametrize("partners", [2, 12])
def test_list_query_budget_does_not_grow_with_partners(
    support_client, partners, django_assert_num_queries
):
    for _ in range(partners):
        org = factories.make_org()
        lease_accounts(factories.make_project(org), 2)
    # session, user, permissions with the role's groups, at-risk count, the page of rows
    with django_assert_num_queries(5):
        response = support_client.get(LIST)
    assert len(partner_ids(response)) == partners


# ------------------------------------------------------------------ the partner page


def test_unknown_partner_is_404(support_client):
    assert support_client.get("/partners/org_01ARZ3NDEKTSV4RRFFQ69G5FAV/").status_code == 404


def test_partner_page_anonymous_redirect_and_get_only(anonymous, support_client, partner):
    assert anonymous.get(partner_url(partner)).status_code == 302
    assert support_client.post(partner_url(partner)).status_code == 405


def test_partner_page_answers_what_am_i_paying_for_and_when_it_renews(
    support_client, partner, project
):
    leases = lease_accounts(project, 2)
    body = support_client.get(partner_url(partner)).content.decode()
    for lease in leases:
        assert f"@{lease.account.handle}" in body
    renews = leases[0].next_renewal_at
    assert renews is not None
    assert renews.strftime("%b %-d, %Y") in body
    assert "Brewline TikTok" in body  # the project
    assert "Lease charge" in body
    assert "$1,200.00" in body
    assert "Renewals, next 30 days" in body


def test_ledger_shows_the_running_balance_newest_first(support_client, partner):
    wallet_adjust(
        organization=partner, amount_cents=-5_000, memo="goodwill fix", actor=factories.SYSTEM
    )
    body = support_client.get(partner_url(partner)).content.decode()
    ledger = body.split('id="ledger"', 1)[1]
    entries = list(LedgerEntry.objects.filter(organization=partner).order_by("-created_at", "-id"))
    positions = [ledger.index(entry.memo) for entry in entries]
    assert positions == sorted(positions)
    assert "$1,450.00" in ledger
    assert "-$50.00" in ledger


def test_disconnected_leases_show_the_reason(support_client, partner, project, ops_user):
    from leasing.services.leases import lease_release

    (lease,) = lease_accounts(project, 1)
    lease_release(
        lease=lease, actor=Actor.for_user(ops_user), reason="released_by_ops", note="creator paused"
    )
    body = support_client.get(partner_url(partner)).content.decode()
    ended = body.split('id="ended-title"', 1)[1].split("</section>", 1)[0]
    assert "Released by ops" in ended
    assert "creator paused" in ended


def test_api_calls_are_searchable_by_request_id(support_client, partner, other_partner):
    log_call(partner, "req_01HZZZZZZZZZZZZZZZZZZZZZZA", status=402, error_code="BILLING_EXHAUSTED")
    log_call(partner, "req_01HZZZZZZZZZZZZZZZZZZZZZZB")
    log_call(other_partner, "req_01HZZZZZZZZZZZZZZZZZZZZZZC", status=404, error_code="NOT_FOUND")
    body = support_client.get(partner_url(partner)).content.decode()
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZA" in body
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZB" in body
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZC" not in body  # another partner's call
    found = support_client.get(
        partner_url(partner), {"request_id": "REQ_01hzzzzzzzzzzzzzzzzzzzzzza"}
    )
    calls = found.content.decode().split('id="api-calls"', 1)[1]
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZA" in calls
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZB" not in calls
    assert "BILLING_EXHAUSTED" in calls
    assert "less than the price of one account" in calls
    errors = support_client.get(partner_url(partner), {"outcome": "errors"}).content.decode()
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZB" not in errors.split('id="api-calls"', 1)[1]


def test_api_calls_fragment_for_htmx(support_client, partner, htmx_headers):
    log_call(partner, "req_01HZZZZZZZZZZZZZZZZZZZZZZA")
    response = support_client.get(
        partner_url(partner), {"request_id": "req_01"}, headers=htmx_headers("api-calls")
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="api-calls"')
    assert "Wallet ledger" not in body
    assert "req_01HZZZZZZZZZZZZZZZZZZZZZZA" in body


def test_partner_safe_summary_leaves_internal_notes_out(support_client, partner, project, ops_user):
    req = factories.make_request(project, count=2)
    actor = Actor.for_user(ops_user)
    request_note_add(
        request=req, body="Internal: their CFO is difficult", visibility="internal", actor=actor
    )
    request_note_add(
        request=req, body="We are sourcing German accounts", visibility="partner", actor=actor
    )
    body = support_client.get(partner_url(partner)).content.decode()
    summary = body.split('id="partner-summary"', 1)[1].split("</pre>", 1)[0]
    assert "We are sourcing German accounts" in summary
    assert "CFO" not in summary
    assert req.request_key in summary
    assert "Wallet balance: $1,500.00" in summary
    assert "olive_ops" not in summary  # no staff names


def test_burn_chart_shows_twelve_months_with_a_table(support_client, partner, project):
    lease_accounts(project, 2)
    body = support_client.get(partner_url(partner)).content.decode()
    chart = body.split('id="burn-chart-title"', 1)[1].split("</figure>", 1)[0]
    assert chart.count('<rect class="bar bar-burn') == 12
    assert "$300.00" in chart  # this month's charges in a bar's tooltip
    assert "Show the numbers" in body


def test_support_sees_no_finance_or_key_actions(support_client, partner):
    body = support_client.get(partner_url(partner)).content.decode()
    assert "Top up" not in body
    assert "Change price" not in body
    assert "Issue a key" not in body
    assert "Revoke" not in body


def test_finance_sees_wallet_actions_admin_sees_key_actions(finance_client, admin_client, partner):
    factories.make_key(partner)
    finance = finance_client.get(partner_url(partner)).content.decode()
    assert "Top up" in finance
    assert "Change price" in finance
    assert "Revoke" not in finance
    admin = admin_client.get(partner_url(partner)).content.decode()
    assert "Issue a key" in admin
    assert "Revoke" in admin


def test_renewals_run_to_the_end_of_the_horizons_last_day_as_on_the_renewals_page(
    support_client, partner, project
):
    # The last day of the window counts whole, whatever the time now: a renewal late on
    # that day is listed (the renewals page's window, read from the same rollup).
    (lease,) = lease_accounts(project, 1)
    last_day = (timezone.now() + timedelta(days=RENEWAL_HORIZON_DAYS)).astimezone(UTC).date()
    Lease.objects.filter(pk=lease.pk).update(
        next_renewal_at=datetime.combine(last_day, time(23, 59), tzinfo=UTC)
    )
    lease_totals_refresh(organization_id=partner.pk)
    renewal_days_rebuild()
    body = support_client.get(partner_url(partner)).content.decode()
    renewals = body.split('id="renewals-title"', 1)[1].split("</section>", 1)[0]
    assert f"{last_day:%a %b %-d}" in renewals
    assert "$150.00" in renewals


@pytest.mark.parametrize("leases", [1, 8])
def test_partner_page_query_budget_does_not_grow_with_rows(
    support_client, partner, project, leases, django_assert_num_queries
):
    lease_accounts(project, leases)
    for i in range(leases):
        log_call(partner, f"req_01HZZZZZZZZZZZZZZZZZZZZZ{i:02d}")
        factories.make_key(partner)
    # session, user, perms with the role's groups, partner row, projects, active and ended
    # leases (one query), requests, api calls, ledger, keys, burn by month and renewals by
    # day (one query)
    with django_assert_num_queries(11):
        support_client.get(partner_url(partner))


def test_next_renewal_not_covered_is_at_risk_even_with_a_long_runway(support_client, project):
    # Four accounts assigned at once renew on the same day: $600 due, $400 in the wallet.
    org = project.organization
    lease_accounts(project, 4)  # $1,500 - $600 = $900
    wallet_adjust(organization=org, amount_cents=-50_000, memo="correction", actor=factories.SYSTEM)
    row = support_client.get(LIST, {"view": "at_risk"}).content.decode()
    assert partner_ids_from(row) == [org.pk]
    assert "20 days" in row  # runway 400 * 30 / 600: over the 14-day line
    assert "not covered" in row


def partner_ids_from(body: str) -> list[str]:
    return re.findall(r'data-partner-id="([^"]+)"', body)

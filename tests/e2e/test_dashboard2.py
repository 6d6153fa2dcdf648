"""The console beyond the queue, in a real browser: support answering a partner from the
search box, finance topping up after the preview, ops retiring a leased account, and a
filtered CSV download."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from leasing.models import ApiCallLog, Lease, LedgerEntry, PoolAccount
from leasing.services.allocation import accounts_assign
from leasing.services.requests import request_note_add
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Set E2E_SHOTS=/some/dir to keep screenshots of the steps.
SHOTS = os.environ.get("E2E_SHOTS", "")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def lease(project, n: int = 1, **account) -> list[Lease]:
    request = factories.make_request(project, count=n)
    accounts = [factories.make_account(**account) for _ in range(n)]
    return accounts_assign(
        request=request, account_ids=[a.pk for a in accounts], actor=factories.SYSTEM
    )


def test_support_answers_a_partner_from_the_search_box(signed_in, support_user, ops_user, project):
    """ "What am I paying for, when does it renew, and why did my call fail?" """
    leases = lease(project, 2, verticals=["coffee"])
    pending = factories.make_request(project, count=3)
    request_note_add(
        request=pending,
        body="Sourcing Canadian accounts this week",
        visibility="partner",
        actor=factories.SYSTEM,
    )
    request_note_add(
        request=pending,
        body="internal: partner is slow to pay",
        visibility="internal",
        actor=factories.SYSTEM,
    )
    ApiCallLog.objects.create(
        request_id="req_01HZZZZZZZZZZZZZZZZZZZZZZA",
        organization=project.organization,
        method="POST",
        path=f"/v1/projects/{project.pk}/leased-accounts/request",
        status=402,
        error_code="BILLING_EXHAUSTED",
        duration_ms=31,
        created_at=timezone.now(),
    )
    page = signed_in(support_user)

    page.fill("#topsearch-q", "brewl")
    suggestions = page.locator("#search-suggest")
    expect(suggestions).to_be_visible()
    expect(suggestions.locator(".suggest-label").first).to_have_text("Partners")
    suggestions.get_by_role("option", name=re.compile("Brewline Coffee")).first.click()
    expect(page).to_have_url(re.compile(f"/partners/{project.organization.pk}/$"))
    expect(page.locator("h1")).to_have_text("Brewline Coffee")
    shot(page, "e2e-partner")

    # What am I paying for, and when does it renew?
    active = page.locator("#leases")
    for item in leases:
        expect(active.get_by_text(f"@{item.account.handle}")).to_be_visible()
    renews = leases[0].next_renewal_at
    assert renews is not None
    renewal = renews.strftime("%b %-d, %Y")
    expect(active.get_by_text(renewal).first).to_be_visible()
    expect(page.locator(".stat", has_text="Monthly burn")).to_contain_text("$300.00")
    summary = page.locator("#partner-summary")
    expect(summary).to_contain_text("Sourcing Canadian accounts this week")
    expect(summary).not_to_contain_text("slow to pay")

    # Why did my call fail? The partner quotes the request id; paste it, press Enter.
    page.fill("#topsearch-q", "req_01hzzzzzzzzzzzzzzzzzzzzzza")
    page.press("#topsearch-q", "Enter")
    expect(page).to_have_url(re.compile(r"request_id=req_01HZZZZZZZZZZZZZZZZZZZZZZA"))
    calls = page.locator("#api-calls")
    expect(calls.locator("tbody tr")).to_have_count(1)
    expect(calls).to_contain_text("BILLING_EXHAUSTED")
    expect(calls).to_contain_text("The wallet held less than the price of one account")


def test_finance_tops_up_after_the_preview(signed_in, finance_user, partner, project):
    lease(project, 2)  # $1,200.00 left
    page = signed_in(finance_user)
    page.goto(f"/partners/{partner.pk}/")
    page.get_by_role("link", name="Top up").click()
    expect(page.locator("h1")).to_have_text("Top up the wallet")

    page.fill("input[name=amount]", "2,500")
    page.fill("input[name=memo]", "Wire INV-2041")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#wallet-preview")
    expect(preview).to_contain_text("Balance after")
    expect(preview.locator(".figure", has_text="Balance after")).to_contain_text("$3,700.00")
    expect(preview).to_contain_text("120 days")  # runway now ...
    expect(preview).to_contain_text("370 days")  # ... and after
    assert LedgerEntry.objects.filter(memo="Wire INV-2041").count() == 0  # nothing yet
    shot(page, "e2e-topup-preview")

    preview.get_by_role("button", name=re.compile(r"Confirm top-up of \+\$2,500\.00")).click()
    expect(page).to_have_url(re.compile(f"/partners/{partner.pk}/#wallet$"))
    expect(page.locator("#messages")).to_contain_text("balance is now $3,700.00")
    expect(page.locator("#ledger")).to_contain_text("Wire INV-2041")
    partner.refresh_from_db()
    assert partner.balance_cents == 370_000
    entry = LedgerEntry.objects.get(memo="Wire INV-2041")
    assert (entry.amount_cents, entry.actor_user_id) == (250_000, finance_user.pk)


def test_ops_retires_a_leased_account(signed_in, ops_user, project):
    (lease_,) = lease(project, 1)
    account = lease_.account
    page = signed_in(ops_user)
    page.goto(f"/pool/{account.pk}/")
    retire = page.locator("#retire")
    expect(retire).to_contain_text("Leased to Brewline Coffee")

    retire.locator("textarea[name=reason]").fill("Banned by TikTok on Nov 20")
    button = retire.get_by_role("button", name="Retire and disconnect Brewline Coffee")
    button.click()
    # The confirmation naming the partner is required: nothing was sent.
    expect(page).to_have_url(re.compile(f"/pool/{account.pk}/$"))
    lease_.refresh_from_db()
    assert lease_.status == "assigned"

    retire.get_by_label("Disconnect Brewline Coffee's lease (account_lost)").check()
    button.click()
    expect(page.locator("#messages")).to_contain_text("lease was disconnected (account_lost)")
    expect(page.locator(".title-row .chip")).to_have_text("Retired")
    expect(page.locator("table").first).to_contain_text("Account lost")
    lease_.refresh_from_db()
    account.refresh_from_db()
    assert (lease_.status, lease_.disconnected_reason) == ("disconnected", "account_lost")
    assert (account.state, account.retired_reason) == ("retired", "Banned by TikTok on Nov 20")


def test_download_the_pool_as_filtered(signed_in, ops_user):
    coffee = [
        factories.make_account(f"coffee.{i}", verticals=["coffee"], followers=1000 + i)
        for i in range(3)
    ]
    factories.make_account("coffee.warm", verticals=["coffee"], state="warming")
    factories.make_account("fit.one", verticals=["fitness"])
    page = signed_in(ops_user)
    page.goto("/pool/")
    page.fill("#pool-filters input[name=vertical]", "coffee")
    expect(page).to_have_url(re.compile(r"vertical=coffee"))
    page.locator("#pool-filters .pill", has_text="Ready").click()
    expect(page).to_have_url(re.compile(r"state=ready"))
    expect(page.locator("#pool-table tbody tr")).to_have_count(3)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download these as CSV").click()
    download = info.value
    assert re.match(r"lease-desk-pool-\d{4}-\d{2}-\d{2}\.csv$", download.suggested_filename)
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["handle"] for r in rows) == sorted(a.handle for a in coffee)
    assert {r["state"] for r in rows} == {"ready"}
    assert PoolAccount.objects.count() == 5

"""What an ops person does in a day, in a real browser."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Dialog, Locator, Page, expect

from leasing.models import Lease, LeaseRequest, RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.requests import lease_request_claim
from tests import factories

# The live server reads what the test commits, so the database is transactional.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def row(page: Page, lease_request: LeaseRequest) -> Locator:
    return page.locator(f'tr[data-request-id="{lease_request.pk}"]')


def request_page(page: Page, lease_request: LeaseRequest) -> None:
    page.goto(f"/requests/{lease_request.pk}/")


def test_log_in_and_land_on_the_queue(signed_in, ops_user, project):
    factories.make_request(project, request_key="BRW-1")
    page = signed_in(ops_user)
    expect(page.locator("h1")).to_have_text("Request queue")
    expect(page.locator(".user-name")).to_have_text("olive_ops")
    expect(page.locator(".role-chip")).to_have_text("Ops")
    expect(page.get_by_text("BRW-1")).to_be_visible()


def test_anonymous_visit_goes_to_login_and_back(new_context, ops_user, project):
    req = factories.make_request(project)
    page = new_context().new_page()
    page.goto(f"/requests/{req.pk}/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.fill("input[name=username]", "olive_ops")
    page.fill("input[name=password]", "a-Strong-test-passw0rd")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(f"/requests/{req.pk}/$"))


def test_filter_the_queue_then_reopen_the_shared_url(signed_in, new_context, ops_user, project):
    coffee = factories.make_request(project, vertical="coffee", submitted_at=ago(3))
    tea = factories.make_request(project, vertical="tea", submitted_at=ago(2))
    page = signed_in(ops_user)
    page.evaluate("window.noReload = true")

    page.fill("input[name=vertical]", "tea")
    expect(page).to_have_url(re.compile(r"vertical=tea"))
    expect(row(page, coffee)).to_have_count(0)
    expect(row(page, tea)).to_be_visible()
    page.select_option("#queue-filters select[name=sort]", "newest")
    expect(page).to_have_url(re.compile(r"sort=newest"))
    assert page.evaluate("window.noReload") is True  # filtered by htmx, no page load
    shared = page.url
    assert "q=" not in shared  # filters left empty stay out of the link

    # Someone else opens the link: same filters, same rows.
    colleague = signed_in(factories.make_staff("ops", "olga_ops"))
    colleague.goto(shared)
    expect(colleague.locator("input[name=vertical]")).to_have_value("tea")
    expect(colleague.locator("#queue-filters select[name=sort]")).to_have_value("newest")
    expect(row(colleague, tea)).to_be_visible()
    expect(row(colleague, coffee)).to_have_count(0)

    # Back steps through the filters, the form always matching the rows.
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"sort=newest"))
    expect(page.locator("input[name=vertical]")).to_have_value("tea")
    expect(page.locator("#queue-filters select[name=sort]")).to_have_value("oldest")
    expect(row(page, coffee)).to_have_count(0)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("input[name=vertical]")).to_have_value("")
    expect(row(page, coffee)).to_be_visible()


def test_claim_a_row_and_bulk_claim(signed_in, ops_user, project):
    single, bulk_a, bulk_b = (
        factories.make_request(project, submitted_at=ago(h)) for h in (9, 8, 7)
    )
    page = signed_in(ops_user)

    row(page, single).get_by_role("button", name="Claim").click()
    expect(row(page, single).get_by_text("Yours")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text(f"You claimed {single.request_key}")

    row(page, bulk_a).locator("input[name=ids]").check()
    row(page, bulk_b).locator("input[name=ids]").check()
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")
    page.get_by_role("button", name="Claim selected").click()
    expect(page.locator(".flash")).to_contain_text("Claimed 2 requests.")
    expect(row(page, bulk_b).get_by_text("Yours")).to_be_visible()

    claimed = LeaseRequest.objects.filter(claimed_by=ops_user).count()
    assert claimed == 3


def test_keyboard_search_move_claim_and_open(signed_in, ops_user, project):
    first = factories.make_request(project, submitted_at=ago(5))
    second = factories.make_request(project, submitted_at=ago(4))
    page = signed_in(ops_user)

    page.keyboard.press("/")
    expect(page.locator("#queue-filters input[name=q]")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(row(page, second)).to_have_class(re.compile("is-current"))
    page.keyboard.press("k")
    expect(row(page, first)).to_have_class(re.compile("is-current"))
    page.keyboard.press("c")
    expect(row(page, first).get_by_text("Yours")).to_be_visible()
    # The cursor survives the refresh of the table.
    expect(row(page, first)).to_have_class(re.compile("is-current"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/requests/{first.pk}/$"))


def test_refresh_keeps_the_selection_and_marks_new_rows(signed_in, ops_user, project):
    old = factories.make_request(project, submitted_at=ago(5))
    page = signed_in(ops_user)
    row(page, old).locator("input[name=ids]").check()

    newcomer = factories.make_request(project, submitted_at=ago(1))
    # What the 30-second poll does, without waiting 30 seconds.
    page.evaluate(
        """() => {
            const region = document.getElementById("queue-results");
            htmx.ajax("GET", region.getAttribute("hx-get"),
                      {source: region, target: region, swap: "outerHTML"});
        }"""
    )

    expect(row(page, newcomer)).to_be_visible()
    expect(row(page, newcomer).locator(".chip-new")).to_have_text("New")
    expect(row(page, old).locator(".chip-new")).to_have_count(0)
    expect(row(page, old).locator("input[name=ids]")).to_be_checked()


def test_partner_visible_note_is_added_without_reload_and_reaches_the_api(
    signed_in, ops_user, project
):
    req = factories.make_request(project, request_key="BRW-NOTE")
    _, raw_key = factories.make_key(project.organization)
    page = signed_in(ops_user)
    request_page(page, req)
    page.evaluate("window.noReload = true")

    page.fill("#note-body", "Your accounts arrive tomorrow")
    page.get_by_role("radio", name="Partner-visible").check()
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Add note").click()

    timeline = page.locator("#timeline")
    expect(timeline.locator(".tl-kind-partner .tl-body")).to_have_text(
        "Your accounts arrive tomorrow"
    )
    expect(timeline.get_by_text("Partner sees this")).to_be_visible()
    expect(page.locator("#note-body")).to_have_value("")
    assert "visible to the partner" in dialogs[0]
    assert page.evaluate("window.noReload") is True

    api = page.request.get(
        f"/v1/projects/{project.pk}/leased-accounts/requests/BRW-NOTE",
        headers={"Authorization": f"Bearer {raw_key}"},
    )
    assert api.status == 200
    assert api.json()["note"] == "Your accounts arrive tomorrow"


def test_declining_the_partner_note_confirmation_sends_nothing(signed_in, ops_user, project):
    req = factories.make_request(project)
    page = signed_in(ops_user)
    request_page(page, req)
    page.fill("#note-body", "not yet")
    page.get_by_role("radio", name="Partner-visible").check()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Add note").click()
    page.wait_for_timeout(300)
    assert not RequestNote.objects.filter(request=req).exists()


def test_assign_the_best_n_after_the_preview(signed_in, ops_user, project):
    req = factories.make_request(project, count=3, request_key="BRW-ASSIGN")
    _, raw_key = factories.make_key(project.organization)
    best = factories.make_account("best_fit", followers=90_000)
    second = factories.make_account("second_fit", followers=50_000)
    factories.make_account("third_fit", followers=10_000, language="fr")
    page = signed_in(ops_user)
    request_page(page, req)

    page.get_by_role("button", name="Fill best 2").click()
    preview = page.locator("[data-preview]")
    expect(preview).to_contain_text("Assign 2 accounts to Brewline TikTok?")
    expect(preview.locator(".figures")).to_contain_text("$300.00")  # charge
    expect(preview.locator(".figures")).to_contain_text("$1,500.00")  # wallet before
    expect(preview.locator(".figures")).to_contain_text("$1,200.00")  # wallet after
    expect(preview).to_contain_text("@best_fit")
    expect(preview).to_contain_text("@second_fit")
    assert not Lease.objects.exists()  # the preview changes nothing

    preview.get_by_role("button", name=re.compile("Confirm: assign 2")).click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Assigned 2 accounts to Brewline TikTok; charged $300.00."
    )
    expect(page.locator(".id-line")).to_contain_text("2 of 3 assigned")
    assert set(Lease.objects.values_list("account_id", flat=True)) == {best.pk, second.pk}

    api = page.request.get(
        f"/v1/projects/{project.pk}/leased-accounts/requests/BRW-ASSIGN",
        headers={"Authorization": f"Bearer {raw_key}"},
    ).json()
    assert sorted(api["assignedSocialAccountIds"]) == sorted([best.pk, second.pk])


def test_select_accounts_by_hand_up_to_the_remaining_count(signed_in, ops_user, project):
    req = factories.make_request(project, count=1)
    a = factories.make_account("pick_me", followers=10)
    b = factories.make_account("not_me", followers=20)
    page = signed_in(ops_user)
    request_page(page, req)

    page.get_by_label("Select @pick_me").check()
    expect(page.get_by_label("Select @not_me")).to_be_disabled()
    expect(page.locator("[data-selection-count]")).to_have_text("1 of 1 selected")
    page.get_by_role("button", name="Assign selected…").click()
    page.get_by_role("button", name=re.compile("Confirm: assign 1")).click()
    expect(page.locator(".chip.status-assigned").first).to_be_visible()
    assert Lease.objects.get().account_id == a.pk
    assert b.pk not in Lease.objects.values_list("account_id", flat=True)


def test_close_as_partial(signed_in, ops_user, project):
    req = factories.make_request(project, count=3)
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    page = signed_in(ops_user)
    request_page(page, req)

    page.fill("#close-note", "Only one account fits this niche for now.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close as partial (1 of 3)").click()

    expect(page.locator(".title-row .chip").first).to_have_text("Partial")
    expect(page.locator("#timeline")).to_contain_text("Only one account fits this niche")
    req.refresh_from_db()
    assert (req.status, req.assigned_count) == ("partial", 1)


def test_reject_with_a_reason(signed_in, ops_user, project):
    req = factories.make_request(project, request_key="BRW-NO")
    _, raw_key = factories.make_key(project.organization)
    page = signed_in(ops_user)
    request_page(page, req)

    page.fill("#close-note", "We have no accounts in this niche.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reject request").click()

    expect(page.locator(".title-row .chip").first).to_have_text("Rejected")
    api = page.request.get(
        "/v1/leased-accounts/requests/BRW-NO", headers={"Authorization": f"Bearer {raw_key}"}
    ).json()
    assert api["status"] == "rejected"
    assert api["note"] == "We have no accounts in this niche."


def test_release_an_account_with_a_reason(signed_in, ops_user, project):
    req = factories.make_request(project, count=2)
    (lease,) = accounts_assign(
        request=req,
        account_ids=[factories.make_account("to_release").pk],
        actor=Actor.for_user(ops_user),
    )
    page = signed_in(ops_user)
    request_page(page, req)

    page.get_by_text("Release…").click()
    page.fill(f"#release-reason-{lease.pk}", "Shadow-banned on TikTok")
    page.get_by_role("button", name="Release @to_release").click()

    expect(page.locator(".flash-success")).to_contain_text("@to_release released")
    lease.refresh_from_db()
    assert (lease.status, lease.disconnected_note) == ("disconnected", "Shadow-banned on TikTok")


def test_support_sees_no_action_buttons(signed_in, support_user, ops_user, project):
    req = factories.make_request(project, count=3)
    factories.make_account("spare")
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    page = signed_in(support_user)
    expect(page.locator(".role-chip")).to_have_text("Support")
    expect(row(page, req)).to_be_visible()
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)
    expect(page.get_by_role("button", name="Claim selected")).to_have_count(0)

    request_page(page, req)
    expect(page.get_by_text("@spare")).to_be_visible()
    for name in ("Claim", "Unclaim", "Take over", "Assign selected…", "Close as partial (1 of 3)"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Fill best"))).to_have_count(0)
    expect(page.get_by_text("Release…")).to_have_count(0)
    expect(page.get_by_role("radio", name="Partner-visible")).to_have_count(0)

    # Internal notes are support's to add.
    page.fill("#note-body", "Partner called about timing")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline .tl-kind-note .tl-body")).to_have_text(
        "Partner called about timing"
    )


def test_two_people_assign_the_same_account_and_exactly_one_wins(
    signed_in, ops_user, other_ops_user, project
):
    first = factories.make_request(project, count=1, request_key="BRW-A")
    second = factories.make_request(project, count=1, request_key="BRW-B")
    contested = factories.make_account("only_one")
    lease_request_claim(request=first, actor=Actor.for_user(ops_user))
    lease_request_claim(request=second, actor=Actor.for_user(other_ops_user))
    olive, oscar = signed_in(ops_user), signed_in(other_ops_user)
    request_page(olive, first)
    request_page(oscar, second)
    for page in (olive, oscar):
        page.get_by_role("button", name="Fill best 1").click()
        expect(page.locator("[data-preview]")).to_contain_text("@only_one")

    # Both confirm at once: submit both forms before waiting for either page.
    for page in (olive, oscar):
        page.locator("[data-confirm-assign]").evaluate(
            "button => button.form.requestSubmit(button)"
        )
    for page in (olive, oscar):
        page.wait_for_load_state()
        expect(page.locator(".flash")).to_be_visible()

    messages = [page.locator(".flash").inner_text() for page in (olive, oscar)]
    won = [m for m in messages if "Assigned 1 account" in m]
    lost = [m for m in messages if "(@only_one) is already taken by another lease" in m]
    assert len(won) == 1, messages
    assert len(lost) == 1, messages
    assert "Nothing was assigned" in lost[0]
    assert Lease.objects.filter(account=contested).count() == 1
    loser = oscar if lost[0] == messages[1] else olive
    expect(loser.locator("#candidates")).not_to_contain_text("@only_one")


def test_partner_filter_suggests_names_and_filters_the_queue(signed_in, ops_user, project):
    brew = factories.make_project(factories.make_org("Brewline Roasters"))
    theirs = factories.make_request(brew)
    ours = factories.make_request(project)
    for name in ("Brewhouse Labs", "Cold Brew Co", "Tea Time"):
        factories.make_org(name)
    page = signed_in(ops_user)
    expect(page.locator(f'tr[data-request-id="{ours.pk}"]')).to_be_visible()

    box = page.get_by_label("Partner", exact=True)
    box.fill("brew")
    # htmx fills the box's <datalist> with the names that match, prefix matches first.
    options = page.locator("#id_partner-options option")
    expect(options).to_have_count(4)
    assert options.evaluate_all("os => os.map(o => o.value)") == [
        "Brewhouse Labs",
        "Brewline Coffee",  # the `project` fixture's partner
        "Brewline Roasters",
        "Cold Brew Co",
    ]
    # Suggestions are not a page: the address stays the queue's.
    assert "/search/partners/" not in page.url
    box.fill("Brewline Roasters")
    box.press("Enter")
    expect(page.locator(f'tr[data-request-id="{ours.pk}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-request-id="{theirs.pk}"]')).to_be_visible()
    assert f"partner={brew.organization.pk}" not in page.url
    assert "partner=Brewline%20Roasters" in page.url

    # Opened from a link with the partner's id, the box shows the partner's name.
    page.goto(f"/?partner={brew.organization.pk}")
    expect(page.get_by_label("Partner", exact=True)).to_have_value("Brewline Roasters")

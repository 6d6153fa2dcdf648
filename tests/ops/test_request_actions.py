from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from leasing.models import Lease, LeaseRequest, LedgerEntry, PoolAccount, RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import wallet_adjust
from leasing.services.requests import lease_request_claim
from tests import factories
from tests.invariants import assert_invariants, snapshot

pytestmark = pytest.mark.django_db


def url(name: str, obj) -> str:
    return reverse(f"ops:{name}", args=[obj.pk])


def page_of(req) -> str:
    return reverse("ops:request", args=[req.pk])


def flash_text(response) -> str:
    area = response.content.decode().split('id="messages"', 1)[1].split("</div>\n</div>", 1)[0]
    return html.unescape(area)


# Every action URL with the permission-free way to reach it, for the shared checks.
ACTIONS = [
    "request-claim",
    "request-unclaim",
    "request-note",
    "request-assign",
    "request-close",
]


@pytest.mark.parametrize("name", ACTIONS)
def test_actions_are_post_only(ops_client, project, name):
    req = factories.make_request(project)
    assert ops_client.get(url(name, req)).status_code == 405


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_actions_are_redirected_to_login(anonymous, project, name):
    req = factories.make_request(project)
    before = snapshot()
    response = anonymous.post(url(name, req), {"body": "x", "note": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("request-claim", {}),
        ("request-unclaim", {}),
        ("request-assign", {"account": ["sa_x"]}),
        ("request-close", {"outcome": "rejected", "note": "no stock"}),
    ],
)
@pytest.mark.parametrize("role_client", ["support_client", "finance_client"])
def test_roles_without_triage_get_403_on_ops_actions(request, project, name, data, role_client):
    client = request.getfixturevalue(role_client)
    req = factories.make_request(project)
    before = snapshot()
    response = client.post(url(name, req), data)
    assert response.status_code == 403
    assert b"Your role can" in response.content
    assert snapshot() == before


def test_action_on_unknown_request_is_404(ops_client):
    assert ops_client.post("/requests/lreq_missing/claim/").status_code == 404


# ------------------------------------------------------------------ claim / unclaim


def test_admin_may_triage_too(admin_user, project):
    req = factories.make_request(project)
    client = Client()
    client.force_login(admin_user)
    client.post(url("request-claim", req))
    req.refresh_from_db()
    assert req.claimed_by_id == admin_user.pk


def test_ops_claims_a_request(ops_client, ops_user, project):
    req = factories.make_request(project)
    response = ops_client.post(url("request-claim", req))
    assert response.status_code == 303
    assert response["Location"] == page_of(req)
    req.refresh_from_db()
    assert (req.claimed_by_id, req.status) == (ops_user.pk, "in_progress")


def test_claiming_someone_elses_request_says_who_has_it(ops_client, other_ops_user, project):
    req = factories.make_request(project, request_key="BRW-7")
    lease_request_claim(request=req, actor=Actor.for_user(other_ops_user))
    response = ops_client.post(url("request-claim", req), follow=True)
    assert "BRW-7 is already claimed by oscar_ops" in flash_text(response)
    req.refresh_from_db()
    assert req.claimed_by_id == other_ops_user.pk


def test_take_over_moves_the_claim(ops_client, ops_user, other_ops_user, project):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=Actor.for_user(other_ops_user))
    ops_client.post(url("request-claim", req), {"take_over": "1"})
    req.refresh_from_db()
    assert req.claimed_by_id == ops_user.pk


def test_claim_from_the_queue_returns_to_the_filtered_queue(ops_client, project):
    req = factories.make_request(project)
    response = ops_client.post(url("request-claim", req), {"next": "/?claimed=unclaimed"})
    assert response["Location"] == "/?claimed=unclaimed"


def test_ops_unclaims(ops_client, ops_user, project):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=Actor.for_user(ops_user))
    ops_client.post(url("request-unclaim", req))
    req.refresh_from_db()
    assert (req.claimed_by_id, req.status) == (None, "requested")


# ------------------------------------------------------------------ notes


def test_internal_note_is_the_default(ops_client, ops_user, project):
    req = factories.make_request(project)
    response = ops_client.post(url("request-note", req), {"body": "  checking stock  "})
    assert response.status_code == 303
    note = RequestNote.objects.get(request=req)
    assert (note.body, note.visibility, note.author_id) == (
        "checking stock",
        "internal",
        ops_user.pk,
    )


def test_partner_visible_note(ops_client, project):
    req = factories.make_request(project)
    response = ops_client.post(
        url("request-note", req), {"body": "On it", "visibility": "partner"}, follow=True
    )
    assert "Partner-visible note added" in flash_text(response)
    assert RequestNote.objects.get(request=req).visibility == "partner"


def test_support_adds_internal_notes(support_client, support_user, project):
    req = factories.make_request(project)
    support_client.post(
        url("request-note", req), {"body": "partner called", "visibility": "internal"}
    )
    assert RequestNote.objects.get(request=req).author_id == support_user.pk


def test_support_cannot_add_a_partner_visible_note(support_client, project):
    req = factories.make_request(project)
    response = support_client.post(
        url("request-note", req), {"body": "hi", "visibility": "partner"}
    )
    assert response.status_code == 403
    assert not RequestNote.objects.exists()


def test_finance_cannot_add_notes(finance_client, project):
    req = factories.make_request(project)
    assert finance_client.post(url("request-note", req), {"body": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"body": "   "}, "Write the note first."),
        ({"body": "x" * 2001}, "at most 2000 characters"),
        ({"body": "x", "visibility": "public"}, "Select a valid choice"),
    ],
)
def test_bad_note_is_refused_with_the_reason(ops_client, project, data, message):
    req = factories.make_request(project)
    response = ops_client.post(url("request-note", req), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not RequestNote.objects.exists()


def test_htmx_note_lands_on_the_timeline_fragment(ops_client, project, htmx_headers):
    req = factories.make_request(project)
    response = ops_client.post(
        url("request-note", req),
        {"body": "fresh note"},
        headers=htmx_headers("timeline"),
        follow=True,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="timeline"')
    assert "fresh note" in body
    assert "<html" not in body


def test_htmx_bad_note_returns_the_timeline_with_the_error(ops_client, project, htmx_headers):
    req = factories.make_request(project)
    response = ops_client.post(
        url("request-note", req), {"body": ""}, headers=htmx_headers("timeline")
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="timeline"')
    assert "Write the note first." in body


# ------------------------------------------------------------------ assignment preview


def preview(client: Client, req: LeaseRequest, **params: Any) -> Any:
    return client.get(url("request-assign-preview", req), params)


def test_preview_shows_count_charge_wallet_and_renewal(ops_client, project):
    req = factories.make_request(project, count=3)
    a, b = factories.make_account("first"), factories.make_account("second")
    response = preview(ops_client, req, account=[a.pk, b.pk])
    body = response.content.decode()
    assert response.status_code == 200
    assert "Assign 2 accounts to Brewline TikTok?" in body
    assert "$300.00" in body  # charge
    assert "$1,500.00" in body  # wallet before
    assert "$1,200.00" in body  # wallet after
    assert "First renewal" in body
    assert "@first" in body
    assert "@second" in body
    assert "Confirm: assign 2 and charge $300.00" in body
    assert not Lease.objects.exists()


def test_fill_best_n_previews_the_top_ranked(ops_client, project):
    req = factories.make_request(project, count=2)
    factories.make_account("small", followers=10)
    factories.make_account("big", followers=900)
    factories.make_account("mid", followers=500)
    body = preview(ops_client, req, fill=2).content.decode()
    assert body.index("@big") < body.index("@mid")
    assert "@small" not in body
    assert body.count('name="account"') == 2


def test_fill_keeps_a_widened_search(ops_client, project):
    req = factories.make_request(project, count=1, language="en")
    factories.make_account("french", language="fr", followers=50)
    body = preview(ops_client, req, fill=1, vertical="coffee", any_language="on").content.decode()
    assert "@french" in body
    assert 'name="any_language" value="on"' in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Tick the accounts to assign, or use “Fill best”."),
        ({"fill": "9"}, "This request needs 2 more account(s); 9 chosen."),
        ({"account": ["sa_a", "sa_b", "sa_c"]}, "needs 2 more account(s); 3 chosen"),
        ({"fill": "zero"}, "Enter a whole number"),
    ],
)
def test_preview_refuses_bad_input(ops_client, project, params, message):
    req = factories.make_request(project, count=2)
    response = preview(ops_client, req, **params)
    assert response.status_code == 422
    assert message in response.content.decode()


def test_preview_of_a_closed_request_says_so(ops_client, ops_user, project):
    req = factories.make_request(project, count=1)
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    response = preview(ops_client, req, fill=1)
    assert response.status_code == 422
    assert "This request is assigned." in response.content.decode()


def test_preview_warns_when_the_wallet_cannot_cover_it(ops_client, project):
    req = factories.make_request(project, count=2)
    wallet_adjust(
        organization=project.organization, amount_cents=-140_000, memo="t", actor=factories.SYSTEM
    )
    a, b = factories.make_account(), factories.make_account()
    body = preview(ops_client, req, account=[a.pk, b.pk]).content.decode()
    assert "which covers 0 accounts at $150.00" in body
    assert "disabled" in body.split("data-confirm-assign", 1)[1].split(">", 1)[0]


def test_preview_flags_accounts_no_longer_ready(ops_client, project):
    req = factories.make_request(project, count=2)
    gone = factories.make_account("gone", state=PoolAccount.State.RETIRED)
    body = preview(ops_client, req, account=[gone.pk]).content.decode()
    assert "No longer ready: @gone (retired)" in body


def test_htmx_preview_is_only_the_panel(ops_client, project, htmx_headers):
    req = factories.make_request(project, count=1)
    factories.make_account()
    response = ops_client.get(
        url("request-assign-preview", req), {"fill": 1}, headers=htmx_headers("assign-panel")
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="assign-panel"')
    assert "<html" not in body


def test_support_cannot_preview(support_client, project):
    req = factories.make_request(project)
    assert preview(support_client, req, fill=1).status_code == 403


def test_preview_is_get_only(ops_client, project):
    req = factories.make_request(project)
    assert ops_client.post(url("request-assign-preview", req)).status_code == 405


# ------------------------------------------------------------------ assign


def test_confirm_assigns_and_charges(ops_client, ops_user, project):
    req = factories.make_request(project, count=3)
    a, b = factories.make_account("first"), factories.make_account("second")
    response = ops_client.post(url("request-assign", req), {"account": [a.pk, b.pk]}, follow=True)
    assert "Assigned 2 accounts to Brewline TikTok; charged $300.00." in flash_text(response)
    req.refresh_from_db()
    assert (req.assigned_count, req.status) == (2, "in_progress")
    assert set(Lease.objects.values_list("account_id", flat=True)) == {a.pk, b.pk}
    assert LedgerEntry.objects.filter(kind="lease_charge").count() == 2
    assert Lease.objects.filter(assigned_by=ops_user).count() == 2
    assert_invariants()


def test_confirm_when_the_account_was_taken_meanwhile_assigns_nothing(
    ops_client, other_ops_user, project
):
    mine = factories.make_request(project, count=2)
    theirs = factories.make_request(project, count=1)
    contested, spare = factories.make_account("contested"), factories.make_account("spare")
    accounts_assign(
        request=theirs, account_ids=[contested.pk], actor=Actor.for_user(other_ops_user)
    )
    before = snapshot()

    response = ops_client.post(
        url("request-assign", mine), {"account": [contested.pk, spare.pk], "vertical": "coffee"}
    )
    page = ops_client.get(response["Location"])

    assert response.status_code == 303
    assert response["Location"] == page_of(mine) + "?vertical=coffee"
    body = page.content.decode()
    assert (
        f"{contested.pk} (@contested) is already taken by another lease. Nothing was assigned: "
        "pick other accounts." in body
    )
    # The candidates are fresh: the taken account is gone, the spare one is still there.
    candidates = body.split('id="candidates"', 1)[1]
    assert "@spare" in candidates
    assert "@contested" not in candidates
    assert snapshot() == before


def test_confirm_the_wallet_cannot_cover_assigns_nothing(ops_client, project):
    # $1,500.00 in the wallet, less $1,300.00: $200.00 covers one account at $150.00.
    wallet_adjust(
        organization=project.organization, amount_cents=-130_000, memo="t", actor=factories.SYSTEM
    )
    req = factories.make_request(project, count=3)
    accounts = [factories.make_account() for _ in range(3)]
    before = snapshot()
    response = ops_client.post(
        url("request-assign", req), {"account": [a.pk for a in accounts]}, follow=True
    )
    assert (
        "Brewline Coffee's wallet holds $200.00, which covers 1 of the 3 account(s) at $150.00 "
        "each. Nothing was assigned." in flash_text(response)
    )
    assert snapshot() == before


def test_confirm_on_a_closed_request_assigns_nothing(ops_client, ops_user, project):
    req = factories.make_request(project, count=1, request_key="DONE-1")
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    spare = factories.make_account()
    before = snapshot()
    response = ops_client.post(url("request-assign", req), {"account": [spare.pk]}, follow=True)
    assert "This request needs 0 more account(s); 1 chosen." in flash_text(response)
    assert snapshot() == before


def test_confirm_without_accounts_assigns_nothing(ops_client, project):
    req = factories.make_request(project)
    before = snapshot()
    response = ops_client.post(url("request-assign", req), {"fill": "2"}, follow=True)
    assert "No accounts were chosen; nothing was assigned." in flash_text(response)
    assert snapshot() == before


# ------------------------------------------------------------------ close


def test_reject_with_a_partner_visible_reason(ops_client, project):
    req = factories.make_request(project)
    response = ops_client.post(
        url("request-close", req),
        {"outcome": "rejected", "note": "No Turkish accounts yet"},
        follow=True,
    )
    assert "rejected; the partner sees your note" in flash_text(response)
    req.refresh_from_db()
    assert req.status == "rejected"
    note = RequestNote.objects.get(request=req)
    assert (note.body, note.visibility) == ("No Turkish accounts yet", "partner")


def test_reject_needs_a_reason(ops_client, project):
    req = factories.make_request(project)
    before = snapshot()
    response = ops_client.post(url("request-close", req), {"outcome": "rejected", "note": "  "})
    assert response.status_code == 422
    assert "Tell the partner why: this note is shown to them." in response.content.decode()
    assert snapshot() == before


def test_close_as_partial_after_some_were_assigned(ops_client, ops_user, project):
    req = factories.make_request(project, count=3)
    accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    ops_client.post(url("request-close", req), {"outcome": "partial", "note": "Only one fits"})
    req.refresh_from_db()
    assert (req.status, req.assigned_count) == ("partial", 1)


def test_partial_with_nothing_assigned_is_refused_with_the_services_reason(ops_client, project):
    req = factories.make_request(project, request_key="EMPTY-1")
    before = snapshot()
    response = ops_client.post(url("request-close", req), {"outcome": "partial", "note": "hm"})
    assert response.status_code == 422
    assert (
        "request EMPTY-1 has no accounts assigned; reject it instead" in response.content.decode()
    )
    assert snapshot() == before


def test_close_with_an_unknown_outcome_is_refused(ops_client, project):
    req = factories.make_request(project)
    response = ops_client.post(url("request-close", req), {"outcome": "assigned", "note": "x"})
    assert response.status_code == 422
    assert LeaseRequest.objects.get(pk=req.pk).status == "requested"


# ------------------------------------------------------------------ release


@pytest.fixture
def lease(ops_user, project) -> Lease:
    req = factories.make_request(project, count=2)
    (lease,) = accounts_assign(
        request=req,
        account_ids=[factories.make_account("leased_one").pk],
        actor=Actor.for_user(ops_user),
    )
    return lease


def release_url(lease: Lease) -> str:
    return reverse("ops:lease-release", args=[lease.pk])


def test_ops_releases_a_lease_with_a_reason(ops_client, lease):
    response = ops_client.post(release_url(lease), {"reason": "account flagged"}, follow=True)
    assert "@leased_one released; it is back in the pool." in flash_text(response)
    lease.refresh_from_db()
    assert (lease.status, lease.disconnected_reason, lease.disconnected_note) == (
        "disconnected",
        "released_by_ops",
        "account flagged",
    )
    assert PoolAccount.objects.get(pk=lease.account_id).state == "ready"


def test_release_needs_a_reason(ops_client, lease):
    before = snapshot()
    response = ops_client.post(release_url(lease), {"reason": ""})
    assert response.status_code == 422
    assert "Say why the account is taken back." in response.content.decode()
    assert snapshot() == before


def test_releasing_twice_says_it_was_already_released(ops_client, lease):
    ops_client.post(release_url(lease), {"reason": "first"})
    response = ops_client.post(release_url(lease), {"reason": "second"}, follow=True)
    assert "was already disconnected (released by ops)" in flash_text(response)


def test_support_cannot_release(support_client, lease):
    before = snapshot()
    assert support_client.post(release_url(lease), {"reason": "x"}).status_code == 403
    assert snapshot() == before


def test_release_is_post_only(ops_client, lease):
    assert ops_client.get(release_url(lease)).status_code == 405


def test_release_of_an_unknown_lease_is_404(ops_client):
    assert ops_client.post("/leases/999999/release/", {"reason": "x"}).status_code == 404


def test_anonymous_release_is_redirected(anonymous, lease):
    response = anonymous.post(release_url(lease), {"reason": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_fill_with_no_candidates_left_says_so_and_cannot_confirm(ops_client, project):
    req = factories.make_request(project, count=2)
    body = preview(ops_client, req, fill=2).content.decode()
    assert "No ready account matches this search any more." in body
    assert "disabled" in body.split("data-confirm-assign", 1)[1].split(">", 1)[0]

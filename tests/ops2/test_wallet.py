"""Finance's top-up, adjustment and price: previews that change nothing, then commits."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leasing.models import ApiKey, AuditEvent, LedgerEntry, Organization
from leasing.services.partners import api_key_authenticate
from tests import factories
from tests.invariants import assert_invariants, snapshot
from tests.ops2.conftest import lease_accounts

pytestmark = pytest.mark.django_db


def url(name: str, org: Organization, *args: object) -> str:
    return reverse(f"ops:{name}", args=[org.pk, *args])


# ------------------------------------------------------------------ top-up


def test_top_up_preview_shows_the_effect_and_changes_nothing(finance_client, partner, project):
    lease_accounts(project, 2)  # $1,200 left, $300 a month
    before = snapshot()
    response = finance_client.get(
        url("partner-top-up-preview", partner), {"amount": "1,500.00", "memo": "Invoice 42"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "$1,200.00" in body
    assert "$2,700.00" in body
    assert "+$1,500.00" in body
    assert "120 days" in body
    assert "270 days" in body
    assert ">8<" in body.replace(" ", "")
    assert ">18<" in body.replace(" ", "")
    assert 'action="' + url("partner-top-up", partner) + '"' in body
    assert snapshot() == before


def test_top_up_preview_fragment_for_htmx(finance_client, partner, htmx_headers):
    response = finance_client.get(
        url("partner-top-up-preview", partner),
        {"amount": "10", "memo": "x"},
        headers=htmx_headers("wallet-preview"),
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="wallet-preview"')
    assert "Confirm top-up of +$10.00" in body


def test_top_up_commits_a_ledger_entry_and_audits_it(finance_client, finance_user, partner):
    response = finance_client.post(
        url("partner-top-up", partner), {"amount": "250.50", "memo": "Wire 2026-11"}
    )
    assert response.status_code == 303
    assert response["Location"] == url("partner", partner) + "#wallet"
    partner.refresh_from_db()
    assert partner.balance_cents == 175_050
    entry = LedgerEntry.objects.filter(organization=partner).latest("id")
    assert (entry.kind, entry.amount_cents, entry.memo, entry.actor_user_id) == (
        "top_up",
        25_050,
        "Wire 2026-11",
        finance_user.pk,
    )
    event = AuditEvent.objects.get(action="wallet.top_up", actor_user=finance_user)
    assert event.before == {"balance_cents": 150_000}
    assert_invariants()


def test_top_up_needs_a_memo_and_a_positive_amount(finance_client, partner):
    before = snapshot()
    response = finance_client.post(url("partner-top-up", partner), {"amount": "-5", "memo": " "})
    body = response.content.decode()
    assert response.status_code == 422
    assert "A memo is required" in body
    assert "greater than or equal to 0.01" in body
    assert snapshot() == before


def test_top_up_is_post_only(finance_client, partner):
    assert finance_client.get(url("partner-top-up", partner)).status_code == 405
    assert finance_client.post(url("partner-top-up-preview", partner)).status_code == 405


@pytest.mark.parametrize("client_name", ["support_client", "ops_client"])
def test_support_and_ops_cannot_touch_the_wallet(request, client_name, partner):
    client = request.getfixturevalue(client_name)
    before = snapshot()
    assert client.get(url("partner-top-up-preview", partner)).status_code == 403
    response = client.post(url("partner-top-up", partner), {"amount": "10", "memo": "x"})
    assert response.status_code == 403
    assert (
        client.post(url("partner-adjust", partner), {"amount": "-10", "memo": "x"}).status_code
        == 403
    )
    assert client.post(url("partner-price", partner), {"price": "99"}).status_code == 403
    assert snapshot() == before


def test_anonymous_is_sent_to_login_from_the_wallet(anonymous, partner):
    response = anonymous.post(url("partner-top-up", partner), {"amount": "10", "memo": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# ------------------------------------------------------------------ adjustment


def test_adjustment_preview_refuses_to_go_below_zero(finance_client, partner):
    response = finance_client.get(
        url("partner-adjust-preview", partner), {"amount": "-2000", "memo": "chargeback"}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "can take out at most that much" in body
    assert "Confirm adjustment" not in body


def test_adjustment_commit_below_zero_changes_nothing(finance_client, partner):
    before = snapshot()
    response = finance_client.post(
        url("partner-adjust", partner), {"amount": "-2000", "memo": "chargeback"}
    )
    assert response.status_code == 422
    assert "below zero" in response.content.decode()
    assert snapshot() == before


def test_adjustment_either_way(finance_client, partner):
    assert (
        finance_client.post(
            url("partner-adjust", partner), {"amount": "-25", "memo": "fee"}
        ).status_code
        == 303
    )
    assert (
        finance_client.post(
            url("partner-adjust", partner), {"amount": "$40.00", "memo": "credit"}
        ).status_code
        == 303
    )
    partner.refresh_from_db()
    assert partner.balance_cents == 151_500
    kinds = list(
        LedgerEntry.objects.filter(organization=partner, kind="adjustment").values_list(
            "amount_cents", flat=True
        )
    )
    assert sorted(kinds) == [-2_500, 4_000]
    assert_invariants()


def test_zero_adjustment_is_refused(finance_client, partner):
    response = finance_client.post(url("partner-adjust", partner), {"amount": "0", "memo": "x"})
    assert response.status_code == 422
    assert "changes nothing" in response.content.decode()


# ------------------------------------------------------------------ price


def test_price_preview_says_new_leases_only(finance_client, partner, project):
    lease_accounts(project, 2)
    response = finance_client.get(url("partner-price-preview", partner), {"price": "200"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "$150.00" in body
    assert "$200.00" in body
    assert "+33%" in body
    assert "Existing leases keep the price" in body
    assert "$1,000.00" in body  # five accounts at the new price
    partner.refresh_from_db()
    assert partner.monthly_price_cents == 15_000


def test_price_change_is_audited_and_applies_to_new_leases(
    finance_client, finance_user, partner, project
):
    (old_lease,) = lease_accounts(project, 1)
    response = finance_client.post(url("partner-price", partner), {"price": "175.00"})
    assert response.status_code == 303
    partner.refresh_from_db()
    assert partner.monthly_price_cents == 17_500
    event = AuditEvent.objects.get(action="organization.set_price")
    assert (event.before, event.after, event.actor_user_id) == (
        {"monthly_price_cents": 15_000},
        {"monthly_price_cents": 17_500},
        finance_user.pk,
    )
    old_lease.refresh_from_db()
    assert old_lease.monthly_price_cents == 15_000
    (new_lease,) = lease_accounts(project, 1)
    assert new_lease.monthly_price_cents == 17_500


def test_same_price_preview_is_an_error(finance_client, partner):
    response = finance_client.get(url("partner-price-preview", partner), {"price": "150"})
    assert response.status_code == 422
    assert "That is the current price" in response.content.decode()


def test_bad_price_changes_nothing(finance_client, partner):
    before = snapshot()
    response = finance_client.post(url("partner-price", partner), {"price": "abc"})
    assert response.status_code == 422
    assert "Enter a number" in response.content.decode()
    assert snapshot() == before


# ------------------------------------------------------------------ API keys


def test_admin_issues_a_key_shown_once(admin_client, partner):
    response = admin_client.post(
        url("partner-key-issue", partner),
        {"name": "staging", "scopes": ["social:read"], "tier": "pilot"},
    )
    assert response.status_code == 303
    page = admin_client.get(response["Location"])
    body = page.content.decode()
    raw = body.split('id="issued-key" class="mono">', 1)[1].split("<", 1)[0]
    key = api_key_authenticate(raw)
    assert key is not None
    assert key.organization_id == partner.pk
    assert (key.scopes, key.tier, key.name) == (["social:read"], "pilot", "staging")
    assert "no-store" in page["Cache-Control"]
    assert raw not in admin_client.get(url("partner", partner)).content.decode()
    assert ApiKey.objects.get(pk=key.pk).secret_hash != raw


def test_issued_key_travels_in_a_short_lived_cookie_not_the_session(admin_client, partner):
    from django.contrib.sessions.models import Session

    response = admin_client.post(
        url("partner-key-issue", partner), {"scopes": ["leased:write"], "tier": "standard"}
    )
    cookie = response.cookies["issued_api_key"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["max-age"] == 120
    assert cookie["path"] == url("partner", partner)
    secret_tail = ApiKey.objects.get(organization=partner, name="").display_prefix[-4:]
    for session in Session.objects.all():
        assert secret_tail not in str(session.get_decoded())
    shown = admin_client.get(response["Location"])
    assert shown.cookies["issued_api_key"].value == ""  # deleted once shown


def test_issued_key_cookie_of_another_partner_is_ignored(admin_client, partner, other_partner):
    response = admin_client.post(
        url("partner-key-issue", partner), {"scopes": ["leased:write"], "tier": "standard"}
    )
    value = response.cookies["issued_api_key"].value
    admin_client.cookies["issued_api_key"] = value
    page = admin_client.get(url("partner", other_partner))
    assert 'id="issued-key"' not in page.content.decode()


def test_key_issue_needs_a_scope(admin_client, partner):
    response = admin_client.post(url("partner-key-issue", partner), {"tier": "standard"})
    assert response.status_code == 422
    assert "Choose at least one scope" in response.content.decode()
    assert not ApiKey.objects.filter(organization=partner).exists()


def test_admin_revokes_a_key(admin_client, admin_user, partner):
    key, raw = factories.make_key(partner)
    response = admin_client.post(url("partner-key-revoke", partner, key.pk))
    assert response.status_code == 303
    key.refresh_from_db()
    assert key.revoked_by_id == admin_user.pk
    assert api_key_authenticate(raw) is None
    again = admin_client.post(url("partner-key-revoke", partner, key.pk), follow=True)
    assert "already revoked" in again.content.decode()


def test_key_of_another_partner_is_404(admin_client, partner, other_partner):
    key, _ = factories.make_key(other_partner)
    assert admin_client.post(url("partner-key-revoke", partner, key.pk)).status_code == 404


@pytest.mark.parametrize("client_name", ["support_client", "finance_client", "ops_client"])
def test_only_admin_manages_keys(request, client_name, partner):
    client = request.getfixturevalue(client_name)
    key, _ = factories.make_key(partner)
    assert client.post(url("partner-key-issue", partner), {"scopes": ["*"]}).status_code == 403
    assert client.post(url("partner-key-revoke", partner, key.pk)).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.filter(organization=partner).count() == 1


def test_finance_tops_up_but_may_not_assign_or_release(finance_client, partner, project):
    req = factories.make_request(project, count=1)
    account = factories.make_account()
    before = snapshot()
    response = finance_client.post(
        reverse("ops:request-assign", args=[req.pk]), {"account": [account.pk]}
    )
    assert response.status_code == 403
    assert snapshot() == before
    assert (
        finance_client.post(
            url("partner-top-up", partner), {"amount": "1", "memo": "x"}
        ).status_code
        == 303
    )

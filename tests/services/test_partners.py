"""Partners: onboarding, projects, status and API keys."""

from __future__ import annotations

import hashlib
import re

import pytest

from leasing import ids
from leasing.models import ApiKey, AuditEvent, LedgerEntry, Organization, Project
from leasing.services.audit import Actor
from leasing.services.errors import Conflict, InvalidState, ValidationFailed
from leasing.services.partners import (
    api_key_authenticate,
    api_key_issue,
    api_key_revoke,
    organization_onboard,
    organization_set_status,
    project_create,
)
from tests.invariants import snapshot

KEY_RE = re.compile(r"^lp_live_([0-9A-HJKMNP-TV-Z]{14})_([A-Za-z0-9]{40})$")

# --- API keys -----------------------------------------------------------------------


def test_issued_key_stores_only_a_hash_of_the_secret(partner, admin_user, system):
    api_key, raw = api_key_issue(organization=partner, actor=system, name="CI", tier="pilot")
    match = KEY_RE.match(raw)
    assert match, raw
    key_id, secret = match.groups()
    api_key.refresh_from_db()
    assert api_key.key_id == key_id
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key.display_prefix == f"lp_live_{key_id}_{secret[:4]}"
    stored = [str(v) for v in ApiKey.objects.filter(pk=api_key.pk).values().get().values()]
    assert not any(secret in value for value in stored)
    assert (api_key.name, api_key.tier) == ("CI", "pilot")
    assert api_key.scopes == ["leased:write", "social:read"]
    assert api_key.revoked_at is None
    event = AuditEvent.objects.get(action="api_key.issue", object_id=str(api_key.pk))
    assert secret not in str(event.after)


def test_issue_deduplicates_scopes(partner, system):
    api_key, _ = api_key_issue(organization=partner, actor=system, scopes=["*", "*"])
    assert api_key.scopes == ["*"]
    assert api_key.has_scope("leased:write")


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"scopes": []}, {"scopes"}),
        ({"scopes": ["admin"]}, {"scopes"}),
        ({"tier": "gold"}, {"tier"}),
        ({"name": "n" * 101}, {"name"}),
        ({"scopes": ["nope"], "tier": "gold", "name": "n" * 101}, {"scopes", "tier", "name"}),
    ],
)
def test_bad_key_settings_are_refused(partner, system, kwargs, fields):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        api_key_issue(organization=partner, actor=system, **kwargs)
    assert {p.field for p in exc.value.fields} == fields
    assert snapshot() == before


def test_authenticate_returns_the_live_key(partner, system):
    api_key, raw = api_key_issue(organization=partner, actor=system)
    found = api_key_authenticate(raw)
    assert found == api_key
    assert found is not None
    assert found.organization == partner


def test_authenticate_refuses_a_wrong_secret(partner, system):
    _, raw = api_key_issue(organization=partner, actor=system)
    last = raw[-1]
    assert api_key_authenticate(raw[:-1] + ("a" if last != "a" else "b")) is None
    assert api_key_authenticate(raw + "x") is None


def test_authenticate_does_not_mix_up_two_keys(partner, other_partner, system):
    _, mine = api_key_issue(organization=partner, actor=system)
    _, theirs = api_key_issue(organization=other_partner, actor=system)
    mine_id = KEY_RE.match(mine).group(1)  # type: ignore[union-attr]
    theirs_secret = KEY_RE.match(theirs).group(2)  # type: ignore[union-attr]
    assert api_key_authenticate(f"lp_live_{mine_id}_{theirs_secret}") is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "Bearer lp_live_x",
        "lp_test_0123456789ABCD_secret",
        "lp_live_",
        "lp_live_0123456789ABCD",
        "lp_live_0123456789ABCD_",
        "lp_live_SHORT_secret",
        "lp_live_0123456789ABCDEF_secret",
        "lp_live_0123456789ABCD_unknownkeysecret",
    ],
)
def test_authenticate_refuses_malformed_or_unknown_keys(partner, system, raw):
    api_key_issue(organization=partner, actor=system)
    assert api_key_authenticate(raw) is None


def test_revoked_key_no_longer_authenticates(partner, admin_user, system):
    api_key, raw = api_key_issue(organization=partner, actor=system)
    api_key_revoke(api_key=api_key, actor=Actor.for_user(admin_user))
    assert api_key.revoked_at is not None
    api_key.refresh_from_db()
    assert api_key.revoked_by == admin_user
    assert api_key.is_revoked
    assert api_key_authenticate(raw) is None
    assert AuditEvent.objects.filter(action="api_key.revoke", object_id=str(api_key.pk)).exists()


def test_revoking_twice_is_refused(partner, system):
    api_key, _ = api_key_issue(organization=partner, actor=system)
    api_key_revoke(api_key=api_key, actor=system)
    before = snapshot()
    with pytest.raises(InvalidState, match="already revoked"):
        api_key_revoke(api_key=api_key, actor=system)
    assert snapshot() == before


def test_revoking_one_key_leaves_the_others_working(partner, system):
    first, _ = api_key_issue(organization=partner, actor=system)
    second, raw = api_key_issue(organization=partner, actor=system)
    api_key_revoke(api_key=first, actor=system)
    assert api_key_authenticate(raw) == second


# --- projects and status ------------------------------------------------------------


def test_project_create_gives_a_prj_id_and_audits(partner, system):
    project = project_create(organization=partner, name="  Launch ", actor=system)
    assert ids.is_id(project.pk, "prj")
    assert project.name == "Launch"
    assert AuditEvent.objects.filter(action="project.create", object_id=project.pk).exists()


def test_project_name_is_unique_within_a_partner_only(partner, other_partner, system):
    project_create(organization=partner, name="Launch", actor=system)
    project_create(organization=other_partner, name="Launch", actor=system)
    before = snapshot()
    projects = Project.objects.count()
    with pytest.raises(Conflict, match="already has a project"):
        project_create(organization=partner, name="Launch", actor=system)
    assert snapshot() == before
    assert Project.objects.count() == projects


@pytest.mark.parametrize("name", ["", "  ", "n" * 201])
def test_bad_project_name_is_refused(partner, system, name):
    with pytest.raises(ValidationFailed):
        project_create(organization=partner, name=name, actor=system)
    assert not Project.objects.filter(organization=partner).exists()


def test_suspend_and_reactivate_are_audited(partner, system):
    organization_set_status(organization=partner, status="suspended", actor=system)
    partner.refresh_from_db()
    assert partner.status == Organization.Status.SUSPENDED
    organization_set_status(organization=partner, status="active", actor=system)
    partner.refresh_from_db()
    assert partner.is_active
    actions = AuditEvent.objects.filter(action="organization.set_status", object_id=partner.pk)
    assert [e.after for e in actions.order_by("id")] == [
        {"status": "suspended"},
        {"status": "active"},
    ]


def test_setting_the_same_status_changes_nothing(partner, system):
    before = snapshot()
    organization_set_status(organization=partner, status="active", actor=system)
    assert snapshot() == before


def test_unknown_status_is_refused(partner, system):
    before = snapshot()
    with pytest.raises(ValidationFailed):
        organization_set_status(organization=partner, status="deleted", actor=system)
    assert snapshot() == before


# --- onboarding ---------------------------------------------------------------------


def test_onboard_creates_partner_project_key_and_opening_balance(system):
    done = organization_onboard(
        name=" Acme Beans ",
        project_name="Acme TikTok",
        actor=system,
        wallet_cents=300_000,
        scopes=["leased:write"],
        tier="partner",
        monthly_price_cents=12_000,
    )
    org = Organization.objects.get(pk=done.organization.pk)
    assert ids.is_id(org.pk, "org")
    assert (org.name, org.monthly_price_cents, org.balance_cents) == ("Acme Beans", 12_000, 300_000)
    assert done.project.organization == org
    assert api_key_authenticate(done.raw_key) == done.api_key
    assert (done.api_key.scopes, done.api_key.tier) == (["leased:write"], "partner")
    [entry] = LedgerEntry.objects.filter(organization=org)
    assert (entry.kind, entry.amount_cents, entry.memo) == ("top_up", 300_000, "Opening balance")
    actions = set(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert {"organization.onboard", "project.create", "api_key.issue", "wallet.top_up"} <= actions


def test_onboard_without_money_has_the_default_price_and_no_ledger(system):
    done = organization_onboard(name="Quiet", project_name="P", actor=system)
    assert done.organization.monthly_price_cents == 15_000
    assert done.organization.balance_cents == 0
    assert not LedgerEntry.objects.filter(organization=done.organization).exists()


def test_onboard_refuses_a_name_taken_in_any_case(partner, system):
    before = snapshot()
    with pytest.raises(Conflict, match="already exists"):
        organization_onboard(name="BREWLINE coffee", project_name="P", actor=system)
    assert snapshot() == before


def test_onboard_lists_every_bad_field(system):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        organization_onboard(
            name="",
            project_name=" ",
            actor=system,
            wallet_cents=-1,
            scopes=["root"],
            tier="gold",
            monthly_price_cents=0,
        )
    assert {p.field for p in exc.value.fields} == {
        "name",
        "project",
        "scopes",
        "tier",
        "wallet_cents",
        "monthly_price_cents",
    }
    assert snapshot() == before


@pytest.mark.parametrize("wallet_cents", [True, 1.5, "100"])
def test_onboard_refuses_a_wallet_that_is_not_whole_cents(system, wallet_cents):
    with pytest.raises(ValidationFailed):
        organization_onboard(name="N", project_name="P", actor=system, wallet_cents=wallet_cents)
    assert not Organization.objects.exists()


def test_onboard_is_all_or_nothing_when_the_opening_balance_is_refused(system):
    with pytest.raises(ValidationFailed):
        organization_onboard(name="Huge", project_name="P", actor=system, wallet_cents=10**12)
    assert not Organization.objects.exists()
    assert not Project.objects.exists()
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(action="organization.onboard").exists()

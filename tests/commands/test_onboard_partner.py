from __future__ import annotations

import json

import pytest
from django.core.management.base import CommandError

from leasing.models import AuditEvent, LedgerEntry, Organization
from leasing.services.partners import api_key_authenticate
from tests import factories
from tests.commands.conftest import db_state


def test_onboard_prints_ids_and_a_key_that_authenticates(run):
    result = run(
        "onboard_partner",
        "--name=Brewline Coffee",
        "--project=Brewline TikTok",
        "--wallet-cents=300000",
        "--scopes=leased:write",
        "--tier=pilot",
        "--price-cents=12000",
    )

    payload = json.loads(result.out)
    assert set(payload) == {"organizationId", "projectId", "apiKey"}
    org = Organization.objects.get(pk=payload["organizationId"])
    assert org.name == "Brewline Coffee"
    assert org.balance_cents == 300_000
    assert org.monthly_price_cents == 12_000
    assert org.projects.get().pk == payload["projectId"]
    entry = LedgerEntry.objects.get(organization=org)
    assert (entry.kind, entry.amount_cents) == ("top_up", 300_000)
    key = api_key_authenticate(payload["apiKey"])
    assert key is not None
    assert key.organization_id == org.pk
    assert key.scopes == ["leased:write"]
    assert key.tier == "pilot"
    assert "cannot be shown again" in result.err


def test_onboard_defaults_to_an_empty_wallet_and_standard_key(run):
    payload = json.loads(run("onboard_partner", "--name=Northstar", "--project=App").out)

    org = Organization.objects.get(pk=payload["organizationId"])
    assert org.balance_cents == 0
    assert org.monthly_price_cents == 15_000
    assert not LedgerEntry.objects.exists()
    key = api_key_authenticate(payload["apiKey"])
    assert key is not None
    assert key.tier == "standard"
    assert key.scopes == ["leased:write", "social:read"]


def test_onboard_records_the_staff_user_given_by(run, admin_user):
    payload = json.loads(
        run("onboard_partner", "--name=Northstar", "--project=App", "--by=ada_admin").out
    )

    event = AuditEvent.objects.get(action="organization.onboard")
    assert event.object_id == payload["organizationId"]
    assert event.actor_user == admin_user


def test_onboard_without_by_is_recorded_as_the_command(run):
    run("onboard_partner", "--name=Northstar", "--project=App")

    event = AuditEvent.objects.get(action="organization.onboard")
    assert (event.actor_type, event.actor_label) == ("system", "system:onboard_partner")


def test_onboard_refuses_a_taken_name_and_changes_nothing(run):
    factories.make_org("Brewline Coffee")
    before = db_state()

    with pytest.raises(CommandError, match="a partner named 'brewline coffee' already exists"):
        run("onboard_partner", "--name=brewline coffee", "--project=TikTok")

    assert db_state() == before


def test_onboard_names_every_bad_option(run):
    before = db_state()

    with pytest.raises(CommandError) as error:
        run(
            "onboard_partner",
            "--name=Northstar",
            "--project=App",
            "--wallet-cents=-5",
            "--scopes=leased:write,admin",
            "--price-cents=0",
        )

    message = str(error.value)
    assert "--wallet-cents: must be a whole number of cents, 0 or more" in message
    assert "--scopes: unknown scope(s) admin" in message
    assert "--price-cents: must be a whole number of cents above zero" in message
    assert db_state() == before


def test_onboard_refuses_an_unknown_by_user(run):
    before = db_state()

    with pytest.raises(CommandError, match="--by: no staff user named 'nobody'"):
        run("onboard_partner", "--name=Northstar", "--project=App", "--by=nobody")

    assert db_state() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project=App"], "the following arguments are required: --name"),
        (["--name=N", "--project=App", "--tier=gold"], "invalid choice: 'gold'"),
        (["--name=N", "--project=App", "--wallet-cents=ten"], "invalid int value: 'ten'"),
    ],
)
def test_onboard_rejects_bad_arguments(run, args, message):
    with pytest.raises(CommandError, match=message):
        run("onboard_partner", *args)

    assert not Organization.objects.exists()

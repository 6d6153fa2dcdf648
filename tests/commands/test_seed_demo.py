from __future__ import annotations

from django.contrib.auth import get_user_model

from leasing.demo import DEMO_PARTNERS, demo_seed
from leasing.services.staff import staff_role
from tests import factories
from tests.commands.conftest import db_state

User = get_user_model()


def test_if_empty_does_nothing_when_any_partner_exists(run):
    factories.make_org("Someone Else")
    before = db_state()

    result = run("seed_demo", "--if-empty")

    assert result.out == "The database already has partners; demo data not loaded.\n"
    assert db_state() == before


def test_seed_demo_refuses_a_database_holding_part_of_the_demo(fail):
    factories.make_org(DEMO_PARTNERS[0].name)
    before = db_state()

    result = fail("seed_demo")

    assert "already has partner(s) named like the demo's (Brewline Coffee Roasters)" in (
        result.error
    )
    assert db_state() == before


def test_seed_demo_keeps_an_existing_demo_username(db):
    factories.make_staff("support", "olivia")

    result = demo_seed()

    assert result.staff_kept == ["olivia"]
    assert staff_role(User.objects.get(username="olivia")) == "support"


def test_demo_logins_says_when_the_demo_is_not_loaded(run):
    result = run("demo_logins")

    assert "(not in this database yet)" in result.out
    assert "Run `manage.py seed_demo`" in result.out

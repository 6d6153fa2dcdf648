"""Pool accounts: creation, warming/ready transitions and retirement."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from leasing import ids
from leasing.models import AuditEvent, Lease, PoolAccount, PoolAccountTag
from leasing.services.allocation import accounts_assign
from leasing.services.errors import InvalidState, ValidationFailed
from leasing.services.pool import (
    pool_account_create,
    pool_account_mark_ready,
    pool_account_mark_warming,
    pool_account_retire,
)
from tests import factories
from tests.invariants import snapshot


def test_create_normalises_and_tags_the_account(system):
    account = pool_account_create(
        handle="@Bean.Queen_1",
        followers=1234,
        verticals=["Coffee ", " home  Barista", "coffee"],
        language="pt-BR",
        countries=["br", "PT", "BR"],
        state="ready",
        warmed_since=date(2025, 3, 1),
        notes="from the spring batch",
        actor=system,
    )
    account.refresh_from_db()
    assert ids.is_id(account.pk, "sa")
    assert account.handle == "Bean.Queen_1"
    assert account.verticals == ["coffee", "home barista"]
    assert (account.language, account.language_primary) == ("pt-BR", "pt")
    assert account.countries == ["BR", "PT"]
    assert account.state == PoolAccount.State.READY
    assert account.warmed_since == date(2025, 3, 1)
    tags = set(PoolAccountTag.objects.filter(account=account).values_list("kind", "value"))
    assert tags == {
        ("vertical", "coffee"),
        ("vertical", "home barista"),
        ("country", "BR"),
        ("country", "PT"),
    }
    assert AuditEvent.objects.filter(action="pool.create", object_id=account.pk).exists()


def test_create_refuses_a_handle_already_in_the_pool_in_any_case(system):
    factories.make_account("Latte_Art")
    before = snapshot()
    with pytest.raises(ValidationFailed, match="already in the pool"):
        factories.make_account("latte_art")
    assert snapshot() == before


def test_create_lists_every_bad_field(system):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        pool_account_create(
            handle="x",
            followers=-1,
            verticals=[],
            language="en_US",
            countries=["UK"],
            state="leased",
            actor=system,
        )
    assert {p.field for p in exc.value.fields} == {
        "handle",
        "followers",
        "verticals",
        "language",
        "geo",
        "state",
    }
    assert snapshot() == before


def test_mark_ready_moves_a_warming_account_to_ready(system):
    account = factories.make_account(state="warming")
    pool_account_mark_ready(account=account, actor=system)
    assert account.state == PoolAccount.State.READY
    account.refresh_from_db()
    assert account.state == PoolAccount.State.READY
    event = AuditEvent.objects.get(action="pool.mark_ready", object_id=account.pk)
    assert (event.before, event.after) == ({"state": "warming"}, {"state": "ready"})


def test_mark_warming_moves_a_ready_account_back(system):
    account = factories.make_account(state="ready")
    pool_account_mark_warming(account=account, actor=system)
    account.refresh_from_db()
    assert account.state == PoolAccount.State.WARMING


@pytest.mark.parametrize("state", ["ready", "retired"])
def test_only_a_warming_account_can_be_marked_ready(system, state):
    account = factories.make_account(state=state)
    before = snapshot()
    with pytest.raises(InvalidState, match="only a warming account"):
        pool_account_mark_ready(account=account, actor=system)
    assert snapshot() == before


@pytest.mark.parametrize("state", ["warming", "retired"])
def test_only_a_ready_account_can_be_marked_warming(system, state):
    account = factories.make_account(state=state)
    before = snapshot()
    with pytest.raises(InvalidState, match="only a ready account"):
        pool_account_mark_warming(account=account, actor=system)
    assert snapshot() == before


def test_leased_account_cannot_change_warming_state(project, ops, system):
    account = factories.make_account()
    accounts_assign(
        request=factories.make_request(project, count=1), account_ids=[account.pk], actor=ops
    )
    before = snapshot()
    with pytest.raises(InvalidState, match="is leased"):
        pool_account_mark_warming(account=account, actor=system)
    with pytest.raises(InvalidState, match="is leased"):
        pool_account_mark_ready(account=account, actor=system)
    assert snapshot() == before


@pytest.mark.parametrize("state", ["warming", "ready"])
def test_retire_takes_an_unleased_account_out_for_good(ops, ops_user, state):
    account = factories.make_account(state=state)
    assert pool_account_retire(account=account, reason=" shadow-banned ", actor=ops) is None
    account.refresh_from_db()
    assert account.state == PoolAccount.State.RETIRED
    assert account.retired_reason == "shadow-banned"
    event = AuditEvent.objects.get(action="pool.retire", object_id=account.pk)
    assert event.actor_user == ops_user
    assert event.before == {"state": state}
    assert event.organization_id is None


def test_retire_disconnects_the_active_lease_as_account_lost(project, ops):
    account = factories.make_account()
    [lease] = accounts_assign(
        request=factories.make_request(project, count=1), account_ids=[account.pk], actor=ops
    )
    project.organization.refresh_from_db()
    balance = project.organization.balance_cents
    with time_machine.travel(datetime(2026, 5, 1, 8, tzinfo=UTC), tick=False):
        disconnected = pool_account_retire(account=account, reason="banned by TikTok", actor=ops)
    assert disconnected is not None
    assert disconnected.pk == lease.pk
    lease.refresh_from_db()
    assert lease.status == Lease.Status.DISCONNECTED
    assert lease.disconnected_reason == Lease.Reason.ACCOUNT_LOST
    assert lease.disconnected_note == "banned by TikTok"
    assert lease.disconnected_at == datetime(2026, 5, 1, 8, tzinfo=UTC)
    assert lease.next_renewal_at is None
    account.refresh_from_db()
    assert account.state == PoolAccount.State.RETIRED
    project.organization.refresh_from_db()
    assert project.organization.balance_cents == balance
    event = AuditEvent.objects.get(action="pool.retire", object_id=account.pk)
    assert event.organization_id == project.organization_id
    assert event.after is not None
    assert event.after["lease"] == lease.pk
    assert event.before == {"state": "leased"}


def test_retiring_twice_is_refused(ops):
    account = factories.make_account()
    pool_account_retire(account=account, reason="lost", actor=ops)
    before = snapshot()
    with pytest.raises(InvalidState, match="already retired"):
        pool_account_retire(account=account, reason="again", actor=ops)
    assert snapshot() == before


@pytest.mark.parametrize("reason", ["", "  ", "r" * 2001])
def test_retire_needs_a_reason(ops, reason):
    account = factories.make_account()
    before = snapshot()
    with pytest.raises(ValidationFailed):
        pool_account_retire(account=account, reason=reason, actor=ops)
    assert snapshot() == before

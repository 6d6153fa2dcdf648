"""Wallet movements and prices: validation, the ledger and the audit trail."""

from __future__ import annotations

import pytest

from leasing.models import AuditEvent, LedgerEntry
from leasing.services.billing import (
    MAX_MOVEMENT_CENTS,
    organization_set_price,
    wallet_adjust,
    wallet_refund,
    wallet_top_up,
)
from leasing.services.errors import InvalidState, ValidationFailed
from tests.invariants import snapshot

MOVES = {"top_up": wallet_top_up, "adjustment": wallet_adjust, "refund": wallet_refund}


@pytest.mark.parametrize("kind", ["top_up", "refund"])
def test_credit_adds_to_balance_with_a_ledger_entry_and_audit(partner, finance, finance_user, kind):
    entry = MOVES[kind](
        organization=partner, amount_cents=25_050, memo="  wire 42  ", actor=finance
    )
    entry.refresh_from_db()
    assert (entry.kind, entry.amount_cents, entry.balance_after_cents) == (kind, 25_050, 175_050)
    assert entry.memo == "wire 42"
    assert (entry.actor_user, entry.actor_label) == (finance_user, "fiona_finance")
    assert entry.lease is None
    assert partner.balance_cents == 175_050
    partner.refresh_from_db()
    assert partner.balance_cents == 175_050
    event = AuditEvent.objects.get(action=f"wallet.{kind}", actor_user=finance_user)
    assert event.before == {"balance_cents": 150_000}
    assert event.after is not None
    assert event.after["balance_cents"] == 175_050
    assert event.actor_user == finance_user


@pytest.mark.parametrize("amount", [-50_000, 7])
def test_adjustment_moves_the_balance_either_way(partner, finance, amount):
    entry = wallet_adjust(organization=partner, amount_cents=amount, memo="fix", actor=finance)
    partner.refresh_from_db()
    assert partner.balance_cents == 150_000 + amount
    assert entry.kind == LedgerEntry.Kind.ADJUSTMENT


def test_adjustment_may_take_the_balance_to_exactly_zero(partner, finance):
    wallet_adjust(organization=partner, amount_cents=-150_000, memo="close account", actor=finance)
    partner.refresh_from_db()
    assert partner.balance_cents == 0


def test_adjustment_below_zero_is_refused(partner, finance):
    before = snapshot()
    with pytest.raises(InvalidState, match="below zero"):
        wallet_adjust(organization=partner, amount_cents=-150_001, memo="oops", actor=finance)
    assert snapshot() == before
    assert partner.balance_cents == 150_000


@pytest.mark.parametrize("kind", ["top_up", "adjustment", "refund"])
@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        (0, "zero"),
        (True, "whole number"),
        (1.5, "whole number"),
        ("100", "whole number"),
        (None, "whole number"),
        (MAX_MOVEMENT_CENTS + 1, "at most"),
        (-MAX_MOVEMENT_CENTS - 1, None),
    ],
)
def test_bad_amount_is_refused(partner, finance, kind, amount, problem):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        MOVES[kind](organization=partner, amount_cents=amount, memo="m", actor=finance)
    assert [p.field for p in exc.value.fields] == ["amount_cents"]
    if problem:
        assert problem in exc.value.fields[0].problem
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["top_up", "refund"])
def test_credit_cannot_be_negative(partner, finance, kind):
    before = snapshot()
    with pytest.raises(ValidationFailed, match="more than zero"):
        MOVES[kind](organization=partner, amount_cents=-100, memo="m", actor=finance)
    assert snapshot() == before


def test_largest_allowed_movement_is_accepted(partner, finance):
    wallet_top_up(organization=partner, amount_cents=MAX_MOVEMENT_CENTS, memo="big", actor=finance)
    partner.refresh_from_db()
    assert partner.balance_cents == 150_000 + MAX_MOVEMENT_CENTS


@pytest.mark.parametrize("kind", ["top_up", "adjustment", "refund"])
@pytest.mark.parametrize("memo", ["", "   ", None, "m" * 501])
def test_memo_is_required_and_bounded(partner, finance, kind, memo):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        MOVES[kind](organization=partner, amount_cents=100, memo=memo, actor=finance)
    assert [p.field for p in exc.value.fields] == ["memo"]
    assert snapshot() == before


def test_amount_and_memo_problems_are_reported_together(partner, finance):
    with pytest.raises(ValidationFailed) as exc:
        wallet_top_up(organization=partner, amount_cents=0, memo="", actor=finance)
    assert [p.field for p in exc.value.fields] == ["amount_cents", "memo"]


def test_wallet_move_uses_the_locked_balance_not_a_stale_instance(partner, finance):
    stale = type(partner).objects.get(pk=partner.pk)
    wallet_top_up(organization=partner, amount_cents=1_000, memo="first", actor=finance)
    wallet_top_up(organization=stale, amount_cents=2_000, memo="second", actor=finance)
    partner.refresh_from_db()
    assert partner.balance_cents == 153_000


def test_set_price_changes_the_price_and_audits(partner, finance, finance_user):
    org = organization_set_price(organization=partner, monthly_price_cents=12_345, actor=finance)
    assert org.monthly_price_cents == partner.monthly_price_cents == 12_345
    partner.refresh_from_db()
    assert partner.monthly_price_cents == 12_345
    event = AuditEvent.objects.get(action="organization.set_price", object_id=partner.pk)
    assert (event.before, event.after) == (
        {"monthly_price_cents": 15_000},
        {"monthly_price_cents": 12_345},
    )
    assert event.actor_user == finance_user


@pytest.mark.parametrize("price", [0, -1, True, 99.5, "15000", None, 10_000_001])
def test_bad_price_is_refused(partner, finance, price):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        organization_set_price(organization=partner, monthly_price_cents=price, actor=finance)
    assert [p.field for p in exc.value.fields] == ["monthly_price_cents"]
    assert snapshot() == before

"""The database is the last line of defence: direct ORM writes that break a rule fail.

Each violating write runs in its own savepoint so the test transaction stays usable on
PostgreSQL. The invariant helper is tested here too, so its checks are known to bite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from leasing.models import (
    Lease,
    LeaseRequest,
    LedgerEntry,
    OpenRequestTotals,
    Organization,
    PoolAccount,
    RequestNote,
)
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.leases import lease_release
from leasing.services.requests import lease_request_close, request_note_add
from leasing.services.totals import open_request_shard
from tests import factories
from tests.invariants import (
    assert_invariants,
    latest_note_problems,
    lease_problems,
    ledger_problems,
    request_problems,
    rollup_problems,
)


@pytest.fixture
def lease(project, ops_user) -> Lease:
    req = factories.make_request(project, count=2)
    [lease] = accounts_assign(
        request=req, account_ids=[factories.make_account().pk], actor=Actor.for_user(ops_user)
    )
    return lease


@contextmanager
def rolled_back() -> Iterator[None]:
    """Break the data for a moment, look at it, then undo it."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- constraints --------------------------------------------------------------------


def test_balance_cannot_go_negative(partner):
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=partner.pk).update(balance_cents=-1)


def test_price_must_be_positive(partner):
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=partner.pk).update(monthly_price_cents=0)


def test_account_cannot_hold_two_active_leases(lease):
    with pytest.raises(IntegrityError), transaction.atomic():
        Lease.objects.create(
            account=lease.account,
            organization=lease.organization,
            project=lease.project,
            assigned_at=timezone.now(),
            monthly_price_cents=15_000,
            next_renewal_at=timezone.now(),
        )


def test_a_disconnected_lease_does_not_block_a_new_one(lease, ops_user):
    lease_release(lease=lease, actor=Actor.for_user(ops_user))
    with rolled_back():
        Lease.objects.create(
            account=lease.account,
            organization=lease.organization,
            project=lease.project,
            assigned_at=timezone.now(),
            monthly_price_cents=15_000,
            next_renewal_at=timezone.now(),
        )


@pytest.mark.parametrize("kind", ["lease_charge", "renewal_charge"])
def test_lease_period_cannot_be_charged_twice(lease, kind):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            organization=lease.organization,
            kind=kind,
            amount_cents=-15_000,
            balance_after_cents=0,
            memo="twice",
            lease=lease,
            period=0,
            actor_label="test",
            created_at=timezone.now(),
        )


@pytest.mark.parametrize(
    ("kind", "amount", "with_lease"),
    [
        ("top_up", -100, False),
        ("refund", 0, False),
        ("adjustment", 0, False),
        ("lease_charge", 100, True),
        ("renewal_charge", -100, False),
    ],
)
def test_ledger_amount_sign_must_match_its_kind(lease, kind, amount, with_lease):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            organization=lease.organization,
            kind=kind,
            amount_cents=amount,
            balance_after_cents=1,
            memo="bad",
            lease=lease if with_lease else None,
            period=7 if with_lease else None,
            actor_label="test",
            created_at=timezone.now(),
        )


def test_ledger_balance_after_cannot_be_negative(partner):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            organization=partner,
            kind="adjustment",
            amount_cents=-1,
            balance_after_cents=-1,
            memo="bad",
            actor_label="test",
            created_at=timezone.now(),
        )


@pytest.mark.parametrize("count", [0, 51])
def test_request_count_must_be_1_to_50(project, count):
    req = factories.make_request(project)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeaseRequest.objects.filter(pk=req.pk).update(count=count)


def test_request_id_is_unique_within_an_organization(project):
    req = factories.make_request(project, request_key="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        LeaseRequest.objects.create(
            organization=req.organization,
            project=project,
            request_key="dup",
            count=1,
            vertical="coffee",
            submitted_at=timezone.now(),
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"assigned_count": 4},
        {"status": "assigned"},
        {"status": "requested", "closed_at": datetime(2026, 1, 1, tzinfo=UTC)},
        {"status": "partial", "closed_at": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
)
def test_request_status_and_counts_must_agree(project, changes):
    req = factories.make_request(project, count=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeaseRequest.objects.filter(pk=req.pk).update(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"latest_note": "a note", "latest_note_visibility": ""},
        {"latest_note": "", "latest_note_visibility": "partner"},
        {"latest_note": "a note", "latest_note_visibility": "public"},
    ],
)
def test_request_latest_note_is_empty_or_a_note_with_its_visibility(project, changes):
    req = factories.make_request(project)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeaseRequest.objects.filter(pk=req.pk).update(**changes)


def test_rejected_request_has_no_accounts(lease):
    with pytest.raises(IntegrityError), transaction.atomic():
        LeaseRequest.objects.filter(pk=lease.request_id).update(
            status="rejected", closed_at=timezone.now()
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "disconnected"},
        {"next_renewal_at": None},
        {"disconnected_reason": "account_lost"},
        {"monthly_price_cents": 0},
    ],
)
def test_lease_status_fields_must_be_consistent(lease, changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        Lease.objects.filter(pk=lease.pk).update(**changes)


def test_pool_handle_is_unique_per_platform_in_any_case(db):
    factories.make_account("Mocha")
    with pytest.raises(IntegrityError), transaction.atomic():
        PoolAccount.objects.create(handle="mocha", followers=1)


def test_pool_state_must_be_known(db):
    account = factories.make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        PoolAccount.objects.filter(pk=account.pk).update(state="lost")


@pytest.mark.parametrize(
    "row",
    [
        {"status": "requested", "shard": 0, "requests": -1},
        {"status": "requested", "shard": 16, "requests": 1},
        {"status": "in_progress", "shard": -1, "requests": 1},
        {"status": "rejected", "shard": 0, "requests": 1},
    ],
)
def test_open_request_totals_hold_open_statuses_known_shards_and_no_negative_count(db, row):
    with pytest.raises(IntegrityError), transaction.atomic():
        OpenRequestTotals.objects.create(**row)


def test_closing_a_request_the_rollup_lost_fails_rather_than_count_below_zero(project, system):
    req = factories.make_request(project)
    OpenRequestTotals.objects.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        lease_request_close(request=req, outcome="rejected", note="x", actor=system)
    assert LeaseRequest.objects.get(pk=req.pk).status == "requested"
    OpenRequestTotals.objects.create(  # as it was, for the invariants after the test
        status="requested", shard=open_request_shard(req.pk), requests=1
    )


# --- the invariant helper catches what the constraints cannot -----------------------


def test_invariants_hold_after_normal_use(lease):
    assert_invariants()


def test_invariants_catch_a_balance_that_disagrees_with_the_ledger(partner):
    with rolled_back():
        Organization.objects.filter(pk=partner.pk).update(balance_cents=F("balance_cents") + 1)
        assert any("ledger sums to" in p for p in ledger_problems())
        with pytest.raises(AssertionError, match="invariants broken"):
            assert_invariants()


def test_invariants_catch_a_wrong_running_balance(partner):
    with rolled_back():
        LedgerEntry.objects.filter(organization=partner).update(balance_after_cents=1)
        assert any("running sum" in p for p in ledger_problems())


def test_invariants_catch_a_lease_missing_a_charge(lease):
    with rolled_back():
        Lease.objects.filter(pk=lease.pk).update(periods_charged=2)
        assert any("expected 0..1" in p for p in lease_problems())


def test_invariants_catch_a_charge_at_the_wrong_price(lease):
    with rolled_back():
        Lease.objects.filter(pk=lease.pk).update(monthly_price_cents=1)
        assert any("period 0" in p for p in lease_problems())


def test_invariants_catch_an_account_leased_without_a_lease(db):
    account = factories.make_account()
    with rolled_back():
        PoolAccount.objects.filter(pk=account.pk).update(state="leased")
        assert lease_problems() == [f"account {account.pk} is leased without an active lease"]


def test_invariants_catch_an_active_lease_on_a_ready_account(lease):
    with rolled_back():
        PoolAccount.objects.filter(pk=lease.account_id).update(state="ready")
        assert lease_problems() == [
            f"account {lease.account_id} has an active lease but is not leased"
        ]


def test_invariants_catch_an_assigned_count_without_leases(lease):
    with rolled_back():
        LeaseRequest.objects.filter(pk=lease.request_id).update(assigned_count=2)
        assert request_problems() == [f"request {lease.request_id}: assigned_count 2, 1 leases"]


def test_invariants_catch_a_request_closed_behind_the_open_counts_back(project):
    req = factories.make_request(project)
    with rolled_back():
        LeaseRequest.objects.filter(pk=req.pk).update(status="rejected", closed_at=timezone.now())
        problems = rollup_problems()
        assert any(p.startswith("open requests (rollup, recounted)") for p in problems)
        assert any(p.startswith("open requests per status") for p in problems)


def test_invariants_catch_an_open_request_counted_on_the_wrong_shard(project):
    req = factories.make_request(project)
    shard = open_request_shard(req.pk)
    with rolled_back():
        OpenRequestTotals.objects.filter(shard=shard).update(shard=(shard + 1) % 16)
        assert any(p.startswith("open requests (rollup") for p in rollup_problems())


def test_invariants_catch_a_latest_note_that_is_not_the_latest(project, system):
    req = factories.make_request(project)
    request_note_add(request=req, body="older", actor=system)
    request_note_add(request=req, body="newer", visibility="partner", actor=system)
    with rolled_back():
        LeaseRequest.objects.filter(pk=req.pk).update(
            latest_note="older", latest_note_visibility="internal"
        )
        assert latest_note_problems() == [
            f"request {req.pk}: latest note 'older' ('internal'), its notes say 'newer' ('partner')"
        ]


def test_invariants_catch_a_note_added_behind_the_services_back(project):
    req = factories.make_request(project)
    with rolled_back():
        RequestNote.objects.create(request=req, body="unseen", created_at=timezone.now())
        assert latest_note_problems() == [
            f"request {req.pk}: latest note '' (''), its notes say 'unseen' ('internal')"
        ]

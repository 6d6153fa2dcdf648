"""Locking rules under real parallel connections (PostgreSQL only).

Each worker thread gets its own database connection, waits at a barrier so all start
together, does one service call and closes its connection. A loser must see a clear
service error (Conflict, BillingExhausted, ...), never a database error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Sum

from leasing.models import Lease, LeaseRequest, LedgerEntry, Organization, PoolAccount
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run, wallet_adjust
from leasing.services.errors import BillingExhausted, Conflict, InvalidState
from leasing.services.pool import pool_account_retire
from leasing.services.requests import lease_request_claim, lease_request_create
from tests import factories
from tests.invariants import assert_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.for_system("tests")


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread and connection, all released at once.

    Returns each call's result, or the exception it raised.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def work(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return results


def assign_call(request: LeaseRequest, account_ids: list[str]) -> Callable[[], list[Lease]]:
    return lambda: accounts_assign(request=request, account_ids=account_ids, actor=SYSTEM)


def kinds(results: list[Any]) -> list[str]:
    return sorted(type(r).__name__ if isinstance(r, BaseException) else "ok" for r in results)


@pytest.mark.parametrize("workers", [2, 8])
def test_concurrent_assignments_of_one_account_make_exactly_one_lease(workers):
    account = factories.make_account("contested")
    # One partner each, so the organization lock does not queue them: they meet on the
    # account row.
    requests = [factories.make_request(factories.make_project(), count=1) for _ in range(workers)]
    results = in_parallel([assign_call(req, [account.pk]) for req in requests])

    assert kinds(results) == ["Conflict"] * (workers - 1) + ["ok"]
    assert all("already taken" in r.message for r in results if isinstance(r, Conflict))
    assert Lease.objects.filter(account=account).count() == 1
    assert LedgerEntry.objects.filter(kind="lease_charge").count() == 1
    account.refresh_from_db()
    assert account.state == PoolAccount.State.LEASED
    winner = Lease.objects.get(account=account)
    assert LeaseRequest.objects.filter(status="assigned").get() == winner.request
    assert_invariants()


def test_concurrent_assignments_for_one_partner_of_one_account(project):
    account = factories.make_account("contested")
    requests = [factories.make_request(project, count=1) for _ in range(4)]
    results = in_parallel([assign_call(req, [account.pk]) for req in requests])
    assert kinds(results) == ["Conflict"] * 3 + ["ok"]
    assert Lease.objects.count() == LedgerEntry.objects.filter(kind="lease_charge").count() == 1
    assert_invariants()


def test_overlapping_multi_account_assignments_are_all_or_nothing():
    shared = factories.make_account("shared")
    own = [factories.make_account(f"own_{n}") for n in range(6)]
    requests = [factories.make_request(factories.make_project(), count=2) for _ in range(6)]
    results = in_parallel(
        [assign_call(req, [own[n].pk, shared.pk]) for n, req in enumerate(requests)]
    )
    assert kinds(results) == ["Conflict"] * 5 + ["ok"]
    # The losers' own accounts stayed in the pool: nothing half-assigned.
    assert Lease.objects.count() == 2
    assert PoolAccount.objects.filter(state="leased").count() == 2
    assert_invariants()


def test_concurrent_assignments_cannot_overdraw_one_wallet():
    org = factories.make_org("Thin Wallet", balance_cents=45_000)
    project = factories.make_project(org)
    requests = [factories.make_request(project, count=1) for _ in range(8)]
    accounts = [factories.make_account() for _ in range(8)]
    results = in_parallel(
        [assign_call(req, [acct.pk]) for req, acct in zip(requests, accounts, strict=True)]
    )
    assert kinds(results) == ["BillingExhausted"] * 5 + ["ok"] * 3
    assert all("covers 0 of the 1" in r.message for r in results if isinstance(r, BillingExhausted))
    org.refresh_from_db()
    assert org.balance_cents == 0
    assert LedgerEntry.objects.filter(organization=org).aggregate(s=Sum("amount_cents"))["s"] == 0
    assert Lease.objects.count() == 3
    assert_invariants()


def test_concurrent_assignments_and_a_wallet_adjustment_keep_the_ledger_true():
    org = factories.make_org("Busy Wallet", balance_cents=60_000)
    project = factories.make_project(org)
    requests = [factories.make_request(project, count=1) for _ in range(4)]
    accounts = [factories.make_account() for _ in range(4)]
    drain = lambda: wallet_adjust(  # noqa: E731
        organization=org, amount_cents=-30_000, memo="chargeback", actor=SYSTEM
    )
    calls = [assign_call(r, [a.pk]) for r, a in zip(requests, accounts, strict=True)]
    results = in_parallel([*calls, drain])
    unexpected = [
        r
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, BillingExhausted | InvalidState)
    ]
    assert unexpected == []
    org.refresh_from_db()
    assert org.balance_cents >= 0
    assert_invariants()


def test_concurrent_renewal_runs_charge_each_period_once(project):
    other = factories.make_project(factories.make_org("Second Partner"))
    with time_machine.travel(datetime(2026, 1, 31, 9, tzinfo=UTC), tick=False):
        for proj in (project, other, project, other, project):
            accounts_assign(
                request=factories.make_request(proj, count=1),
                account_ids=[factories.make_account().pk],
                actor=SYSTEM,
            )
    now = datetime(2026, 4, 15, tzinfo=UTC)  # periods 1 and 2 are due for every lease
    results = in_parallel([lambda: renewals_run(now=now) for _ in range(2)])

    assert kinds(results) == ["ok", "ok"]
    assert sum(len(r.charged) for r in results) == 10
    assert sum(len(r.disconnected) for r in results) == 0
    for lease in Lease.objects.all():
        periods = list(
            LedgerEntry.objects.filter(lease=lease, kind="renewal_charge")
            .order_by("period")
            .values_list("period", flat=True)
        )
        assert periods == [1, 2]
        assert lease.next_renewal_at == datetime(2026, 4, 30, 9, tzinfo=UTC)
    assert_invariants()


def test_concurrent_renewal_runs_disconnect_an_unpaid_lease_once():
    org = factories.make_org("Short", balance_cents=15_000)
    project = factories.make_project(org)
    with time_machine.travel(datetime(2026, 1, 10, tzinfo=UTC), tick=False):
        [lease] = accounts_assign(
            request=factories.make_request(project, count=1),
            account_ids=[factories.make_account().pk],
            actor=SYSTEM,
        )
    now = datetime(2026, 2, 11, tzinfo=UTC)
    results = in_parallel([lambda: renewals_run(now=now) for _ in range(3)])
    assert kinds(results) == ["ok"] * 3
    assert sum(len(r.disconnected) for r in results) == 1
    lease.refresh_from_db()
    assert lease.disconnected_reason == "billing_exhausted"
    assert lease.account.state == PoolAccount.State.READY
    assert_invariants()


def test_retiring_an_account_while_it_is_assigned_leaves_no_active_lease():
    account = factories.make_account("doomed")
    req = factories.make_request(factories.make_project(), count=1)
    results = in_parallel(
        [
            assign_call(req, [account.pk]),
            lambda: pool_account_retire(account=account, reason="banned", actor=SYSTEM),
        ]
    )
    assert not isinstance(results[1], BaseException)
    assert results[0] is not None
    if isinstance(results[0], BaseException):
        # Retire went first: the assignment saw a retired account.
        assert isinstance(results[0], Conflict)
        assert not Lease.objects.exists()
    else:
        # Assignment went first: retiring ended the lease as account_lost.
        assert Lease.objects.get().disconnected_reason == "account_lost"
    account.refresh_from_db()
    assert account.state == PoolAccount.State.RETIRED
    assert not Lease.objects.filter(status="assigned").exists()
    assert_invariants()


def test_concurrent_requests_reusing_one_request_id_make_one_request(project):
    results = in_parallel(
        [
            lambda: lease_request_create(
                project=project, count=1, vertical="coffee", request_key="same", actor=SYSTEM
            )
            for _ in range(4)
        ]
    )
    assert kinds(results) == ["Conflict"] * 3 + ["ok"]
    assert LeaseRequest.objects.filter(request_key="same").count() == 1


def test_concurrent_claims_leave_one_owner(project):
    users = [get_user_model().objects.create_user(username=f"claimer{n}") for n in range(4)]
    req = factories.make_request(project)

    def claim_as(user: Any) -> Callable[[], LeaseRequest]:
        return lambda: lease_request_claim(request=req, actor=Actor.for_user(user))

    results = in_parallel([claim_as(user) for user in users])
    assert kinds(results) == ["Conflict"] * 3 + ["ok"]
    req.refresh_from_db()
    [winner] = [r for r in results if isinstance(r, LeaseRequest)]
    assert req.claimed_by_id == winner.claimed_by_id
    assert Organization.objects.count() == 1

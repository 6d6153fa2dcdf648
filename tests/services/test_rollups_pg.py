"""The rollups under real parallel connections (PostgreSQL only): transactions that add
to and take from the same ReadySupply, RenewalDayTotals and OpenRequestTotals rows at once
leave them exact, and none of them deadlocks or fails."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from leasing import selectors
from leasing.models import Lease, LeaseRequest, PoolAccount, Project, ReadySupply
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.leases import lease_release
from leasing.services.pool import (
    pool_account_create,
    pool_account_mark_ready,
    pool_account_mark_warming,
    pool_account_retire,
)
from leasing.services.requests import (
    lease_request_claim,
    lease_request_close,
    lease_request_create,
    lease_request_unclaim,
)
from leasing.services.totals import open_request_shard
from tests import factories
from tests.invariants import assert_invariants, ready_supply
from tests.services.test_concurrency_pg import in_parallel, kinds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.for_system("tests")
_handles = itertools.count(1)
# Two tags and one language: every call below meets the others on the same two rows.
SHARED: dict[str, Any] = {"verticals": ["coffee", "tea"], "language": "en"}
FRESH: dict[str, Any] = {"verticals": ["matcha"], "language": "ja"}


def account(**fields: Any) -> PoolAccount:
    return factories.make_account(f"shared_{next(_handles)}", **(SHARED | fields))


def test_assignments_and_releases_in_one_vertical_at_once_keep_the_rollups_exact():
    partners = [factories.make_project(factories.make_org(f"P{n}")) for n in range(4)]
    # Each partner already holds one lease it gives back while others take accounts.
    held: list[Lease] = []
    for project in partners:
        request = factories.make_request(project, count=3, vertical="coffee")
        held += accounts_assign(request=request, account_ids=[account().pk], actor=SYSTEM)
    for _round in range(3):
        calls: list[Callable[[], Any]] = [
            partial(
                accounts_assign,
                request=factories.make_request(project, count=2, vertical="coffee"),
                account_ids=[account().pk, account().pk],
                actor=SYSTEM,
            )
            for project in partners
        ]
        calls += [partial(lease_release, lease=lease, actor=SYSTEM) for lease in held]
        results = in_parallel(calls)
        assert kinds(results) == ["ok"] * len(calls), results
        held = [lease for leases in results[: len(partners)] for lease in leases]
        assert_invariants()
    # Released: the 4 first leases, then 8 a round twice; every account taken was new.
    assert ready_supply() == {("coffee", "en"): 20, ("tea", "en"): 20}


def test_state_changes_on_one_pair_of_rows_at_once_keep_it_exact():
    warming = [account(state="warming") for _ in range(3)]
    ready = [account() for _ in range(3)]
    calls: list[Callable[[], Any]] = [
        partial(pool_account_mark_ready, account=a, actor=SYSTEM) for a in warming
    ]
    calls += [partial(pool_account_mark_warming, account=ready[0], actor=SYSTEM)]
    calls += [
        partial(pool_account_retire, account=a, reason="lost", actor=SYSTEM) for a in ready[1:]
    ]
    calls += [
        partial(
            pool_account_create,
            handle=f"new_{n}",
            followers=1,
            state="ready",
            actor=SYSTEM,
            **SHARED,
        )
        for n in range(3)
    ]
    results = in_parallel(calls)
    assert kinds(results) == ["ok"] * len(calls), results
    assert ready_supply() == {("coffee", "en"): 6, ("tea", "en"): 6}
    assert_invariants()


def test_rows_made_and_emptied_at_once_end_up_exact():
    # No row yet for matcha/ja: several transactions create it at the same moment, while
    # others take it back to zero (which deletes it) and up again.
    for _round in range(4):
        leaving = factories.make_account(f"leaving_{next(_handles)}", **FRESH)
        calls: list[Callable[[], Any]] = [
            partial(pool_account_mark_warming, account=leaving, actor=SYSTEM)
        ]
        calls += [
            partial(
                pool_account_create,
                handle=f"matcha_{next(_handles)}",
                followers=1,
                state="ready",
                actor=SYSTEM,
                **FRESH,
            )
            for _ in range(4)
        ]
        results = in_parallel(calls)
        assert kinds(results) == ["ok"] * len(calls), results
        assert ready_supply()[("matcha", "ja")] == 4
        assert_invariants()
        for created in results[1:]:  # back to no row at all for the next round
            pool_account_retire(account=created, reason="reset", actor=SYSTEM)
        assert not ReadySupply.objects.filter(vertical="matcha").exists()


def requests_on_one_shard(partners: list[Project], n: int) -> list[LeaseRequest]:
    """Make requests (round the partners) until `n` of them count on one shard row."""
    by_shard: dict[int, list[LeaseRequest]] = defaultdict(list)
    for project in itertools.cycle(partners):
        request = factories.make_request(project, count=3, vertical="coffee")
        same = by_shard[open_request_shard(request.pk)]
        same.append(request)
        if len(same) == n:
            return same
    raise AssertionError("unreachable")


def test_requests_made_claimed_and_closed_at_once_keep_the_open_counts_exact():
    partners = [factories.make_project(factories.make_org(f"P{n}")) for n in range(4)]
    people = [
        Actor.for_user(get_user_model().objects.create_user(username=f"ops{n}")) for n in range(3)
    ]
    viewer = get_user_model().objects.create_superuser(username="viewer")
    for _round in range(3):
        # Six requests on one shard, so the claims, the unclaim, the rejection and the
        # assignment below all meet on its (requested) and (in_progress) rows; the new
        # requests land on shards of their own ids, one of them often the same.
        same = requests_on_one_shard(partners, 6)
        for request in same[:2]:
            lease_request_claim(request=request, actor=people[0])
        calls: list[Callable[[], Any]] = [
            partial(lease_request_claim, request=same[2 + n], actor=person)
            for n, person in enumerate(people)
        ]
        calls += [
            partial(lease_request_unclaim, request=same[0], actor=people[0]),
            partial(
                lease_request_close, request=same[1], outcome="rejected", note="no", actor=SYSTEM
            ),
            partial(accounts_assign, request=same[5], account_ids=[account().pk], actor=SYSTEM),
        ]
        calls += [
            partial(lease_request_create, project=project, count=1, vertical="tea", actor=SYSTEM)
            for project in partners * 2
        ]
        results = in_parallel(calls)
        assert kinds(results) == ["ok"] * len(calls), results
        statuses = {
            r.pk: r.status for r in LeaseRequest.objects.filter(pk__in=[r.pk for r in same])
        }
        assert [statuses[r.pk] for r in same] == [
            "requested",  # unclaimed
            "rejected",
            *["in_progress"] * 3,  # claimed
            "in_progress",  # one of its three accounts assigned
        ]
        real = {
            status: LeaseRequest.objects.filter(status=status).count()
            for status in LeaseRequest.OPEN_STATUSES
        }
        assert selectors.open_request_counts(viewer) == real
        assert_invariants()
    assert LeaseRequest.objects.filter(vertical="tea", status="requested").count() == 24

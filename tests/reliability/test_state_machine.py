"""A property-based state machine over the services (hypothesis).

Hypothesis drives random sequences of what people, partners and the renewal job do —
request, claim, note, assign, close, release, retire, mark ready or warming, renew with the
clock moving on, top up and charge back — on two small partners and a handful of accounts
in two verticals and three languages. After every step the whole database must pass
tests/invariants.py (the rollups included), every wallet must hold what a simple model of
the money says, and a refused call must have changed nothing at all.

Each example runs inside a savepoint that is rolled back, so it runs on SQLite and on
PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from leasing.models import Lease, LeaseRequest, LedgerEntry, Organization, PoolAccount
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run, wallet_adjust, wallet_top_up
from leasing.services.errors import ServiceError
from leasing.services.leases import lease_release
from leasing.services.partners import project_create
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
    request_note_add,
)
from tests.invariants import assert_invariants, snapshot

pytestmark = pytest.mark.django_db

PRICES = (15_000, 9_900)
ACCOUNTS = 6
# Accounts overlap in verticals and languages, so the ready supply's rows are shared.
VERTICALS = (["coffee"], ["coffee", "tea"], ["tea"])
LANGUAGES = ("en", "pt-BR", "")
SYSTEM = Actor.for_system("state-machine")
index = st.integers(min_value=0, max_value=1_000)


class LeaseDesk(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.now = datetime(2026, 1, 31, 9, tzinfo=UTC)  # month ends make renewals clamp
        self.counts: dict[str, int] = {}
        self.request_ids: list[str] = []
        with self.clock():
            self.orgs = [
                Organization.objects.create(name=f"Partner {n}", monthly_price_cents=price)
                for n, price in enumerate(PRICES)
            ]
            self.projects = [
                project_create(organization=org, name="TikTok", actor=SYSTEM) for org in self.orgs
            ]
            User = get_user_model()
            self.people = [
                Actor.for_user(User.objects.create_user(username=f"ops{n}")) for n in range(2)
            ]
            self.accounts = [
                pool_account_create(
                    handle=f"acct_{n}",
                    followers=1000 + n,
                    verticals=VERTICALS[n % len(VERTICALS)],
                    language=LANGUAGES[n % len(LANGUAGES)],
                    state="warming" if n == 0 else "ready",
                    actor=SYSTEM,
                )
                for n in range(ACCOUNTS)
            ]
            for org in self.orgs:
                wallet_top_up(organization=org, amount_cents=60_000, memo="opening", actor=SYSTEM)
            # An open request holding one lease from the start, so claims, notes, closes and
            # renewals have something to work on however the steps fall: which rules a run
            # draws shifts whenever a rule is added, and the note rule left these runs with
            # no renewal charge at all.
            opening = lease_request_create(
                project=self.projects[0], count=2, vertical="coffee", actor=SYSTEM
            )
            self.request_ids.append(opening.pk)
            [lease] = accounts_assign(
                request=opening, account_ids=[self.accounts[1].pk], actor=SYSTEM, now=self.now
            )
        self.balance = {org.pk: 60_000 for org in self.orgs}  # the model of every wallet
        self.balance[lease.organization_id] -= lease.monthly_price_cents

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # ------------------------------------------------------------------ helpers

    @contextmanager
    def clock(self) -> Iterator[None]:
        with time_machine.travel(self.now, tick=False):
            yield

    def attempt(self, name: str, call: Callable[[], Any]) -> Any:
        """Run one service call; a refusal must leave everything exactly as it was."""
        before = snapshot()
        try:
            with self.clock():
                result = call()
        except ServiceError:
            assert snapshot() == before, f"refused {name} changed data"
            self.counts[f"{name} refused"] = self.counts.get(f"{name} refused", 0) + 1
            return None
        self.counts[name] = self.counts.get(name, 0) + 1
        return result

    def pick(self, items: list[Any], i: int) -> Any:
        return items[i % len(items)]

    def requests(self) -> list[LeaseRequest]:
        """Requests in the order they were made. Not by id: two ids made in the same
        millisecond sort at random, which made the same example take other paths."""
        found = LeaseRequest.objects.in_bulk(self.request_ids)
        return [found[pk] for pk in self.request_ids if pk in found]

    # ------------------------------------------------------------------ rules

    @rule(org=index, amount=st.sampled_from([1, 9_900, 15_000, 45_000]))
    def top_up(self, org: int, amount: int) -> None:
        target = self.pick(self.orgs, org)
        done = self.attempt(
            "top up",
            lambda: wallet_top_up(organization=target, amount_cents=amount, memo="t", actor=SYSTEM),
        )
        if done:
            self.balance[target.pk] += amount

    @rule(org=index, amount=st.sampled_from([1, 15_000, 60_000]))
    def charge_back(self, org: int, amount: int) -> None:
        target = self.pick(self.orgs, org)
        done = self.attempt(
            "charge back",
            lambda: wallet_adjust(
                organization=target, amount_cents=-amount, memo="chargeback", actor=SYSTEM
            ),
        )
        if done:
            self.balance[target.pk] -= amount

    @rule(project=index, count=st.integers(min_value=1, max_value=3))
    def request(self, project: int, count: int) -> None:
        target = self.pick(self.projects, project)
        made = self.attempt(
            "request",
            lambda: lease_request_create(
                project=target, count=count, vertical="coffee", actor=SYSTEM
            ),
        )
        if made is not None:
            self.request_ids.append(made.pk)

    @rule(request=index, person=index)
    def claim(self, request: int, person: int) -> None:
        requests = self.requests()
        if requests:
            target = self.pick(requests, request)
            actor = self.pick(self.people, person)
            self.attempt("claim", lambda: lease_request_claim(request=target, actor=actor))

    @rule(request=index, picks=st.lists(index, min_size=1, max_size=3))
    def assign(self, request: int, picks: list[int]) -> None:
        open_requests = [r for r in self.requests() if r.is_open]
        if not open_requests:
            # Ops assign from the queue: nothing to assign until a partner asks.
            return
        target = self.pick(open_requests, request)
        chosen = list(dict.fromkeys(self.pick(self.accounts, i).pk for i in picks))
        leases = self.attempt(
            "assign",
            lambda: accounts_assign(request=target, account_ids=chosen, actor=SYSTEM, now=self.now),
        )
        if leases:
            self.balance[target.organization_id] -= sum(x.monthly_price_cents for x in leases)

    @rule(request=index, outcome=st.sampled_from(["partial", "rejected"]))
    def close(self, request: int, outcome: str) -> None:
        requests = self.requests()
        if requests:
            target = self.pick(requests, request)
            self.attempt(
                "close",
                lambda: lease_request_close(
                    request=target, outcome=outcome, note="done", actor=SYSTEM
                ),
            )

    @rule(
        request=index,
        person=index,
        # Blank and too long are refused, like a visibility that is neither kind.
        body=st.sampled_from(["checking stock", "on it", "  ", "x" * 2001]),
        visibility=st.sampled_from(["internal", "partner", "public"]),
    )
    def note(self, request: int, person: int, body: str, visibility: str) -> None:
        requests = self.requests()
        if requests:
            target = self.pick(requests, request)
            actor = self.pick(self.people, person)
            self.attempt(
                "note",
                lambda: request_note_add(
                    request=target, body=body, visibility=visibility, actor=actor
                ),
            )

    @rule(lease=index, by_ops=st.booleans())
    def release(self, lease: int, by_ops: bool) -> None:
        leases = list(Lease.objects.order_by("id"))
        if leases:
            target = self.pick(leases, lease)
            reason = "released_by_ops" if by_ops else "released_by_partner"
            self.attempt(
                "release",
                lambda: lease_release(lease=target, actor=SYSTEM, reason=reason, note="back"),
            )

    @rule(account=index)
    def retire(self, account: int) -> None:
        target = PoolAccount.objects.get(pk=self.pick(self.accounts, account).pk)
        self.attempt(
            "retire", lambda: pool_account_retire(account=target, reason="lost", actor=SYSTEM)
        )

    @rule(ready=st.booleans(), kind=index)
    def new_account(self, ready: bool, kind: int) -> None:
        account = self.attempt(
            "new account",
            lambda: pool_account_create(
                handle=f"acct_{len(self.accounts)}",
                followers=1000,
                verticals=self.pick(list(VERTICALS), kind),
                language=self.pick(list(LANGUAGES), kind // 3),
                state="ready" if ready else "warming",
                actor=SYSTEM,
            ),
        )
        self.accounts.append(account)

    @rule(account=index)
    def mark_ready(self, account: int) -> None:
        target = PoolAccount.objects.get(pk=self.pick(self.accounts, account).pk)
        self.attempt("mark ready", lambda: pool_account_mark_ready(account=target, actor=SYSTEM))

    @rule(account=index)
    def mark_warming(self, account: int) -> None:
        target = PoolAccount.objects.get(pk=self.pick(self.accounts, account).pk)
        self.attempt(
            "mark warming", lambda: pool_account_mark_warming(account=target, actor=SYSTEM)
        )

    @rule(days=st.integers(min_value=1, max_value=70))
    def renew(self, days: int) -> None:
        self.now += timedelta(days=days)
        report = self.attempt("renew", lambda: renewals_run(now=self.now, actor=SYSTEM))
        assert report is not None  # the renewal job refuses nothing; it disconnects
        for entry in report.charged:
            self.balance[entry.organization_id] += entry.amount_cents
        self.counts["renewal charges"] = self.counts.get("renewal charges", 0) + len(report.charged)
        self.counts["unpaid disconnects"] = self.counts.get("unpaid disconnects", 0) + len(
            report.disconnected
        )
        # Run again at the same moment: nothing is left to charge.
        again = self.attempt("renew again", lambda: renewals_run(now=self.now, actor=SYSTEM))
        assert again is not None
        assert again.charged == []

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_database_rules_hold(self) -> None:
        assert_invariants()

    @invariant()
    def every_wallet_holds_what_the_model_says(self) -> None:
        actual = dict(Organization.objects.values_list("id", "balance_cents"))
        assert actual == self.balance
        assert min(actual.values()) >= 0

    @invariant()
    def no_lease_is_overdue_and_nothing_is_dated_ahead(self) -> None:
        # The clock only moves inside `renew`, whose run handles every lease due by then
        # (charged for each missed period, or disconnected), so none is ever left overdue.
        overdue = Lease.objects.filter(status="assigned", next_renewal_at__lte=self.now)
        assert not overdue.exists()
        assert not LedgerEntry.objects.filter(created_at__gt=self.now).exists()


def test_the_services_keep_every_rule_whatever_the_order():
    machines: list[LeaseDesk] = []

    class Recording(LeaseDesk):
        def __init__(self) -> None:
            super().__init__()
            machines.append(self)

    run_state_machine_as_test(
        Recording,
        settings=settings(
            max_examples=80,
            stateful_step_count=40,
            deadline=None,
            # The same sequences on every run, so CI is repeatable; raise max_examples
            # (or drop derandomize) locally to explore further.
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    totals: dict[str, int] = {}
    for machine in machines:
        for name, n in machine.counts.items():
            totals[name] = totals.get(name, 0) + n
    print(f"\n[figures] state machine, {len(machines)} runs: {dict(sorted(totals.items()))}")
    # The runs really did exercise the money paths, successes and refusals alike.
    for name in (
        "assign",
        "assign refused",
        "release",
        "top up",
        "close",
        "mark warming",
        "note",
        "note refused",
    ):
        assert totals.get(name, 0) > 0, (name, totals)
    assert totals.get("renewal charges", 0) + totals.get("unpaid disconnects", 0) > 0, totals

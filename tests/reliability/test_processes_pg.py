"""Money and assignment rules under real parallel processes (PostgreSQL only).

Each worker is its own Python process with its own Django and database connection
(tests/reliability/worker.py), started together; the figures each test prints are the
ones docs/reliability.md quotes.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Min

from leasing.models import Lease, LedgerEntry, PoolAccount
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run
from leasing.services.leases import lease_release
from leasing.services.pool import pool_import_csv
from tests import factories
from tests.invariants import assert_invariants, snapshot
from tests.reliability import processes
from tests.services.test_concurrency_pg import in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.for_system("tests")
PRICE = 15_000


@pytest.fixture(autouse=True)
def _role_groups(transactional_db):
    factories.restore_role_groups()


def ready_accounts(n: int, prefix: str) -> list[str]:
    """`n` ready coffee accounts, imported in one go."""
    lines = ["handle,platform,followers,verticals,language,geo,state"]
    lines += [f"{prefix}_{i},tiktok,{1000 + i},coffee,en,US,ready" for i in range(n)]
    report = pool_import_csv(stream=io.StringIO("\n".join(lines) + "\n"), actor=SYSTEM)
    assert report.ok, report.errors
    return list(
        PoolAccount.objects.filter(handle__startswith=f"{prefix}_").values_list("id", flat=True)
    )


def assert_no_account_doubly_leased() -> None:
    doubled = (
        Lease.objects.filter(status=Lease.Status.ASSIGNED)
        .values("account")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(doubled) == []


def test_eight_processes_contending_for_fifty_accounts(request):
    workers, attempts = 8, 500
    accounts = ready_accounts(50, "contested")
    projects = [
        factories.make_project(factories.make_org(balance_cents=20_000_000)) for _ in range(workers)
    ]
    started = time.monotonic()
    running = processes.start(
        "contest",
        [
            {"seed": n, "project": p.pk, "accounts": accounts, "attempts": attempts, "hold": 3}
            for n, p in enumerate(projects)
        ],
    )
    results = processes.results(running, timeout=240)
    seconds = round(time.monotonic() - started, 1)

    assert [r["unexpected"] for r in results] == [[]] * workers
    outcomes: Counter[str] = Counter()
    for result in results:
        outcomes.update(result["outcomes"])
    # Every attempt either won or was told the account is already taken; nothing else.
    assert set(outcomes) == {"assigned", "Conflict:already taken"}, outcomes
    assert sum(outcomes.values()) == workers * attempts
    assert outcomes["Conflict:already taken"] > attempts  # the contest was real

    created = sum(r["leases_created"] for r in results)
    assert Lease.objects.count() == created
    assert LedgerEntry.objects.filter(kind="lease_charge").count() == created
    assert_no_account_doubly_leased()
    assert_invariants()
    processes.report(
        request.node.name,
        {
            "processes": workers,
            "attempts": workers * attempts,
            "won": outcomes["assigned"],
            "already_taken": outcomes["Conflict:already taken"],
            "other_outcomes": 0,
            "leases_created": created,
            "lease_charges": created,
            "releases": sum(r["released"] for r in results),
            "seconds": seconds,
        },
    )


WALLET_ROLES = {
    # role: (workers, steps, pause between steps, refusals it may meet)
    "assign": (3, 150, 0.0, {"Conflict:already taken", "BillingExhausted", "InvalidState"}),
    "renew": (2, 45, 0.03, set()),
    "top_up": (1, 60, 0.03, set()),
    "charge_back": (1, 60, 0.03, {"InvalidState"}),
}


def test_assignments_renewals_top_ups_and_charge_backs_on_one_wallet(request):
    org = factories.make_org("Shared Wallet", balance_cents=10 * PRICE)
    project = factories.make_project(org)
    accounts = ready_accounts(20, "walleted")
    start = datetime.now(UTC)
    args: list[dict[str, object]] = []
    roles: list[str] = []
    for role, (count, steps, pause, _) in WALLET_ROLES.items():
        for n in range(count):
            roles.append(role)
            args.append(
                {
                    "role": role,
                    "seed": len(args),
                    "organization": org.pk,
                    "project": project.pk,
                    "accounts": accounts,
                    "steps": steps,
                    "pause": pause,
                    "start": start.isoformat(),
                    "days_per_step": 4 + n,  # two renewers, each with its own clock
                    "amount": 2 * PRICE,
                }
            )
    started = time.monotonic()
    results = processes.results(processes.start("wallet", args), timeout=240)
    seconds = round(time.monotonic() - started, 1)

    assert [r["unexpected"] for r in results] == [[]] * len(results)
    by_role: dict[str, Counter[str]] = {role: Counter() for role in WALLET_ROLES}
    for role, result in zip(roles, results, strict=True):
        by_role[role].update(result["outcomes"])
    for role, outcomes in by_role.items():
        allowed = WALLET_ROLES[role][3] | {"done"}
        assert set(outcomes) <= allowed, (role, outcomes)

    org.refresh_from_db()
    assert org.balance_cents >= 0
    lowest = LedgerEntry.objects.filter(organization=org).aggregate(m=Min("balance_after_cents"))
    assert lowest["m"] >= 0
    assert_invariants()  # ledger sum == balance for every partner, one charge per period
    renewal_charges = LedgerEntry.objects.filter(kind="renewal_charge").count()
    unpaid = Lease.objects.filter(disconnected_reason="billing_exhausted").count()
    # The wallet really ran dry at times (refused assignments or unpaid renewals), and the
    # renewal runs really had leases to act on.
    assert by_role["assign"]["BillingExhausted"] + unpaid > 0
    assert renewal_charges + unpaid > 0
    processes.report(
        request.node.name,
        {
            "processes": len(results),
            "outcomes": {role: dict(c) for role, c in by_role.items()},
            "lease_charges": LedgerEntry.objects.filter(kind="lease_charge").count(),
            "renewal_charges": renewal_charges,
            "disconnected_billing_exhausted": unpaid,
            "lowest_balance_after_cents": lowest["m"],
            "final_balance_cents": org.balance_cents,
            "seconds": seconds,
        },
    )


def leases_due(partners: int, per_partner: int, assigned_at: datetime) -> list[int]:
    """`partners` x `per_partner` leases assigned at `assigned_at`, 50 to a request."""
    accounts = ready_accounts(partners * per_partner, "renewing")
    for n in range(partners):
        project = factories.make_project(factories.make_org(balance_cents=100_000_000))
        mine = accounts[n * per_partner : (n + 1) * per_partner]
        for start in range(0, per_partner, 50):
            batch = mine[start : start + 50]
            lease_request = factories.make_request(project, count=len(batch))
            accounts_assign(request=lease_request, account_ids=batch, actor=SYSTEM, now=assigned_at)
    return list(Lease.objects.values_list("id", flat=True))


def charges_per_lease_period() -> Counter[tuple[int, int | None]]:
    return Counter(
        LedgerEntry.objects.filter(kind="renewal_charge").values_list("lease_id", "period")
    )


def test_renewals_killed_mid_run_then_run_twice_at_once_charge_each_period_once(request):
    assigned_at = datetime(2026, 1, 15, 9, tzinfo=UTC)
    now = datetime(2026, 4, 16, 9, tzinfo=UTC)  # periods 1, 2 and 3 are due
    lease_ids = leases_due(partners=4, per_partner=100, assigned_at=assigned_at)
    expected = {(lease_id, period) for lease_id in lease_ids for period in (1, 2, 3)}

    # A run killed with SIGKILL part-way: no chance to clean up.
    [victim] = processes.start("renew", [{"now": now.isoformat()}])
    deadline = time.monotonic() + 60
    while LedgerEntry.objects.filter(kind="renewal_charge").count() < len(expected) // 4:
        assert victim.process.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    victim.kill()
    after_kill = charges_per_lease_period()
    # Each lease was renewed whole (all its due periods) or not at all, and only once.
    periods = Counter(Lease.objects.values_list("periods_charged", flat=True))
    assert set(periods) <= {1, 4}, periods
    assert 0 < periods[4] < len(lease_ids)
    assert max(after_kill.values()) == 1
    assert_invariants()

    # Two runs at once pick up the rest; a third finds nothing left.
    reruns = processes.results(
        processes.start("renew", [{"now": now.isoformat()}, {"now": now.isoformat()}]),
        timeout=120,
    )
    again = renewals_run(now=now)
    final = charges_per_lease_period()
    assert set(final) == expected  # none skipped
    assert max(final.values()) == 1  # none charged twice
    assert sum(r["charged"] for r in reruns) == len(expected) - len(after_kill)
    assert len(again.charged) == 0
    assert set(Lease.objects.values_list("periods_charged", flat=True)) == {4}
    assert_invariants()
    processes.report(
        request.node.name,
        {
            "leases": len(lease_ids),
            "charges_due": len(expected),
            "charged_before_kill": len(after_kill),
            "leases_renewed_before_kill": periods[4],
            "charged_by_each_concurrent_rerun": [r["charged"] for r in reruns],
            "skipped_by_each_concurrent_rerun": [r["skipped"] for r in reruns],
            "charged_by_third_run": len(again.charged),
            "charges_per_lease_period": sorted(set(final.values())),
        },
    )


def wait_for_charges(worker: processes.Worker, n: int) -> dict[str, Any]:
    line: dict[str, Any] = {}
    for _ in range(n):
        line = worker.read_line()
        assert "charged" in line, line
    return line


def test_an_assignment_killed_half_way_leaves_no_lease_and_no_charge(request):
    org = factories.make_org("Half Way", balance_cents=50 * PRICE)
    lease_request = factories.make_request(factories.make_project(org), count=20)
    accounts = ready_accounts(20, "halfway")
    before = snapshot()
    [worker] = processes.start(
        "assign_slowly", [{"request": lease_request.pk, "accounts": accounts, "pause": 0.05}]
    )
    wait_for_charges(worker, 8)  # eight leases and charges written, not yet committed
    worker.kill()

    assert snapshot() == before
    assert not Lease.objects.exists()
    assert not LedgerEntry.objects.filter(kind="lease_charge").exists()
    assert set(PoolAccount.objects.filter(pk__in=accounts).values_list("state", flat=True)) == {
        "ready"
    }
    assert_invariants()
    processes.report(request.node.name, {"accounts": 20, "charges_written_before_kill": 8})


def test_the_database_going_away_mid_assignment_shows_the_503_page_and_keeps_nothing(
    request, ops_user
):
    org = factories.make_org("Cut Off", balance_cents=50 * PRICE)
    lease_request = factories.make_request(factories.make_project(org), count=10)
    accounts = ready_accounts(10, "cutoff")
    before = snapshot()
    [worker] = processes.start(
        "dashboard_assign_slowly",
        [
            {
                "request": lease_request.pk,
                "accounts": accounts,
                "pause": 0.1,
                "username": ops_user.get_username(),
            }
        ],
    )
    line = wait_for_charges(worker, 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [line["backend_pid"]])
    [result] = processes.results([worker], timeout=60)

    assert result["status"] == 503
    assert "can't reach its database" in result["page"]
    assert "Nothing was changed" in result["page"]
    assert snapshot() == before
    assert not Lease.objects.exists()
    assert_invariants()
    processes.report(
        request.node.name, {"charges_written_before_cut": 3, "status": result["status"]}
    )


def test_a_release_racing_an_assignment_for_the_same_partner_never_deadlocks(request):
    """The race the shared-wallet test found: with FOR UPDATE locks, a release (account,
    then an audit event that references the partner) and an assignment (partner, then the
    same account) deadlocked, and PostgreSQL aborted one of them."""
    org = factories.make_org("Busy Partner", balance_cents=100 * PRICE)
    project = factories.make_project(org)
    rounds, outcomes = 30, Counter[str]()
    for _ in range(rounds):
        account = factories.make_account()
        [lease] = accounts_assign(
            request=factories.make_request(project, count=1), account_ids=[account.pk], actor=SYSTEM
        )
        rival = factories.make_request(project, count=1)
        results = in_parallel(
            [
                partial(lease_release, lease=lease, actor=SYSTEM),
                partial(accounts_assign, request=rival, account_ids=[account.pk], actor=SYSTEM),
            ]
        )
        outcomes.update(
            f"{'release' if n == 0 else 'assign'}:{type(r).__name__}" for n, r in enumerate(results)
        )
    assert outcomes["release:Lease"] == rounds, outcomes
    assert outcomes["assign:list"] + outcomes["assign:Conflict"] == rounds, outcomes
    assert_invariants()
    processes.report(request.node.name, {"rounds": rounds, "outcomes": dict(outcomes)})

"""A worker process for the multi-process tests: `python -m tests.reliability.worker JOB ARGS`.

It sets Django up against the database DATABASE_URL names (the test database of the test
that started it), prints one JSON line saying it is ready (with its database backend
pid), waits for "go" on stdin so that every worker starts at once, runs JOB and prints one
JSON line with what happened. Service refusals are counted by kind; anything else is a
failure the test reports.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

Result = dict[str, Any]


def emit(data: Result) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def refusal(exc: Exception) -> str:
    """A short, countable name for a refusal: "Conflict:already taken", "BillingExhausted"."""
    from leasing.services.errors import Conflict

    if isinstance(exc, Conflict) and "already taken" in exc.message:
        return "Conflict:already taken"
    return type(exc).__name__


def contest(args: Result) -> Result:
    """Assign 1-2 random accounts out of a shared set, over and over; hold a few leases and
    release the oldest, so the accounts keep coming back and the contest stays real."""
    from leasing.models import LeaseRequest, Project
    from leasing.services.allocation import accounts_assign
    from leasing.services.audit import Actor
    from leasing.services.errors import ServiceError
    from leasing.services.leases import lease_release
    from leasing.services.requests import lease_request_create

    rng = random.Random(args["seed"])
    actor = Actor.for_system(f"worker-{args['seed']}")
    project = Project.objects.get(pk=args["project"])
    accounts: list[str] = args["accounts"]
    request: LeaseRequest | None = None
    held: list[Any] = []
    outcomes: Counter[str] = Counter()
    leases_created = released = 0
    unexpected: list[str] = []
    for _ in range(args["attempts"]):
        pick = rng.choice((1, 2))
        if request is None or request.remaining < pick:
            request = lease_request_create(
                project=project, count=50, vertical="coffee", actor=actor
            )
        chosen = rng.sample(accounts, pick)
        try:
            leases = accounts_assign(request=request, account_ids=chosen, actor=actor)
        except ServiceError as exc:
            outcomes[refusal(exc)] += 1
            continue
        except Exception as exc:
            unexpected.append(repr(exc))
            continue
        outcomes["assigned"] += 1
        leases_created += len(leases)
        held.extend(leases)
        while len(held) > args["hold"]:
            try:
                lease_release(lease=held.pop(0), actor=actor)
                released += 1
            except Exception as exc:
                unexpected.append(f"release: {exc!r}")
    return {
        "outcomes": dict(outcomes),
        "leases_created": leases_created,
        "released": released,
        "unexpected": unexpected,
    }


def wallet(args: Result) -> Result:
    """One role in the shared-wallet test: assign, renew, top up or charge back."""
    from leasing.models import LeaseRequest, Organization, Project
    from leasing.services.allocation import accounts_assign
    from leasing.services.audit import Actor
    from leasing.services.billing import renewals_run, wallet_adjust, wallet_top_up
    from leasing.services.errors import ServiceError
    from leasing.services.leases import lease_release
    from leasing.services.requests import lease_request_create

    rng = random.Random(args["seed"])
    actor = Actor.for_system(f"{args['role']}-{args['seed']}")
    org = Organization.objects.get(pk=args["organization"])
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    charged = disconnected = 0
    request: LeaseRequest | None = None
    held: list[Any] = []
    start = datetime.fromisoformat(args["start"])
    for step in range(args["steps"]):
        try:
            if args["role"] == "assign":
                pick = rng.choice((1, 2))
                if request is None or request.remaining < pick:
                    project = Project.objects.get(pk=args["project"])
                    request = lease_request_create(
                        project=project, count=50, vertical="coffee", actor=actor
                    )
                leases = accounts_assign(
                    request=request, account_ids=rng.sample(args["accounts"], pick), actor=actor
                )
                held.extend(leases)
                while len(held) > 3:
                    lease = held.pop(0)
                    lease.refresh_from_db()
                    if lease.status == "assigned":
                        lease_release(lease=lease, actor=actor)
            elif args["role"] == "renew":
                report = renewals_run(now=start + timedelta(days=args["days_per_step"] * step))
                charged += len(report.charged)
                disconnected += len(report.disconnected)
            elif args["role"] == "top_up":
                wallet_top_up(
                    organization=org, amount_cents=args["amount"], memo="top-up", actor=actor
                )
            elif args["role"] == "charge_back":
                wallet_adjust(
                    organization=org, amount_cents=-args["amount"], memo="chargeback", actor=actor
                )
        except ServiceError as exc:
            outcomes[refusal(exc)] += 1
            continue
        except Exception as exc:
            unexpected.append(repr(exc))
            continue
        finally:
            # Spread each role over the whole run, so they really overlap.
            time.sleep(args.get("pause", 0))
        outcomes["done"] += 1
    return {
        "outcomes": dict(outcomes),
        "charged": charged,
        "disconnected": disconnected,
        "unexpected": unexpected,
    }


def renew(args: Result) -> Result:
    from leasing.services.billing import renewals_run

    report = renewals_run(now=datetime.fromisoformat(args["now"]))
    return {
        "charged": len(report.charged),
        "disconnected": len(report.disconnected),
        "skipped": report.skipped,
        "unexpected": [],
    }


def assign_slowly(args: Result) -> Result:
    """One big assignment whose charges trickle in, so the test can kill it half-way."""
    from unittest import mock

    from leasing.models import LeaseRequest
    from leasing.services import allocation
    from leasing.services.audit import Actor

    real_post = allocation.ledger_post  # type: ignore[attr-defined]

    def slow_post(**kwargs: Any) -> Any:
        entry = real_post(**kwargs)
        emit({"charged": entry.pk})
        time.sleep(args["pause"])
        return entry

    request = LeaseRequest.objects.get(pk=args["request"])
    with mock.patch.object(allocation, "ledger_post", slow_post):
        leases = allocation.accounts_assign(
            request=request, account_ids=args["accounts"], actor=Actor.for_system("slow")
        )
    return {"leases": len(leases), "unexpected": []}


def dashboard_assign_slowly(args: Result) -> Result:
    """The dashboard's assign action, its charges trickling in; the test cuts the database
    connection half-way and the page must be the friendly 503."""
    from unittest import mock

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from leasing.services import allocation

    real_post = allocation.ledger_post  # type: ignore[attr-defined]

    def slow_post(**kwargs: Any) -> Any:
        entry = real_post(**kwargs)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            emit({"charged": entry.pk, "backend_pid": cursor.fetchone()[0]})
        time.sleep(args["pause"])
        return entry

    client = Client()
    client.force_login(get_user_model().objects.get(username=args["username"]))
    with mock.patch.object(allocation, "ledger_post", slow_post):
        response = client.post(
            f"/requests/{args['request']}/assign/", {"account": args["accounts"]}
        )
    return {
        "status": response.status_code,
        "page": response.content.decode()[:3000],
        "unexpected": [],
    }


JOBS = {
    "contest": contest,
    "wallet": wallet,
    "renew": renew,
    "assign_slowly": assign_slowly,
    "dashboard_assign_slowly": dashboard_assign_slowly,
}


def main() -> None:
    job, args = sys.argv[1], json.loads(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leasing.settings")
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    emit({"ready": True, "backend_pid": backend_pid})
    if sys.stdin.readline().strip() != "go":
        return
    started = time.monotonic()
    result = JOBS[job](args)
    result["seconds"] = round(time.monotonic() - started, 2)
    emit(result)


if __name__ == "__main__":
    main()

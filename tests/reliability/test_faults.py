"""Faults: a database that is not there, one that fails mid-write, a crash mid-assignment.

The unreachable database is real: a separate process points Django at a port nothing
listens on (PostgreSQL) or a file that cannot be opened (SQLite). Failures mid-write are
simulated inside the service transaction; tests/reliability/test_processes_pg.py also
cuts a real connection and kills a real process half-way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from leasing.models import Lease, LeaseRequest, LedgerEntry, PoolAccount
from leasing.roles import OPS
from leasing.services import allocation
from leasing.services import requests as request_services
from leasing.services.audit import Actor, audit_record
from leasing.services.billing import ledger_post
from tests import factories
from tests.api.conftest import assert_error, request_body, request_url
from tests.invariants import assert_invariants, snapshot
from tests.reliability.world import client_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = Actor.for_system("tests")

# Run inside a process whose DATABASE_URL points nowhere.
PROBE = """
import json, django
django.setup()
from django.test import Client
key = {"Authorization": "Bearer lp_live_0123456789ABCD_" + "s" * 40}
project = "prj_01HX9Y7K8M2P4RSTUV56789AB"
out = {}
def api(response):
    return {"status": response.status_code, "body": response.json(),
            "request_id": response["X-Request-Id"], "retry": response.get("Retry-After")}
def page(response):
    return {"status": response.status_code, "body": response.content.decode(),
            "retry": response.get("Retry-After")}
client = Client(raise_request_exception=False)
out["api_read"] = api(client.get(f"/v1/projects/{project}/leased-accounts", headers=key))
out["api_write"] = api(client.post(
    f"/v1/projects/{project}/leased-accounts/request", data="{}",
    content_type="application/json", headers={**key, "Idempotency-Key": "k1"}))
client.cookies["sessionid"] = "a" * 32
out["queue"] = page(client.get("/"))
out["assign"] = page(client.post("/requests/lreq_01HX9Y7K8M2P4RSTUV56789AB/assign/"))
out["sign_in"] = page(Client(raise_request_exception=False).post(
    "/login/", {"username": "olivia", "password": "warm-queue-41"}))
out["sign_in_page"] = page(Client(raise_request_exception=False).get("/login/"))
print(json.dumps(out))
"""

DEAD_DATABASES = {
    "postgresql": "postgres://root@127.0.0.1:1/lease_desk",  # nothing listens on port 1
    "sqlite": "sqlite:////nonexistent-directory/lease_desk.sqlite3",
}


def probe(database_url: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="leasing.settings")
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return data


@pytest.mark.parametrize("engine", DEAD_DATABASES)
def test_an_unreachable_database_is_503_in_the_api_and_a_friendly_page_on_the_dashboard(engine):
    out = probe(DEAD_DATABASES[engine])
    for name in ("api_read", "api_write"):
        answer = out[name]
        assert answer["status"] == 503, (name, answer)
        assert answer["body"] == {
            "error": {
                "code": "UNAVAILABLE",
                "message": "the service is temporarily unavailable; retry shortly",
                "requestId": answer["request_id"],
            }
        }
    for name in ("queue", "assign", "sign_in"):
        answer = out[name]
        assert answer["status"] == 503, (name, answer["status"])
        assert "Lease Desk can't reach its database" in answer["body"], name
        assert "Nothing was changed" in answer["body"]
        assert answer["retry"] == "30"
        assert "Traceback" not in answer["body"]
        assert "OperationalError" not in answer["body"]
    # The sign-in page itself needs no database.
    assert out["sign_in_page"]["status"] == 200


def failing_after(real: Any, calls: int, exc: BaseException) -> mock.Mock:
    """A stand-in for `real` that works `calls` times, then raises `exc`."""
    count = {"n": 0}

    def side_effect(*args: Any, **kwargs: Any) -> Any:
        count["n"] += 1
        if count["n"] > calls:
            raise exc
        return real(*args, **kwargs)

    return mock.Mock(side_effect=side_effect)


@pytest.fixture
def open_request():
    org = factories.make_org("Faulty", balance_cents=150_000)
    return factories.make_request(factories.make_project(org), count=5)


def test_the_database_failing_mid_assignment_on_the_dashboard_is_503_and_keeps_nothing(
    open_request,
):
    accounts = [factories.make_account().pk for _ in range(5)]
    client = client_for(OPS)
    before = snapshot()
    lost = OperationalError("server closed the connection unexpectedly")
    with mock.patch.object(allocation, "ledger_post", failing_after(ledger_post, 3, lost)):
        response = client.post(f"/requests/{open_request.pk}/assign/", {"account": accounts})
    assert response.status_code == 503
    assert "Nothing was changed" in response.content.decode()
    assert snapshot() == before
    assert_invariants()
    # When the database is back, the same action goes through.
    response = client.post(f"/requests/{open_request.pk}/assign/", {"account": accounts})
    assert response.status_code == 303
    assert Lease.objects.filter(request=open_request).count() == 5
    assert_invariants()


def test_the_database_failing_mid_request_in_the_api_is_503_and_a_retry_works(db, partner, project):
    _, raw = factories.make_key(partner)
    client = Client(headers={"Authorization": f"Bearer {raw}", "Idempotency-Key": "retry-me"})
    url, body = request_url(project.pk), json.dumps(request_body(project))
    before = snapshot()
    lost = OperationalError("connection lost")
    with mock.patch.object(request_services, "audit_record", failing_after(audit_record, 0, lost)):
        response = client.post(url, data=body, content_type="application/json")
    assert_error(response, 503, "UNAVAILABLE")
    assert snapshot() == before  # the request row written before the failure is gone
    # The key was not spent on the failure: the partner's retry is the first real call.
    retry = client.post(url, data=body, content_type="application/json")
    assert retry.status_code == 202
    assert "Idempotent-Replayed" not in retry
    assert LeaseRequest.objects.filter(organization=partner).count() == 1


@pytest.mark.parametrize("failing", ["ledger_post", "audit_record", "bulk_update"])
def test_a_crash_mid_assignment_leaves_no_charge_without_a_lease_nor_a_lease_without_one(
    open_request, failing
):
    """Whatever step of the assignment blows up, after some leases and charges were
    written, the whole assignment is gone: the transaction never commits."""
    accounts = [factories.make_account().pk for _ in range(5)]
    before = snapshot()
    crash = RuntimeError("crash")
    target: Any = PoolAccount.objects if failing == "bulk_update" else allocation
    real = getattr(target, failing)
    calls = 3 if failing == "ledger_post" else 0  # three leases and charges written first
    with (
        mock.patch.object(target, failing, failing_after(real, calls, crash)),
        pytest.raises(RuntimeError, match="crash"),
    ):
        allocation.accounts_assign(request=open_request, account_ids=accounts, actor=SYSTEM)
    assert snapshot() == before
    assert not Lease.objects.exists()
    assert not LedgerEntry.objects.filter(kind="lease_charge").exists()
    assert_invariants()


def test_a_database_error_raised_by_a_middleware_is_the_503_page_too(world):
    """The session is saved by a middleware after the view, out of the view-error path; the
    handler500 hook still tells a lost database from a bug."""
    from django.contrib.sessions.backends.db import SessionStore

    client = client_for(OPS)
    client.raise_request_exception = False
    with mock.patch.object(SessionStore, "save", side_effect=OperationalError("gone")):
        response = client.get("/pool/import/")  # hands out an import token in the session
    assert response.status_code == 503
    assert "Lease Desk can't reach its database" in response.content.decode()
    with mock.patch.object(SessionStore, "save", side_effect=ZeroDivisionError):
        response = client.get("/pool/import/")
    assert response.status_code == 500  # a real bug is still a 500

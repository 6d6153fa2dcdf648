from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from leasing.models import (
    ApiCallLog,
    IdempotencyRecord,
    Lease,
    LedgerEntry,
    Organization,
    RateLimitWindow,
)
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.housekeeping import purge_expired
from tests import factories
from tests.commands.conftest import db_state

ASSIGNED = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def lease_for(org: Organization, handle: str) -> Lease:
    request_ = factories.make_request(factories.make_project(org), count=1)
    account = factories.make_account(handle)
    [lease] = accounts_assign(
        request=request_, account_ids=[account.pk], actor=Actor.for_system("tests"), now=ASSIGNED
    )
    return lease


def test_renewals_charge_each_due_lease_once_and_print_it(run):
    org = factories.make_org("Brewline Coffee", balance_cents=60_000)
    lease = lease_for(org, "latte_lab")

    result = run("run_renewals", "--now=2026-02-28T12:00:00Z")

    lease.refresh_from_db()
    assert lease.periods_charged == 2
    assert lease.next_renewal_at == datetime(2026, 3, 31, 9, 30, tzinfo=UTC)
    charge = LedgerEntry.objects.get(kind="renewal_charge")
    assert (charge.lease, charge.period, charge.amount_cents) == (lease, 1, -15_000)
    assert charge.actor_label == "system:run_renewals"
    org.refresh_from_db()
    assert org.balance_cents == 60_000 - 2 * 15_000
    assert (
        "charged       Brewline Coffee: @latte_lab $150.00 for period 1 "
        f"(lease {lease.pk}, next renewal 2026-03-31T09:30:00Z)"
    ) in result.out
    assert (
        "Renewals due by 2026-02-28T12:00:00Z: 1 charge(s) totalling $150.00, "
        "0 disconnection(s), 0 already handled by another run."
    ) in result.out


def test_a_second_run_charges_nothing(run):
    org = factories.make_org(balance_cents=60_000)
    lease_for(org, "latte_lab")
    run("run_renewals", "--now=2026-02-28T12:00:00Z")
    before = db_state()

    result = run("run_renewals", "--now=2026-02-28T12:00:00Z")

    assert "0 charge(s) totalling $0.00" in result.out
    assert db_state()["ledger"] == before["ledger"]
    assert db_state()["leases"] == before["leases"]


def test_a_lease_the_wallet_cannot_cover_is_disconnected(run):
    org = factories.make_org("Thin Wallet", balance_cents=15_000)
    lease = lease_for(org, "latte_lab")

    result = run("run_renewals", "--now=2026-03-01")

    lease.refresh_from_db()
    assert lease.status == "disconnected"
    assert lease.disconnected_reason == "billing_exhausted"
    assert lease.account.state == "ready"
    assert (
        f"disconnected  Thin Wallet: @latte_lab (lease {lease.pk}) billing_exhausted: "
        "Wallet held $0.00; the renewal needed $150.00"
    ) in result.out
    assert "0 charge(s) totalling $0.00, 1 disconnection(s)" in result.out


def test_quiet_prints_only_the_totals(run):
    org = factories.make_org(balance_cents=60_000)
    lease_for(org, "latte_lab")

    result = run("run_renewals", "--now=2026-02-28T12:00:00Z", "--quiet")

    assert result.out.splitlines()[0].startswith("Renewals due by 2026-02-28T12:00:00Z: 1 charge")
    assert "latte_lab" not in result.out
    assert LedgerEntry.objects.filter(kind="renewal_charge").count() == 1


def test_now_without_an_offset_is_utc(run):
    org = factories.make_org(balance_cents=60_000)
    lease_for(org, "latte_lab")

    result = run("run_renewals", "--now=2026-02-28 09:29:59")

    assert "Renewals due by 2026-02-28T09:29:59Z: 0 charge(s)" in result.out


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "28/02/2026", ""])
def test_a_bad_now_is_refused_and_changes_nothing(fail, value):
    org = factories.make_org(balance_cents=60_000)
    lease_for(org, "latte_lab")
    before = db_state()

    result = fail("run_renewals", f"--now={value}")

    assert result.error == (
        f"--now: {value!r} is not an ISO-8601 date-time (for example 2026-05-01T06:00:00Z)"
    )
    assert db_state() == before


def make_api_rows(org: Organization, now: datetime) -> None:
    key, _ = factories.make_key(org)
    for name, expires in (("old", now - timedelta(seconds=1)), ("live", now + timedelta(hours=1))):
        IdempotencyRecord.objects.create(
            organization=org,
            key=name,
            request_fingerprint="f",
            created_at=expires - timedelta(hours=24),
            expires_at=expires,
        )
    for start in (now - timedelta(minutes=3), now - timedelta(seconds=30)):
        RateLimitWindow.objects.create(
            api_key=key, endpoint_class="read-light", window_start=start, count=1
        )
    for n, age in enumerate((timedelta(days=31), timedelta(days=29))):
        ApiCallLog.objects.create(
            request_id=f"req_{n}",
            organization=org,
            api_key=key,
            method="GET",
            path="/v1/x",
            status=200,
            duration_ms=3,
            created_at=now - age,
        )


def test_renewals_purge_expired_api_rows_and_keep_live_ones(run):
    make_api_rows(factories.make_org(), timezone.now())

    result = run("run_renewals")

    assert (
        "Purged 1 expired idempotency key(s), 1 rate-limit window(s) and 1 API call log row(s)."
    ) in result.out
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]
    assert RateLimitWindow.objects.count() == 1
    assert list(ApiCallLog.objects.values_list("request_id", flat=True)) == ["req_1"]


def test_a_future_now_does_not_purge_live_idempotency_keys(run):
    make_api_rows(factories.make_org(), timezone.now())

    run("run_renewals", f"--now={(timezone.now() + timedelta(days=60)).isoformat()}")

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]
    assert list(ApiCallLog.objects.values_list("request_id", flat=True)) == ["req_1"]


def test_purge_expired_command_prints_counts(run):
    make_api_rows(factories.make_org(), timezone.now())

    result = run("purge_expired")

    assert result.out == (
        "Purged 1 expired idempotency key(s), 1 rate-limit window(s) and 1 API call log row(s).\n"
    )
    assert IdempotencyRecord.objects.count() == 1


def test_purge_expired_service_counts_what_it_deleted(db):
    now = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
    make_api_rows(factories.make_org(), now)

    counts = purge_expired(now=now)

    assert (counts.idempotency_keys, counts.rate_limit_windows, counts.api_calls) == (1, 1, 1)
    assert counts.total == 3
    assert purge_expired(now=now).total == 0

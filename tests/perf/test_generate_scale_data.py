"""generate_scale_data: sizes as asked, every rule of the data model kept, and refusals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count

from leasing.management.commands import generate_scale_data
from leasing.models import (
    ApiCallLog,
    AuditEvent,
    Lease,
    LeaseRequest,
    LedgerEntry,
    Organization,
    PoolAccount,
    PoolAccountTag,
    Project,
    RequestNote,
)
from leasing.money import add_months
from tests import factories
from tests.invariants import assert_invariants

TINY = {
    "accounts": 400,
    "requests": 60,
    "partners": 6,
    "projects": 10,
    "leases": 120,
    "ledger": 600,
    "api_calls_days": 2,
    "api_calls_per_day": 25,
}


def generate(**options) -> str:
    out = StringIO()
    call_command("generate_scale_data", stdout=out, stderr=StringIO(), **(TINY | options))
    return out.getvalue()


def test_month_arithmetic_matches_the_billing_calendar():
    rng = random.Random(7)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    for _ in range(2000):
        moment = start + timedelta(seconds=rng.randrange(4 * 365 * 86400))
        months = rng.randrange(0, 40)
        assert generate_scale_data.add_months(moment, months) == add_months(moment, months)


def test_refuses_sqlite_with_a_clear_error(db, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        generate()


def test_refuses_sizes_that_cannot_be_consistent(db, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "postgresql")
    with pytest.raises(CommandError, match="--leases must be at most --accounts"):
        generate(leases=500)
    with pytest.raises(CommandError, match="--projects must be at least --partners"):
        generate(projects=3)
    with pytest.raises(CommandError, match="--ledger must be at least"):
        generate(ledger=100)


@pytest.mark.postgres
def test_generates_the_sizes_asked_for_and_keeps_every_rule(staff_roles):
    out = generate()

    assert "Scale data generated" in out
    assert PoolAccount.objects.count() == TINY["accounts"]
    assert LeaseRequest.objects.count() == TINY["requests"]
    assert Organization.objects.count() == TINY["partners"]
    assert Project.objects.count() == TINY["projects"]
    assert Lease.objects.count() == TINY["leases"]
    assert LedgerEntry.objects.count() == TINY["ledger"]
    assert ApiCallLog.objects.count() == TINY["api_calls_days"] * TINY["api_calls_per_day"]
    statuses = set(LeaseRequest.objects.values_list("status", flat=True))
    assert statuses == set(LeaseRequest.Status.values)
    assert set(Lease.objects.values_list("status", flat=True)) == set(Lease.Status.values)
    assert RequestNote.objects.exists()
    # Closing a request as partial or rejected always leaves a partner-visible note.
    closed = LeaseRequest.objects.filter(status__in=["partial", "rejected"])
    assert not closed.exclude(notes__visibility=RequestNote.Visibility.PARTNER).exists()
    assert_invariants()


@pytest.mark.postgres
def test_tag_rows_mirror_each_accounts_lists(staff_roles):
    generate()

    tags = {
        (account, kind, value)
        for account, kind, value in PoolAccountTag.objects.values_list("account", "kind", "value")
    }
    expected = set()
    for pk, verticals, countries in PoolAccount.objects.values_list("pk", "verticals", "countries"):
        expected |= {(pk, "vertical", v) for v in verticals}
        expected |= {(pk, "country", c) for c in countries}
    assert tags == expected


@pytest.mark.postgres
def test_a_second_run_replaces_its_own_data_without_force(staff_roles):
    generate(seed=1)
    first = set(Organization.objects.values_list("pk", flat=True))

    generate(seed=2)

    assert Organization.objects.count() == TINY["partners"]
    assert not first & set(Organization.objects.values_list("pk", flat=True))
    assert AuditEvent.objects.filter(action=generate_scale_data.MARKER_ACTION).count() == 1
    assert_invariants()


@pytest.mark.postgres
def test_refuses_a_database_with_data_it_did_not_generate(staff_roles):
    partner = factories.make_org("Brewline Coffee")
    factories.make_account("real_account")

    with pytest.raises(CommandError, match=r"1 partners, 1 pool accounts.*--force"):
        generate()

    assert list(Organization.objects.values_list("pk", flat=True)) == [partner.pk]
    assert PoolAccount.objects.get().handle == "real_account"


@pytest.mark.postgres
def test_refuses_data_added_after_a_generation(staff_roles):
    generate()
    factories.make_org("Onboarded Later")

    with pytest.raises(CommandError, match="1 partners"):
        generate()

    assert Organization.objects.filter(name="Onboarded Later").exists()


@pytest.mark.postgres
def test_force_replaces_other_data(staff_roles):
    factories.make_org("Brewline Coffee")

    generate(force=True)

    assert not Organization.objects.filter(name="Brewline Coffee").exists()
    assert Organization.objects.count() == TINY["partners"]
    assert_invariants()


@pytest.mark.postgres
def test_rows_are_skewed_like_real_use(staff_roles):
    generate(partners=20, projects=30, requests=400, leases=900, ledger=3000, accounts=2000)

    per_partner = sorted(
        Lease.objects.values("organization").annotate(n=Count("*")).values_list("n", flat=True),
        reverse=True,
    )
    # A few big partners hold most leases; the tail holds few.
    assert sum(per_partner[:4]) > sum(per_partner) / 2
    verticals = PoolAccountTag.objects.filter(kind="vertical")
    top = verticals.values("value").annotate(n=Count("*")).order_by("-n").first()
    assert top is not None
    assert top["n"] > verticals.count() / 20
    assert verticals.values("value").distinct().count() > 50

"""What `seed_demo` builds. The demo is loaded once for this module, inside a transaction
rolled back at the end; each test runs in a savepoint of it, so tests can't leak."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from leasing.demo import DEMO_STAFF
from leasing.models import (
    ApiKey,
    Lease,
    LeaseRequest,
    Organization,
    PoolAccount,
    Project,
    RequestNote,
)
from leasing.services.partners import api_key_authenticate
from leasing.services.staff import staff_role
from tests.commands.conftest import db_state, ledger_problems

User = get_user_model()
MD5_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(scope="module")
def demo_output(django_db_setup, django_db_blocker):
    out = StringIO()
    fast_hashing = override_settings(PASSWORD_HASHERS=[MD5_HASHER])
    with django_db_blocker.unblock(), fast_hashing, transaction.atomic():
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def seeded(demo_output, db):
    return demo_output


def test_seed_demo_meets_the_minimums(seeded):
    assert Organization.objects.count() >= 10
    assert Project.objects.count() >= 20
    assert ApiKey.objects.values("organization").distinct().count() == Organization.objects.count()
    assert PoolAccount.objects.count() >= 2000
    verticals = Counter(
        v for tags in PoolAccount.objects.values_list("verticals", flat=True) for v in tags
    )
    assert len(verticals) >= 8
    languages = set(PoolAccount.objects.values_list("language", flat=True))
    assert len(languages) >= 5
    assert set(PoolAccount.objects.values_list("state", flat=True)) == {
        "warming",
        "ready",
        "leased",
        "retired",
    }


def test_seed_demo_fills_the_queue_in_every_status_with_notes(seeded):
    now = timezone.now()
    by_status = Counter(LeaseRequest.objects.values_list("status", flat=True))
    for status in LeaseRequest.Status.values:
        assert by_status[status] >= 5, by_status
    recent = LeaseRequest.objects.filter(submitted_at__gte=now - timedelta(days=5))
    assert recent.count() >= 60
    queue = LeaseRequest.objects.filter(status__in=LeaseRequest.OPEN_STATUSES)
    ages = [(now - r.submitted_at).total_seconds() / 3600 for r in queue]
    assert any(age > 48 for age in ages)
    assert any(24 < age <= 48 for age in ages)
    assert any(age < 24 for age in ages)
    assert LeaseRequest.objects.filter(status="in_progress", claimed_by__isnull=False).exists()
    notes = Counter(RequestNote.objects.values_list("visibility", flat=True))
    assert notes["internal"] >= 5
    assert notes["partner"] >= 5
    # Every request closed as partial or rejected carries the note the partner reads.
    closed = LeaseRequest.objects.filter(status__in=["partial", "rejected"])
    assert all(r.notes.filter(visibility="partner").exists() for r in closed)


def test_seed_demo_builds_billing_history_that_adds_up(seeded):
    now = timezone.now()
    assert ledger_problems() == []
    oldest = Lease.objects.order_by("assigned_at").first()
    assert oldest is not None
    assert (now - oldest.assigned_at).days >= 60
    assert Lease.objects.filter(periods_charged__gte=3).exists()
    active = Lease.objects.filter(status="assigned")
    assert active.filter(next_renewal_at__lte=now + timedelta(days=5)).count() >= 3
    reasons = set(
        Lease.objects.filter(status="disconnected").values_list("disconnected_reason", flat=True)
    )
    assert reasons == set(Lease.Reason.values)
    # Every active lease holds a leased account and no account has two.
    assert set(active.values_list("account_id", flat=True)) == set(
        PoolAccount.objects.filter(state="leased").values_list("id", flat=True)
    )
    counts = LeaseRequest.objects.annotate(n=Count("leases")).values_list("assigned_count", "n")
    assert all(assigned == made for assigned, made in counts)


def test_seed_demo_prints_a_summary_and_one_working_key(seeded):
    assert "12 partners, 20 projects" in seeded
    assert "2,000 pool accounts" in seeded
    key_line = seeded.split("(shown once, not saved anywhere):\n")[1].splitlines()[0]
    key = api_key_authenticate(key_line.strip())
    assert key is not None
    assert key.organization.name == "Brewline Coffee Roasters"


def test_seed_demo_creates_the_demo_staff_with_their_documented_passwords(seeded):
    for login in DEMO_STAFF:
        user = User.objects.get(username=login.username)
        assert user.check_password(login.password)
        assert staff_role(user) == login.role
        validate_password(login.password, user)


def test_seed_demo_twice_creates_nothing_new(run, seeded):
    before = db_state()

    result = run("seed_demo")

    assert "already loaded; nothing created" in result.out
    assert db_state() == before


def test_demo_logins_prints_every_login_and_the_urls(run, seeded):
    result = run("demo_logins")

    assert "http://127.0.0.1:8000/" in result.out
    assert "http://127.0.0.1:8000/admin/" in result.out
    for login in DEMO_STAFF:
        assert f"{login.username:<10}{login.role:<10}{login.password}\n" in result.out
    assert "not in this database yet" not in result.out


def test_the_example_pool_file_imports_alongside_the_demo(run, seeded):
    # The README tells newcomers to try import_pool on the demo database.
    result = run("import_pool", str(Path(settings.BASE_DIR) / "docs" / "examples" / "pool.csv"))

    assert "Imported 10 account(s)" in result.out


@pytest.mark.django_db
def test_demo_logins_names_the_address_make_run_serves_on():
    out = StringIO()
    call_command("demo_logins", "--base-url", "http://127.0.0.1:8100/", stdout=out)
    assert "dashboard http://127.0.0.1:8100/  admin http://127.0.0.1:8100/admin/" in out.getvalue()

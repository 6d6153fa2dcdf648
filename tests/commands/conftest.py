from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from leasing.models import (
    ApiCallLog,
    ApiKey,
    AuditEvent,
    IdempotencyRecord,
    Lease,
    LeaseRequest,
    LedgerEntry,
    Organization,
    PoolAccount,
    PoolAccountTag,
    Project,
    RateLimitWindow,
    RequestNote,
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Staff users are made in most tests here; the real hasher costs ~0.2 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Result:
    def __init__(self, out: str, err: str, error: str = "") -> None:
        self.out = out
        self.err = err
        self.error = error  # the CommandError's message, for a refused command


Run = Callable[..., Result]


@pytest.fixture
def run(db) -> Run:
    """Run a command as from the shell, capturing what it prints."""

    def _run(name: str, *args: str, **options: Any) -> Result:
        out, err = StringIO(), StringIO()
        call_command(name, *args, stdout=out, stderr=err, **options)
        return Result(out.getvalue(), err.getvalue())

    return _run


@pytest.fixture
def fail(db) -> Run:
    """Run a command that must be refused; return its error message and what it printed."""

    def _fail(name: str, *args: str, **options: Any) -> Result:
        out, err = StringIO(), StringIO()
        with pytest.raises(CommandError) as refused:
            call_command(name, *args, stdout=out, stderr=err, **options)
        assert refused.value.returncode != 0
        return Result(out.getvalue(), err.getvalue(), str(refused.value))

    return _fail


def db_state() -> dict[str, Any]:
    """Everything a refused command must leave as it was."""
    return {
        "users": list(get_user_model().objects.order_by("id").values_list("id", "username")),
        "organizations": list(
            Organization.objects.order_by("id").values_list("id", "status", "balance_cents")
        ),
        "projects": Project.objects.count(),
        "keys": list(ApiKey.objects.order_by("id").values_list("id", "revoked_at")),
        "ledger": LedgerEntry.objects.count(),
        "leases": list(Lease.objects.order_by("id").values_list("id", "status", "next_renewal_at")),
        "requests": list(
            LeaseRequest.objects.order_by("id").values_list(
                "id", "status", "assigned_count", "closed_at"
            )
        ),
        "notes": RequestNote.objects.count(),
        "accounts": list(PoolAccount.objects.order_by("id").values_list("id", "state")),
        "tags": PoolAccountTag.objects.count(),
        "audit": AuditEvent.objects.count(),
        "housekeeping": (
            IdempotencyRecord.objects.count(),
            RateLimitWindow.objects.count(),
            ApiCallLog.objects.count(),
        ),
    }


def ledger_problems() -> list[str]:
    """Each ledger sums to its balance and its running balance reads true in date order."""
    problems = []
    sums = dict(
        LedgerEntry.objects.values("organization")
        .annotate(total=Sum("amount_cents"))
        .values_list("organization", "total")
    )
    for org in Organization.objects.all():
        if sums.get(org.pk, 0) != org.balance_cents:
            problems.append(f"{org.name}: ledger {sums.get(org.pk, 0)} != {org.balance_cents}")
    running: dict[str, int] = defaultdict(int)
    for entry in LedgerEntry.objects.order_by("created_at", "id"):
        running[entry.organization_id] += entry.amount_cents
        if running[entry.organization_id] != entry.balance_after_cents:
            problems.append(f"entry {entry.pk} ({entry.created_at}) breaks the running balance")
    return problems

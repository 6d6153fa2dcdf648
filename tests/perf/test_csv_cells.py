"""Cells written by the database are byte for byte the cells csv_cell writes in Python."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import OuterRef, Subquery
from django.http import QueryDict

from leasing import exports
from leasing.models import Lease, LedgerEntry, PoolAccount
from leasing.services.audit import Actor
from leasing.services.billing import wallet_adjust, wallet_top_up
from tests import factories
from tests.ops2.conftest import lease_accounts

pytestmark = pytest.mark.django_db

ACTOR = Actor.for_system("tests")
AWKWARD = ["=cmd", "+1", "-2", "@x", "\tt", "\rr", 'quo"te', "com,ma", "new\nline", "é ü 漢", ""]


def _python_bytes(report: exports.Report) -> bytes:
    """The report as the generic route writes it: csv_cell on every raw value."""
    rows = [list(row) for row in report.rows]
    return b"".join(
        exports.csv_lines(exports.Report(report.name, report.header, rows, {}), actor=ACTOR)
    )


def _pool_python_bytes(filterset) -> bytes:
    """The pool report as the generic route writes it from the raw columns."""
    lease = Lease.objects.filter(account=OuterRef("pk"), status=Lease.Status.ASSIGNED)
    raw = filterset.qs.annotate(
        leased_to_id=Subquery(lease.values("organization_id")[:1]),
        leased_to=Subquery(lease.values("organization__name")[:1]),
    ).values_list(
        "id",
        "handle",
        "platform",
        "state",
        "followers",
        "verticals",
        "language",
        "countries",
        "warmed_since",
        "leased_to_id",
        "leased_to",
        "retired_reason",
        "created_at",
    )
    return _python_bytes(exports.Report("pool", exports.POOL_HEADER, raw, {}))


def _cells_bytes(report: exports.Report) -> bytes:
    """The report as it is served: on PostgreSQL the database writes the lines (COPY)."""
    assert report.cells_ready
    return b"".join(exports.csv_lines(report, actor=ACTOR))


def test_pool_cells_match_python(project, admin_user):
    for i, text in enumerate(AWKWARD):
        factories.make_account(
            f"awkward_{i}",
            verticals=[text.strip() or "coffee", "=tea"] if i % 2 else ["coffee"],
            countries=["US", "CA"] if i % 3 else [],
            warmed_since=date(2025, 2, i + 1) if i % 2 else None,
        )
    PoolAccount.objects.filter(handle="awkward_3").update(retired_reason=AWKWARD[0], notes="x")
    lease_accounts(project, 2)
    filterset = exports.pool_filterset(user=admin_user, data=QueryDict(""))
    assert filterset.is_valid()
    python = _pool_python_bytes(filterset)
    cells = _cells_bytes(exports.pool_report(filterset, QueryDict("")))
    assert cells == python
    assert b"'=cmd" in cells or b"'=tea" in cells


def test_ledger_cells_match_python(project, admin_user):
    org = project.organization
    for text in AWKWARD[:-1]:
        wallet_top_up(organization=org, amount_cents=12345, memo=text, actor=ACTOR)
    wallet_adjust(organization=org, amount_cents=-10000, memo="-correction", actor=ACTOR)
    for cents in (100, 1250, 5, 10, 100_000_000):
        # 1, 12.5, 0.05, 0.1, 1000000: Decimal's own way of writing each
        wallet_top_up(organization=org, amount_cents=cents, memo="small", actor=ACTOR)
    lease_accounts(project, 2)
    assert LedgerEntry.objects.filter(lease__isnull=False).exists()
    filterset = exports.ledger_filterset(user=admin_user, data=QueryDict(""))
    assert filterset.is_valid()
    raw = filterset.qs.values_list(
        "id",
        "created_at",
        "organization_id",
        "organization__name",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "memo",
        "lease_id",
        "lease__account__handle",
        "period",
        "actor_label",
    )
    rows = [[*row[:7], exports.dollars(row[5]), exports.dollars(row[6]), *row[7:]] for row in raw]
    python = _python_bytes(exports.Report("ledger", exports.LEDGER_HEADER, rows, {}))
    cells = _cells_bytes(exports.ledger_report(filterset, QueryDict("")))
    assert cells == python


@pytest.mark.parametrize(
    "verticals",
    [
        ["coffee", "tea"],
        ["é ü 漢", "naïve"],
        ['quo", "te', "x"],  # looks like the separator jsonb writes, but escaped
        ["back\\slash"],
        ["", "=tea"],
        ["one"],
    ],
)
def test_list_cells_match_python_with_and_without_escapes(admin_user, verticals):
    account = factories.make_account("lists", verticals=["coffee"])
    # Straight into the row: the services would normalise these, the cells must not care.
    PoolAccount.objects.filter(pk=account.pk).update(verticals=verticals, countries=[])
    filterset = exports.pool_filterset(user=admin_user, data=QueryDict(""))
    assert filterset.is_valid()
    python = _pool_python_bytes(filterset)
    assert _cells_bytes(exports.pool_report(filterset, QueryDict(""))) == python

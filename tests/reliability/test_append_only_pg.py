"""On PostgreSQL the ledger and the audit log refuse UPDATE and DELETE (migration 0005),
whatever sends them: the ORM, raw SQL, a bulk delete."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from leasing.models import AuditEvent, LedgerEntry
from leasing.services.audit import Actor
from leasing.services.billing import wallet_top_up
from tests import factories
from tests.invariants import assert_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.for_system("tests")


@pytest.fixture
def history():
    org = factories.make_org("Append Only", balance_cents=0)
    entry = wallet_top_up(organization=org, amount_cents=5_000, memo="first", actor=SYSTEM)
    event = AuditEvent.objects.get(action="wallet.top_up", object_id=org.pk)
    return entry, event


def refused(change) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        change()
    return str(caught.value)


def test_ledger_entries_cannot_be_changed_or_deleted(history):
    entry, _ = history
    rows = LedgerEntry.objects.filter(pk=entry.pk)
    assert "leasing_ledgerentry is append-only: UPDATE refused" in refused(
        lambda: rows.update(amount_cents=1_000_000)
    )
    assert "DELETE refused" in refused(rows.delete)
    assert "UPDATE refused" in refused(lambda: rows.update(memo="rewritten"))
    entry.refresh_from_db()
    assert (entry.amount_cents, entry.memo) == (5_000, "first")
    assert_invariants()


def test_audit_events_cannot_be_changed_or_deleted(history):
    _, event = history
    rows = AuditEvent.objects.filter(pk=event.pk)
    assert "leasing_auditevent is append-only: UPDATE refused" in refused(
        lambda: rows.update(actor_label="someone else")
    )
    assert "DELETE refused" in refused(AuditEvent.objects.all().delete)

    def raw_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE leasing_auditevent SET action = 'nothing' WHERE id = %s", [event.pk]
            )

    assert "UPDATE refused" in refused(raw_sql)
    event.refresh_from_db()
    assert event.action == "wallet.top_up"


def test_appending_still_works(history):
    entry, _ = history
    wallet_top_up(organization=entry.organization, amount_cents=1, memo="more", actor=SYSTEM)
    assert LedgerEntry.objects.filter(organization=entry.organization).count() == 2
    assert_invariants()

from __future__ import annotations

from leasing.models import Lease, LedgerEntry
from leasing.services.allocation import accounts_assign, candidates_rank
from leasing.services.audit import Actor
from tests import factories


def test_assign_charges_and_leases(ops_user, project):
    req = factories.make_request(project, count=2)
    a, b = factories.make_account(), factories.make_account(language="fr")
    cands = candidates_rank(request=req)
    assert [c.account.pk for c in cands] == [a.pk, b.pk]
    leases = accounts_assign(request=req, account_ids=[a.pk, b.pk], actor=Actor.for_user(ops_user))
    assert len(leases) == 2
    req.refresh_from_db()
    assert req.status == "assigned"
    project.organization.refresh_from_db()
    assert project.organization.balance_cents == 120_000
    assert LedgerEntry.objects.filter(kind="lease_charge").count() == 2
    assert Lease.objects.filter(status="assigned").count() == 2

"""Every change to money, leases, keys or roles writes its audit event in the same
transaction, and nothing in the app can edit or delete an audit event or a ledger entry.

"Same transaction" is checked by failing right after the audit event is written, still
inside the service: if the event lived in a transaction of its own, or the change were
committed before it, something would survive the failure. Nothing does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from leasing.models import AuditEvent, Lease, LedgerEntry
from leasing.roles import ADMIN, OPS
from leasing.services import allocation, billing, leases, partners, requests, staff
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.audit import audit_record as real_audit_record
from leasing.services.billing import (
    organization_set_price,
    renewals_run,
    wallet_adjust,
    wallet_refund,
    wallet_top_up,
)
from leasing.services.leases import lease_release
from leasing.services.partners import (
    api_key_issue,
    api_key_revoke,
    organization_onboard,
    organization_set_status,
)
from leasing.services.pool import pool_account_retire
from leasing.services.requests import lease_request_close
from leasing.services.staff import staff_create
from tests import factories
from tests.invariants import assert_invariants, snapshot
from tests.reliability.world import client_for

pytestmark = pytest.mark.django_db

SYSTEM = Actor.for_system("tests")


class AfterAudit(Exception):
    """Raised just after the audit event is written, inside the service's transaction."""


def _lease() -> Lease:
    org = factories.make_org(balance_cents=150_000)
    lease_request = factories.make_request(factories.make_project(org), count=1)
    [lease] = accounts_assign(
        request=lease_request,
        account_ids=[factories.make_account().pk],
        actor=SYSTEM,
        now=datetime(2026, 1, 10, tzinfo=UTC),
    )
    return lease


def _assign() -> Callable[[], Any]:
    lease_request = factories.make_request(factories.make_project(factories.make_org()), count=2)
    accounts = [factories.make_account().pk for _ in range(2)]
    return lambda: accounts_assign(request=lease_request, account_ids=accounts, actor=SYSTEM)


def _close() -> Callable[[], Any]:
    lease_request = factories.make_request(factories.make_project(factories.make_org()))
    return lambda: lease_request_close(
        request=lease_request, outcome="rejected", note="none fit", actor=SYSTEM
    )


def _release() -> Callable[[], Any]:
    lease = _lease()
    return lambda: lease_release(lease=lease, actor=SYSTEM)


def _renew() -> Callable[[], Any]:
    _lease()
    return lambda: renewals_run(now=datetime(2026, 2, 11, tzinfo=UTC))


def _renew_unpaid() -> Callable[[], Any]:
    lease = _lease()
    wallet_adjust(
        organization=lease.organization,
        amount_cents=-lease.organization.balance_cents,
        memo="drain",
        actor=SYSTEM,
    )
    return lambda: renewals_run(now=datetime(2026, 2, 11, tzinfo=UTC))


def _retire_leased() -> Callable[[], Any]:
    lease = _lease()
    return lambda: pool_account_retire(account=lease.account, reason="banned", actor=SYSTEM)


def _money(service: Callable[..., Any], amount: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        org = factories.make_org()
        return lambda: service(organization=org, amount_cents=amount, memo="why", actor=SYSTEM)

    return setup


def _price() -> Callable[[], Any]:
    org = factories.make_org()
    return lambda: organization_set_price(organization=org, monthly_price_cents=9_900, actor=SYSTEM)


def _suspend() -> Callable[[], Any]:
    org = factories.make_org()
    return lambda: organization_set_status(organization=org, status="suspended", actor=SYSTEM)


def _onboard() -> Callable[[], Any]:
    return lambda: organization_onboard(
        name="New Partner", project_name="First", wallet_cents=50_000, actor=SYSTEM
    )


def _issue_key() -> Callable[[], Any]:
    org = factories.make_org()
    return lambda: api_key_issue(organization=org, actor=SYSTEM)


def _revoke_key() -> Callable[[], Any]:
    api_key, _ = factories.make_key(factories.make_org())
    return lambda: api_key_revoke(api_key=api_key, actor=SYSTEM)


def _staff() -> Callable[[], Any]:
    return lambda: staff_create(username="newcomer", role=OPS, actor=SYSTEM)


# (what changes, how to set it up, the module whose audit_record it calls, the action)
CHANGES = [
    ("money: top-up", _money(wallet_top_up, 10_000), billing, "wallet.top_up"),
    ("money: adjustment", _money(wallet_adjust, -1_000), billing, "wallet.adjustment"),
    ("money: refund", _money(wallet_refund, 1_000), billing, "wallet.refund"),
    ("money: price", _price, billing, "organization.set_price"),
    ("money: partner onboarded", _onboard, partners, "organization.onboard"),
    ("lease: assignment and charges", _assign, allocation, "request.assign"),
    ("lease: renewal charge", _renew, billing, "lease.renew"),
    ("lease: unpaid renewal disconnects", _renew_unpaid, leases, "lease.disconnect"),
    ("lease: release", _release, leases, "lease.disconnect"),
    ("lease: account retired under it", _retire_leased, leases, "lease.disconnect"),
    ("lease: request closed", _close, requests, "request.close_rejected"),
    ("partner suspended", _suspend, partners, "organization.set_status"),
    ("key: issued", _issue_key, partners, "api_key.issue"),
    ("key: revoked", _revoke_key, partners, "api_key.revoke"),
    ("role: staff user created", _staff, staff, "staff.create"),
]
IDS = [name for name, *_ in CHANGES]


def everything() -> dict[str, Any]:
    User = get_user_model()
    return {
        **snapshot(),
        "ledger_rows": list(LedgerEntry.objects.order_by("id").values_list("id", "amount_cents")),
        "users": list(User.objects.order_by("id").values_list("id", "username", "is_active")),
        "memberships": list(
            User.groups.through.objects.order_by("id").values_list("user_id", "group_id")
        ),
    }


@pytest.mark.parametrize(("name", "setup", "module", "action"), CHANGES, ids=IDS)
def test_each_change_writes_its_audit_event(name, setup, module, action):
    change = setup()
    before = AuditEvent.objects.count()
    change()
    assert AuditEvent.objects.filter(action=action).count() >= 1
    assert AuditEvent.objects.count() > before
    assert_invariants()


@pytest.mark.parametrize(("name", "setup", "module", "action"), CHANGES, ids=IDS)
def test_a_failure_after_the_audit_event_takes_the_change_with_it(name, setup, module, action):
    change = setup()
    before = everything()
    written = []

    def audit_then_fail(**kwargs: Any) -> AuditEvent:
        event = real_audit_record(**kwargs)
        written.append(event.action)
        raise AfterAudit

    with mock.patch.object(module, "audit_record", audit_then_fail), pytest.raises(AfterAudit):
        change()
    assert written, "the service never reached its audit event"
    assert everything() == before
    assert_invariants()


def test_the_admin_cannot_add_change_or_delete_audit_events_or_ledger_entries():
    wallet_top_up(organization=factories.make_org(), amount_cents=1, memo="m", actor=SYSTEM)
    event, entry = AuditEvent.objects.first(), LedgerEntry.objects.first()
    assert event is not None
    assert entry is not None
    client = client_for(ADMIN)  # a superuser
    before = everything()
    for model, obj in (("auditevent", event), ("ledgerentry", entry)):
        base = f"/admin/leasing/{model}/"
        page = client.get(f"{base}{obj.pk}/change/")
        assert page.status_code == 200  # readable...
        assert 'name="_save"' not in page.content.decode()  # ...with nothing to save
        assert (
            client.post(f"{base}{obj.pk}/change/", {"memo": "x", "action": "x"}).status_code == 403
        )
        assert client.get(f"{base}{obj.pk}/delete/").status_code == 403
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
        assert client.post(f"{base}add/", {}).status_code == 403
        changelist = client.post(
            base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
        )
        assert changelist.status_code in (200, 302)  # no such action; nothing deleted
    assert everything() == before


def test_no_role_group_may_change_audit_or_ledger_rows():
    perms = Group.objects.filter(
        permissions__content_type__model__in=["auditevent", "ledgerentry"],
        permissions__codename__regex=r"^(add|change|delete)_",
    )
    assert not perms.exists()

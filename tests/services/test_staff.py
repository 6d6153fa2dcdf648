"""Staff accounts: the four roles and what a new user must satisfy."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory

from leasing import roles
from leasing.models import AuditEvent
from leasing.services.errors import Conflict, ValidationFailed
from leasing.services.staff import staff_create, staff_role
from tests.invariants import snapshot

STRONG = "Correct-Horse-9-Battery"


def test_role_groups_exist_from_the_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


@pytest.mark.parametrize(
    ("role", "can", "cannot"),
    [
        ("ops", ["leasing.triage_request", "leasing.release_lease"], ["leasing.manage_wallet"]),
        ("support", ["leasing.add_internal_note"], ["leasing.triage_request"]),
        ("finance", ["leasing.manage_wallet", "leasing.set_price"], ["leasing.manage_pool"]),
    ],
)
def test_each_role_gets_its_groups_permissions(system, role, can, cannot):
    user, _ = staff_create(username=f"new_{role}", role=role, password=STRONG, actor=system)
    user = get_user_model().objects.get(pk=user.pk)
    assert user.is_staff
    assert not user.is_superuser
    assert staff_role(user) == role
    assert all(user.has_perm(p) for p in can)
    assert not any(user.has_perm(p) for p in cannot)


def test_admin_is_a_superuser(system):
    user, _ = staff_create(username="boss", role="admin", password=STRONG, actor=system)
    user.refresh_from_db()
    assert user.is_superuser
    assert user.is_staff
    assert staff_role(user) == "admin"


def sign_in(username: str, password: str):
    # Sign-in throttling (django-axes) needs the request a real sign-in comes with.
    return authenticate(RequestFactory().post("/login/"), username=username, password=password)


def test_given_password_logs_in(system):
    staff_create(username="pat", role="ops", password=STRONG, actor=system)
    assert sign_in("pat", STRONG) is not None
    assert sign_in("pat", "wrong") is None


def test_password_is_generated_when_not_given(system):
    user, password = staff_create(username="gen", role="support", actor=system)
    assert len(password) >= 12
    assert sign_in("gen", password) == user


def test_staff_create_is_audited_without_the_password(system):
    user, password = staff_create(username="audited", role="ops", password=STRONG, actor=system)
    event = AuditEvent.objects.get(action="staff.create", object_id=str(user.pk))
    assert event.after == {"username": "audited", "role": "ops"}
    assert password not in str(event.after)


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"role": "root"}, {"role"}),
        ({"role": ""}, {"role"}),
        ({"username": ""}, {"username"}),
        ({"username": "has space"}, {"username"}),
        ({"username": "bad/char"}, {"username"}),
        ({"password": "short"}, {"password"}),
        ({"password": "password123"}, {"password"}),
        ({"password": "12345678901"}, {"password"}),
        ({"username": "johnsmith", "password": "johnsmith1"}, {"password"}),
        ({"role": "root", "username": "", "password": "x"}, {"role", "username"}),
    ],
)
def test_bad_staff_input_is_refused(system, kwargs, fields):
    args = {"username": "valid_user", "role": "ops", "password": STRONG, **kwargs}
    before = snapshot()
    users = get_user_model().objects.count()
    with pytest.raises(ValidationFailed) as exc:
        staff_create(actor=system, **args)
    assert {p.field for p in exc.value.fields} == fields
    assert snapshot() == before
    assert get_user_model().objects.count() == users


def test_username_taken_in_any_case_is_a_conflict(system):
    staff_create(username="Casey", role="ops", password=STRONG, actor=system)
    users = get_user_model().objects.count()
    with pytest.raises(Conflict, match="already exists"):
        staff_create(username="casey", role="finance", password=STRONG, actor=system)
    assert get_user_model().objects.count() == users


def test_user_without_a_role_has_none(db):
    user = get_user_model().objects.create_user(username="plain")
    assert staff_role(user) is None

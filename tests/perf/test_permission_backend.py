"""The permission backend answers exactly as Django's ModelBackend, in one query."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from leasing import roles
from leasing.auth import GROUP_NAMES, PermissionBackend
from leasing.services.staff import staff_role
from tests import factories


def _fresh(user: Any) -> Any:
    return type(user).objects.get(pk=user.pk)


@pytest.mark.parametrize("role", roles.ROLES)
def test_same_permissions_as_django_for_every_role(db, role):
    user = factories.make_staff(role)
    assert PermissionBackend().get_all_permissions(_fresh(user)) == (
        ModelBackend().get_all_permissions(_fresh(user))
    )


def test_own_and_group_permissions_together_in_one_query(db, ops_user, django_assert_num_queries):
    own = Permission.objects.get(codename="export_reports")
    ops_user.user_permissions.add(own)
    extra = Group.objects.create(name="auditors")
    extra.permissions.add(Permission.objects.get(codename="view_auditevent"))
    ops_user.groups.add(extra)
    user = _fresh(ops_user)

    with django_assert_num_queries(1):
        perms = PermissionBackend().get_all_permissions(user)
        assert user.has_perm("leasing.export_reports")  # cached: no second query

    assert perms == ModelBackend().get_all_permissions(_fresh(ops_user))
    assert {"leasing.export_reports", "leasing.view_auditevent", "leasing.triage_request"} <= perms


def test_the_role_comes_from_the_same_query(db, django_assert_num_queries):
    user = _fresh(factories.make_staff(roles.FINANCE))
    Group.objects.create(name="no permissions at all").user_set.add(user)
    user = _fresh(user)

    with django_assert_num_queries(1):
        assert user.has_perm("leasing.manage_wallet")
        assert staff_role(user) == roles.FINANCE
        assert getattr(user, GROUP_NAMES) == {roles.FINANCE, "no permissions at all"}


def test_the_role_of_a_user_not_yet_checked_is_read_from_the_database(db):
    user = _fresh(factories.make_staff(roles.SUPPORT))
    assert staff_role(user) == roles.SUPPORT


def test_inactive_users_have_no_permissions(db, ops_user):
    ops_user.is_active = False
    ops_user.save()
    assert PermissionBackend().get_all_permissions(_fresh(ops_user)) == set()
    assert not _fresh(ops_user).has_perm("leasing.view_dashboard")

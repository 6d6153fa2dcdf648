"""The permission backend answers exactly as Django's ModelBackend, in one query."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leasing import roles
from leasing.auth import GROUP_NAMES, PREPARED_NAME, PermissionBackend
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


# --- PostgreSQL: the query is prepared once per connection -----------------------------


def _prepared_here() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [PREPARED_NAME])
        return cursor.fetchone() is not None


def _permissions_sql(user: Any) -> tuple[set[str], list[str]]:
    with CaptureQueriesContext(connection) as queries:
        perms = PermissionBackend().get_all_permissions(_fresh(user))
    return perms, [q["sql"] for q in queries.captured_queries[1:]]  # after _fresh's SELECT


@pytest.mark.postgres
def test_prepared_once_then_executed(db, ops_user, support_user):
    assert settings.DB_PREPARED_STATEMENTS
    perms, ran = _permissions_sql(ops_user)
    assert _prepared_here()
    assert ran == [f"EXECUTE {PREPARED_NAME} ({ops_user.pk})"]
    assert perms == ModelBackend().get_all_permissions(_fresh(ops_user))
    # Another user, the same statement: no second PREPARE (it would fail: the name exists).
    perms, ran = _permissions_sql(support_user)
    assert ran == [f"EXECUTE {PREPARED_NAME} ({support_user.pk})"]
    assert perms == ModelBackend().get_all_permissions(_fresh(support_user))


@pytest.mark.postgres
def test_a_new_connection_prepares_it_again_and_a_rollback_keeps_it(transactional_db):
    factories.restore_role_groups()
    user = factories.make_staff(roles.OPS, "prep_ops")
    connection.close()
    assert not _prepared_here()  # a new connection holds nothing

    def check_and_undo() -> None:
        with transaction.atomic():
            assert "leasing.triage_request" in PermissionBackend().get_all_permissions(_fresh(user))
            raise RuntimeError("undo the transaction that prepared it")

    with pytest.raises(RuntimeError):
        check_and_undo()
    assert _prepared_here()
    assert "leasing.triage_request" in PermissionBackend().get_all_permissions(_fresh(user))


@pytest.mark.postgres
def test_turned_off_it_runs_the_plain_query(transactional_db, settings):
    settings.DB_PREPARED_STATEMENTS = False
    factories.restore_role_groups()
    user = factories.make_staff(roles.FINANCE, "plain_finance")
    connection.close()
    perms, ran = _permissions_sql(user)
    assert perms == ModelBackend().get_all_permissions(_fresh(user))
    assert len(ran) == 1
    assert ran[0].startswith("(SELECT")
    assert not _prepared_here()

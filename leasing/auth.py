"""Permission checks for staff: Django's ModelBackend, in one query instead of three."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import CharField, Model, QuerySet, Value

from leasing.db import (
    ModelStatement,
    fetch_prepared,
    model_statement,
    orm_statement,
    prepared_statements,
)

# Set on the user object by the permission check: the names of the user's groups.
GROUP_NAMES = "_group_names_cache"


class PermissionBackend(ModelBackend):
    """Every dashboard page checks a permission and shows the user's role (a group), and
    Django reads a user's own permissions, their groups' permissions and their groups with
    three queries. This reads all three in one; the permissions and their per-request
    cache (`_perm_cache`) are Django's, and the group names are kept beside them for
    `leasing.services.staff.staff_role`."""

    def get_user(self, user_id: Any) -> Any:
        """The signed-in user, as ModelBackend finds them (an inactive user is no one),
        read with a prepared statement where there are (leasing/db.py)."""
        if not prepared_statements():
            return super().get_user(user_id)
        model = get_user_model()
        found = _user_statement(model).instances([model._meta.pk.to_python(user_id)])
        if not found:
            return None
        user = found[0]
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj: Any, obj: Model | None = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                rows = Permission.objects.values_list("content_type__app_label", "codename")
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
            else:
                names, perms = set(), set()
                for name, app, codename in _groups_and_permissions(user_obj.pk):
                    if name:
                        names.add(name)
                    if codename:
                        perms.add(f"{app}.{codename}")
                user_obj._perm_cache = perms
                setattr(user_obj, GROUP_NAMES, names)
        cached: set[str] = user_obj._perm_cache
        return cached


# A user id no one has: the query is built for it once, then run for the real one.
_ANY_USER = -7_351_982

PERMISSIONS_STATEMENT = "lease_desk_permissions"
USER_STATEMENT = "lease_desk_user"


def _groups_and_permissions(user_id: int) -> list[tuple[str | None, str | None, str | None]]:
    """(group name or "", app label, codename) rows: each of the user's groups with each
    of its permissions (a group without any comes once, with NULLs), then the user's own
    permissions. A prepared statement where there are (leasing/db.py): PostgreSQL took
    longer to plan its joins than to answer (0.7 ms of every page)."""
    if prepared_statements():
        return fetch_prepared(PERMISSIONS_STATEMENT, _permissions_statement(), [user_id])
    sql, params = _groups_and_permissions_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id if param == _ANY_USER else param for param in params])
        rows: list[tuple[str | None, str | None, str | None]] = cursor.fetchall()
    return rows


@lru_cache(maxsize=2)
def _user_statement(model: Any) -> ModelStatement:
    """ModelBackend's query for the user (by primary key), built by the ORM once."""
    return model_statement(USER_STATEMENT, model._default_manager.filter(pk=_ANY_USER), [_ANY_USER])


@lru_cache(maxsize=1)
def _permissions_statement() -> str:
    return orm_statement(_permissions_query(), [_ANY_USER])


def _permissions_query() -> QuerySet[Any, Any]:
    """The union, built for a user id no one has."""
    user_model = get_user_model()
    own = user_model._meta.get_field("user_permissions").related_query_name()
    member = user_model._meta.get_field("groups").related_query_name()
    in_groups = Group.objects.filter(**{member: _ANY_USER}).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    held = Permission.objects.filter(**{own: _ANY_USER}).values_list(
        Value("", output_field=CharField()), "content_type__app_label", "codename"
    )
    return in_groups.order_by().union(held.order_by(), all=True)


@lru_cache(maxsize=2)
def _groups_and_permissions_sql(vendor: str) -> tuple[str, tuple[Any, ...]]:
    """The query's SQL for the database `vendor`, built by the ORM once: building and
    compiling the union took longer than running it, on every page."""
    sql, params = _permissions_query().query.sql_with_params()
    if list(params).count(_ANY_USER) != 2:
        raise ImproperlyConfigured(f"the permission query's parameters changed: {params!r}")
    return sql, tuple(params)

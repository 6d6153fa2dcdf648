"""Permission checks for staff: Django's ModelBackend, in one query instead of two."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Model, Q


class PermissionBackend(ModelBackend):
    """Every dashboard page checks a permission, and Django's backend reads a user's own
    permissions and their groups' permissions with two queries. This reads both in one
    query; the answer and the per-request cache (`_perm_cache`) are Django's."""

    def get_all_permissions(self, user_obj: Any, obj: Model | None = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                perms = Permission.objects.all()
            else:
                user_model = get_user_model()
                own = user_model._meta.get_field("user_permissions").related_query_name()
                member = user_model._meta.get_field("groups").related_query_name()
                perms = Permission.objects.filter(
                    Q(**{own: user_obj}) | Q(**{f"group__{member}": user_obj})
                )
            rows = perms.values_list("content_type__app_label", "codename").order_by().distinct()
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        cached: set[str] = user_obj._perm_cache
        return cached

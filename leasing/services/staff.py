"""Staff accounts and their roles."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from leasing.auth import GROUP_NAMES
from leasing.roles import ADMIN, ROLES
from leasing.services.audit import Actor, audit_record
from leasing.services.errors import Conflict, FieldProblem, ValidationFailed


def staff_create(
    *, username: str, role: str, actor: Actor, password: str | None = None
) -> tuple[AbstractUser, str]:
    """A staff user in one role. Returns the user and the password (generated if not given)."""
    User = get_user_model()
    problems = []
    if role not in ROLES:
        problems.append(FieldProblem("role", f"must be one of {', '.join(ROLES)}"))
    username = (username or "").strip()
    if not username:
        problems.append(FieldProblem("username", "is required"))
    else:
        try:
            User.username_validator(username)
        except ValidationError as exc:
            problems.append(FieldProblem("username", " ".join(exc.messages)))
    chosen = password if password is not None else secrets.token_urlsafe(12)
    if password is not None and username:
        try:
            validate_password(password, User(username=username))
        except ValidationError as exc:
            problems.append(FieldProblem("password", " ".join(exc.messages)))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise Conflict(f"a staff user named {username!r} already exists")
        user = User.objects.create_user(username=username, password=chosen)
        assert isinstance(user, AbstractUser)
        user.is_staff = True
        user.is_superuser = role == ADMIN
        user.save(update_fields=["is_staff", "is_superuser"])
        user.groups.add(Group.objects.get(name=role))
        audit_record(
            actor=actor,
            action="staff.create",
            object_type="user",
            object_id=str(user.pk),
            after={"username": username, "role": role},
        )
    return user, chosen


def staff_role(user: AbstractUser) -> str | None:
    """The user's role name (their first role group), or None."""
    names = getattr(user, GROUP_NAMES, None)
    if names is None:  # not loaded by a permission check in this request
        names = {group.name for group in user.groups.all()}
    return next((role for role in (ADMIN, *ROLES) if role in names), None)

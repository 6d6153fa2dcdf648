"""Small builders for test data. Money always moves through the services, so the
ledger and the cached balance agree in every test."""

from __future__ import annotations

import importlib
import itertools
from datetime import date
from typing import Any

from django.contrib.auth.models import AbstractUser

from leasing.models import ApiKey, LeaseRequest, Organization, PoolAccount, Project
from leasing.services.audit import Actor
from leasing.services.billing import wallet_top_up
from leasing.services.partners import api_key_issue, project_create
from leasing.services.pool import pool_account_create
from leasing.services.requests import lease_request_create
from leasing.services.staff import staff_create

_seq = itertools.count(1)
SYSTEM = Actor.for_system("tests")


def restore_role_groups() -> None:
    """The role groups, as migration 0002 makes them.

    Transactional tests (live server, parallel processes) commit, so the database is
    flushed after each one, and the flush takes the migration-made groups with it.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    roles = importlib.import_module("leasing.migrations.0002_roles").ROLES
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, codenames in roles.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="leasing", codename__in=codenames)
        )


def make_staff(role: str, username: str | None = None) -> AbstractUser:
    user, _ = staff_create(
        username=username or f"{role}{next(_seq)}",
        role=role,
        password="a-Strong-test-passw0rd",
        actor=SYSTEM,
    )
    return user


def make_org(
    name: str | None = None, *, balance_cents: int = 150_000, price_cents: int = 15_000
) -> Organization:
    org = Organization.objects.create(
        name=name or f"Partner {next(_seq)}", monthly_price_cents=price_cents
    )
    if balance_cents:
        wallet_top_up(organization=org, amount_cents=balance_cents, memo="test", actor=SYSTEM)
    return org


def make_project(org: Organization | None = None, name: str | None = None) -> Project:
    return project_create(
        organization=org or make_org(), name=name or f"Project {next(_seq)}", actor=SYSTEM
    )


def make_key(org: Organization, **kwargs: Any) -> tuple[ApiKey, str]:
    return api_key_issue(organization=org, actor=SYSTEM, **kwargs)


def make_account(
    handle: str | None = None,
    *,
    state: str = PoolAccount.State.READY,
    verticals: list[str] | None = None,
    language: str = "en",
    countries: list[str] | None = None,
    followers: int = 1000,
    warmed_since: date | None = None,
) -> PoolAccount:
    return pool_account_create(
        handle=handle or f"acct_{next(_seq)}",
        followers=followers,
        verticals=verticals if verticals is not None else ["coffee"],
        language=language,
        countries=countries if countries is not None else ["US"],
        state=state,
        warmed_since=warmed_since,
        actor=SYSTEM,
    )


def make_request(project: Project | None = None, **kwargs: Any) -> LeaseRequest:
    fields: dict[str, Any] = {"count": 3, "vertical": "coffee", "language": "en", "geo": ["US"]}
    fields.update(kwargs)
    return lease_request_create(project=project or make_project(), actor=SYSTEM, **fields)

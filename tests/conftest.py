from __future__ import annotations

import pytest
from django.db import connection

from leasing import roles
from leasing.models import Organization, Project
from tests import factories


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Row locks and parallel connections only mean something on PostgreSQL; the SQLite
    # run of CI skips these and the PostgreSQL run executes them.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def ops_user(db):
    return factories.make_staff(roles.OPS, "olive_ops")


@pytest.fixture
def other_ops_user(db):
    return factories.make_staff(roles.OPS, "oscar_ops")


@pytest.fixture
def support_user(db):
    return factories.make_staff(roles.SUPPORT, "sam_support")


@pytest.fixture
def finance_user(db):
    return factories.make_staff(roles.FINANCE, "fiona_finance")


@pytest.fixture
def admin_user(db):
    return factories.make_staff(roles.ADMIN, "ada_admin")


@pytest.fixture
def partner(db) -> Organization:
    return factories.make_org("Brewline Coffee", balance_cents=150_000)


@pytest.fixture
def project(partner) -> Project:
    return factories.make_project(partner, "Brewline TikTok")


@pytest.fixture
def other_partner(db) -> Organization:
    return factories.make_org("Rival Fitness", balance_cents=150_000)


@pytest.fixture
def other_project(other_partner) -> Project:
    return factories.make_project(other_partner, "Rival TikTok")

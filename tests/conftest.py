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


def _rolled_back(request: pytest.FixtureRequest) -> bool:
    """Does this test run inside one transaction that is rolled back at the end?"""
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        return False
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        return not (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    return "db" in names


@pytest.fixture(autouse=True)
def _history_rewrite_allowed_when_rolled_back(request: pytest.FixtureRequest) -> None:
    """On PostgreSQL a trigger refuses UPDATE and DELETE on the ledger and the audit log
    (migration 0005). A test that runs in one rolled-back transaction may still back-date
    an entry to set up a case: nothing it does outlives it. Tests that commit (parallel
    connections, processes, the browser) run with the trigger on, as production does."""
    if not _rolled_back(request):
        return
    request.getfixturevalue("db")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lease_desk.rewrite_history = 'on'")

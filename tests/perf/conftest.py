"""Fixtures for the scale tests: they run on PostgreSQL, in transactional tests (the
generator truncates tables, which a test transaction could not roll back)."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def staff_roles(transactional_db):
    """The role groups of migration 0002: a transactional test's flush removes them."""
    factories.restore_role_groups()

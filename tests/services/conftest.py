from __future__ import annotations

import pytest

from leasing.services.audit import Actor
from tests.invariants import assert_invariants


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Persona fixtures create staff users; the real hasher costs ~0.2 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(db):
    # Depends on `db` so it runs before the test transaction is rolled back: every test in
    # this package, refusals included, must leave the ledger and leases consistent.
    yield
    assert_invariants()


@pytest.fixture
def ops(ops_user) -> Actor:
    return Actor.for_user(ops_user)


@pytest.fixture
def other_ops(other_ops_user) -> Actor:
    return Actor.for_user(other_ops_user)


@pytest.fixture
def finance(finance_user) -> Actor:
    return Actor.for_user(finance_user)


@pytest.fixture
def system() -> Actor:
    return Actor.for_system("tests")

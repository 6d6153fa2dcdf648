from __future__ import annotations

import pytest

from tests.reliability.world import World, build_world


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every persona is created with a password; the real hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    return build_world()

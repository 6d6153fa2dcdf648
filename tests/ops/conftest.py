from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every persona is created with a password; the real hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ops_client(ops_user) -> Client:
    return _client_for(ops_user)


@pytest.fixture
def support_client(support_user) -> Client:
    return _client_for(support_user)


@pytest.fixture
def finance_client(finance_user) -> Client:
    return _client_for(finance_user)


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def htmx_headers():
    """Headers htmx sends when it swaps the element with this id."""

    def make(target: str) -> dict[str, str]:
        return {"HX-Request": "true", "HX-Target": target}

    return make

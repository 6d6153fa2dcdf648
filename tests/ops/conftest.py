from __future__ import annotations

import pytest
from django.test import Client


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

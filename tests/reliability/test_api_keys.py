"""API keys exist only as hashes, and a revoked key is refused on its very next call."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import Client

from leasing.models import ApiKey
from leasing.roles import ADMIN
from leasing.services.audit import Actor
from leasing.services.partners import KEY_PREFIX, organization_onboard
from tests.api.conftest import assert_error, request_body, request_url
from tests.reliability.world import client_for

pytestmark = pytest.mark.django_db

SYSTEM = Actor.for_system("tests")


def everything_stored() -> str:
    """Every value of every row of every table, as text; sessions decoded."""
    chunks = []
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        for row in model._default_manager.values_list(*fields):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    value = bytes(value).decode("latin-1")
                chunks.append(value if isinstance(value, str) else json.dumps(value, default=str))
    for session in Session.objects.all():
        chunks.append(json.dumps(session.get_decoded()))
    return "\n".join(chunks)


def key_parts(raw: str) -> tuple[str, str]:
    key_id, _, secret = raw[len(KEY_PREFIX) :].partition("_")
    return key_id, secret


def use(raw: str, project_id: str, **extra: Any) -> Any:
    client = Client(headers={"Authorization": f"Bearer {raw}", **extra})
    return client.get(f"/v1/projects/{project_id}/leased-accounts")


def test_the_database_holds_no_raw_key_or_secret_only_its_hash():
    onboarded = organization_onboard(
        name="Keyed Partner", project_name="TikTok", wallet_cents=100_000, actor=SYSTEM
    )
    org, project = onboarded.organization, onboarded.project
    # A second key issued from the dashboard and shown there once.
    admin = client_for(ADMIN)
    page = admin.post(
        f"/partners/{org.pk}/keys/",
        {"name": "from the console", "scopes": ["leased:write"], "tier": "standard"},
        follow=True,
    ).content.decode()
    found = re.search(r'id="issued-key"[^>]*>(lp_live_[^<]+)<', page)
    assert found is not None
    shown = found.group(1)
    assert shown not in admin.get(f"/partners/{org.pk}/").content.decode()  # once only

    for raw in (onboarded.raw_key, shown):
        assert use(raw, project.pk).status_code == 200
        Client(headers={"Authorization": f"Bearer {raw}"}).post(
            request_url(project.pk),
            data=json.dumps(request_body(project, note=f"sent with {raw[:12]}")),
            content_type="application/json",
        )
        key_id, secret = key_parts(raw)
        wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        assert use(f"{KEY_PREFIX}{key_id}_{wrong}", project.pk).status_code == 401

    stored = everything_stored()
    for raw in (onboarded.raw_key, shown):
        key_id, secret = key_parts(raw)
        assert raw not in stored
        assert secret not in stored
        assert secret[:16] not in stored
        digest = hashlib.sha256(secret.encode()).hexdigest()
        assert ApiKey.objects.get(key_id=key_id).secret_hash == digest


def test_a_key_revoked_on_the_dashboard_is_refused_on_its_next_call():
    onboarded = organization_onboard(name="Revoked Partner", project_name="TikTok", actor=SYSTEM)
    org, project = onboarded.organization, onboarded.project
    other = organization_onboard(name="Other Partner", project_name="TikTok", actor=SYSTEM)
    partner = Client(headers={"Authorization": f"Bearer {onboarded.raw_key}"})
    assert partner.get(f"/v1/projects/{project.pk}/leased-accounts").status_code == 200

    response = client_for(ADMIN).post(f"/partners/{org.pk}/keys/{onboarded.api_key.pk}/revoke/")
    assert response.status_code == 303

    error = assert_error(
        partner.get(f"/v1/projects/{project.pk}/leased-accounts"), 401, "UNAUTHENTICATED"
    )
    assert error["message"] == "unknown or revoked API key"
    write = partner.post(
        request_url(project.pk),
        data=json.dumps(request_body(project)),
        content_type="application/json",
    )
    assert_error(write, 401, "UNAUTHENTICATED")
    # Another partner's key is untouched.
    assert use(other.raw_key, other.project.pk).status_code == 200

"""Sign-in throttling, session cookies, disabled staff and the production settings check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from leasing.models import LeaseRequest
from tests import factories
from tests.invariants import snapshot

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-Strong-test-passw0rd"  # tests.factories.make_staff
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "test-only-" + "k" * 60,
    "ALLOWED_HOSTS": "leasedesk.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://leasedesk.example.com",
}


def sign_in(client: Client, username: str, password: str, *, path: str = "/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_until_locked(client: Client, username: str, **extra) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, username, "wrong-password", **extra)
        assert response.status_code in (200, 429)


def test_repeated_failures_lock_the_username_even_with_the_right_password(ops_user):
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "olive_ops", "wrong-password")
        assert response.status_code == 200, attempt
        assert "correct username and password" in response.content.decode()
    response = sign_in(client, "olive_ops", "wrong-password")
    assert response.status_code == 429

    response = sign_in(client, "olive_ops", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert f"paused for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in page
    assert response["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
    assert not signed_in(client)


def test_the_lockout_ends_after_the_cool_off(ops_user):
    client = Client()
    fail_until_locked(client, "olive_ops")
    assert sign_in(client, "olive_ops", PASSWORD).status_code == 429
    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    with time_machine.travel(later):
        response = sign_in(client, "olive_ops", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_a_lockout_is_per_username_and_address(ops_user, support_user):
    fail_until_locked(Client(), "olive_ops", REMOTE_ADDR="203.0.113.9")
    # A colleague at the same address, and the same person from elsewhere, still get in.
    colleague = Client()
    assert sign_in(colleague, "sam_support", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302
    elsewhere = Client()
    assert sign_in(elsewhere, "olive_ops", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    locked = Client()
    assert sign_in(locked, "olive_ops", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429


def test_the_admin_sign_in_is_throttled_too(admin_user):
    client = Client()
    fail_until_locked(client, "ada_admin", path="/admin/login/")
    response = sign_in(client, "ada_admin", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert not signed_in(client)


def test_a_success_clears_earlier_failures(ops_user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "olive_ops", "wrong-password")
    assert sign_in(client, "olive_ops", PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "olive_ops", "wrong-password")
    assert sign_in(client, "olive_ops", PASSWORD).status_code == 302


def test_a_disabled_user_loses_access_on_the_next_request(ops_user, project):
    client = Client()
    assert sign_in(client, "olive_ops", PASSWORD).status_code == 302
    lease_request = factories.make_request(project)
    assert client.get("/").status_code == 200

    ops_user.is_active = False
    ops_user.save(update_fields=["is_active"])

    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")
    fragment = client.get("/", headers={"HX-Request": "true", "HX-Target": "queue-results"})
    assert fragment["HX-Redirect"].startswith("/login/")
    before = snapshot()
    response = client.post(f"/requests/{lease_request.pk}/claim/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert snapshot() == before
    assert LeaseRequest.objects.get(pk=lease_request.pk).claimed_by is None
    # Nor can they sign in again.
    response = sign_in(Client(), "olive_ops", PASSWORD)
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def _production(code: str) -> subprocess.CompletedProcess[str]:
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is for their process only.
    skip = {"DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="leasing.settings")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_production_cookies_are_secure_and_http_only():
    result = _production(
        "import json; from django.conf import settings as s;"
        "print(json.dumps({n: getattr(s, n) for n in ["
        "'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE',"
        "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS']}))"
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000


def test_the_session_cookie_carries_those_flags(ops_user, settings):
    settings.SESSION_COOKIE_SECURE = True
    response = sign_in(Client(), "olive_ops", PASSWORD)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_check_deploy_is_clean_with_production_settings():
    result = _production(
        "import django, sys; django.setup(); from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')"
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout + result.stderr

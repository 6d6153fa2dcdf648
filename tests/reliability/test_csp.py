"""The Content-Security-Policy: on every response, with no way for inline script to run,
and pages that need no exception to it (the browser tests watch for violations too)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from leasing.roles import ADMIN
from tests.reliability.world import client_for, dashboard_urls

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def assert_strict(response) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"], policy
    assert policy["style-src"] == ["'self'"], policy
    assert policy["default-src"] == ["'self'"], policy
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for values in policy.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(values), policy


def assert_needs_no_exception(path: str, html: str) -> None:
    for rule, pattern in [
        ("inline <script>", INLINE_SCRIPT),
        ("on...= handler", EVENT_HANDLER),
        ("style= attribute", STYLE_ATTRIBUTE),
        ("javascript: URL", JS_URL),
    ]:
        found = pattern.search(html)
        assert found is None, f"{path}: {rule}: {found.group(0) if found else ''}"


def test_every_dashboard_page_is_served_under_the_strict_policy(world):
    client = client_for(ADMIN)
    pages = 0
    for name, path in dashboard_urls(world).items():
        response = client.get(path)
        if response.status_code == 405 or name == "login":
            continue  # POST-only; a signed-in visitor to the sign-in page is sent on
        # 422: a preview asked without its form fields answers with the form's errors.
        assert response.status_code in (200, 422), (name, response.status_code)
        assert_strict(response)
        if response["Content-Type"].startswith("text/html"):
            assert_needs_no_exception(path, response.content.decode())
            pages += 1
    assert pages >= 15  # the enumeration found the pages


def test_htmx_fragments_and_error_pages_are_covered_too(world):
    client = client_for(ADMIN)
    fragment = client.get("/", headers={"HX-Request": "true", "HX-Target": "queue-results"})
    assert fragment.status_code == 200
    assert_strict(fragment)
    assert_needs_no_exception("/ (fragment)", fragment.content.decode())
    for path, status in [("/no-such-page/", 404), ("/login/", 302)]:
        response = client.get(path)
        assert response.status_code == status
        assert_strict(response)
    forbidden = client_for("support").get(f"/partners/{world.org.pk}/price/preview/")
    assert forbidden.status_code == 403
    assert_strict(forbidden)
    assert_needs_no_exception("403", forbidden.content.decode())


def test_the_sign_in_page_the_admin_and_the_api_carry_it(world):
    anonymous = Client()
    for path in ("/login/", "/v1/docs", "/v1/openapi.json", "/admin/login/"):
        response = anonymous.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        if "html" in response["Content-Type"]:
            assert_needs_no_exception(path, response.content.decode())
    admin = client_for(ADMIN)
    for path in ("/admin/", "/admin/leasing/auditevent/", "/admin/leasing/ledgerentry/"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        assert_needs_no_exception(path, response.content.decode())
    api = anonymous.get(
        f"/v1/projects/{world.project.pk}/leased-accounts",
        headers={"Authorization": f"Bearer {world.raw_key}"},
    )
    assert api.status_code == 200
    assert_strict(api)

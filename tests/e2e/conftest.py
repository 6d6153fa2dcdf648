"""Browser tests: real Chromium (the system one) driven by Playwright against a live server.

They run wherever /usr/bin/chromium exists (CI installs it) and skip, saying why,
where it does not.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests import factories

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-Strong-test-passw0rd"  # tests.factories.make_staff

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The live server answers each request in its own thread. With SQLite's in-memory test
# database every thread would share one connection (and one transaction), so two
# browsers assigning at once could not be told apart. A file database gives each thread
# its own connection, like a real deployment. PostgreSQL needs nothing.
_db = connections["default"].settings_dict
if _db["ENGINE"].endswith("sqlite3") and not _db.get("TEST", {}).get("NAME"):
    _db.setdefault("TEST", {})["NAME"] = str(
        Path(tempfile.gettempdir()) / f"lease_desk_e2e_{os.getpid()}.sqlite3"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def staff_roles(transactional_db):
    """The role groups, as migration 0002 makes them.

    Live-server tests commit, so the database is flushed after each one, and the flush
    takes the migration-made groups with it. (serialized_rollback cannot restore them
    here: under Playwright's event loop Django hands this thread a different connection
    object from the one the test database was serialized on.)
    """
    factories.restore_role_groups()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # Connections opened while Playwright's loop ran belong to that context; close
        # them before the test database is dropped.
        connections.close_all()


@pytest.fixture
def new_context(browser, live_server):
    """Open browser contexts (separate cookie jars: separate people) on the live server."""
    opened = []

    def make():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1400, "height": 900}
        )
        context.set_default_timeout(10_000)
        watch_csp(context)
        opened.append(context)
        return context

    yield make
    violations = [text for context in opened for text in context.csp_violations]
    for context in opened:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


# Chromium reports a blocked inline script or style on the console; the event also names
# what was blocked when the console line does not.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective +
                " blocked " + (event.blockedURI || "inline") + " in " + event.sourceFile);
});
"""


def watch_csp(context) -> None:
    """Collect every Content-Security-Policy violation in `context.csp_violations`."""
    context.csp_violations = []
    context.add_init_script(_CSP_LISTENER)
    context.on(
        "console",
        lambda message: (
            context.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )


@pytest.fixture
def signed_in(new_context):
    """A page signed in as `user` through the real login form."""

    def sign_in(user):
        page = new_context().new_page()
        page.goto("/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        return page

    return sign_in

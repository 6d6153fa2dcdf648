"""Who may do what on the dashboard: every URL, both methods, every role.

The expected matrix is written out below, one row per URL name. The URLs themselves come
from leasing/ops/urls.py, so a new page fails here until someone decides who may use it.
Each role runs against a fresh world; refused calls must also leave the data untouched.
"""

from __future__ import annotations

import pytest

from leasing.roles import ADMIN, FINANCE, OPS, SUPPORT
from tests.invariants import snapshot
from tests.reliability.world import IMPORT_TOKEN, ROLES, client_for, dashboard_urls

pytestmark = pytest.mark.django_db

STAFF = frozenset({SUPPORT, OPS, FINANCE, ADMIN})
TRIAGE = frozenset({OPS, ADMIN})
NOTES = frozenset({SUPPORT, OPS, ADMIN})
POOL = frozenset({OPS, ADMIN})
MONEY = frozenset({FINANCE, ADMIN})
EXPORT = frozenset({OPS, FINANCE, ADMIN})
KEYS = frozenset({ADMIN})

# URL name -> (the method it answers, the roles allowed to use it).
MATRIX: dict[str, tuple[str, frozenset[str]]] = {
    "queue": ("GET", STAFF),
    "queue-claim": ("POST", TRIAGE),
    "request": ("GET", STAFF),
    "request-claim": ("POST", TRIAGE),
    "request-unclaim": ("POST", TRIAGE),
    "request-note": ("POST", NOTES),
    "request-assign-preview": ("GET", TRIAGE),
    "request-assign": ("POST", TRIAGE),
    "request-close": ("POST", TRIAGE),
    "lease-release": ("POST", TRIAGE),
    "partners": ("GET", STAFF),
    "partner": ("GET", STAFF),
    "partner-leases": ("GET", STAFF),
    "partner-projects": ("GET", STAFF),
    "partner-top-up-preview": ("GET", MONEY),
    "partner-top-up": ("POST", MONEY),
    "partner-adjust-preview": ("GET", MONEY),
    "partner-adjust": ("POST", MONEY),
    "partner-price-preview": ("GET", MONEY),
    "partner-price": ("POST", MONEY),
    "partner-key-issue": ("POST", KEYS),
    "partner-key-revoke": ("POST", KEYS),
    "pool": ("GET", STAFF),
    "pool-import": ("GET", POOL),
    "pool-import-check": ("POST", POOL),
    "pool-import-commit": ("POST", POOL),
    "pool-import-progress": ("GET", POOL),
    "pool-account": ("GET", STAFF),
    "pool-mark-ready": ("POST", POOL),
    "pool-mark-warming": ("POST", POOL),
    "pool-retire": ("POST", POOL),
    "supply": ("GET", STAFF),
    "renewals": ("GET", STAFF),
    "audit": ("GET", STAFF),
    "search": ("GET", STAFF),
    "search-suggest": ("GET", STAFF),
    "partner-suggest": ("GET", STAFF),
    "reports": ("GET", EXPORT),
    "report-queue": ("GET", EXPORT),
    "report-leases": ("GET", EXPORT),
    "report-burn": ("GET", EXPORT),
    "report-burn-monthly": ("GET", EXPORT),
    "report-ledger": ("GET", EXPORT),
    "report-renewals": ("GET", EXPORT),
    "report-pool": ("GET", EXPORT),
}
# Forms whose only field names the object they act on; every other POST is sent empty.
POST_DATA = {"pool-import-commit": {"token": IMPORT_TOKEN}}
# Signing in and out are open to everyone; the rows above need a role.
PUBLIC = {
    "login": {"GET": "ok", "POST": "ok"},
    "logout": {"GET": "method", "POST": "login"},
}


def outcome(response) -> str:
    status = response.status_code
    if status in (301, 302, 303) and response["Location"].startswith("/login/"):
        return "login"
    return {403: "forbidden", 404: "missing", 405: "method"}.get(
        status, "error" if status >= 500 else "ok"
    )


def expected(name: str, method: str, role: str | None) -> str:
    if name in PUBLIC:
        return PUBLIC[name][method]
    answers, allowed = MATRIX[name]
    if method != answers:
        return "method"
    if role is None:
        return "login"
    return "ok" if role in allowed else "forbidden"


def test_every_dashboard_url_has_a_row_in_the_matrix(world):
    names = set(dashboard_urls(world))
    assert names - set(MATRIX) - set(PUBLIC) == set(), "new pages: decide who may use them"
    assert set(MATRIX) | set(PUBLIC) <= names, "rows for pages that no longer exist"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_each_role_gets_exactly_what_it_is_allowed(world, role):
    client = client_for(role)
    got, want, wrote = {}, {}, []
    # Signing out last: the rest must run signed in.
    urls = sorted(dashboard_urls(world).items(), key=lambda item: item[0] == "logout")
    for name, path in urls:
        for method in ("GET", "POST"):
            before = snapshot()
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, POST_DATA.get(name, {}))
            got[(name, method)] = outcome(response)
            want[(name, method)] = expected(name, method, role)
            if want[(name, method)] != "ok" and snapshot() != before:
                wrote.append((name, method))
    wrong = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
    assert wrong == {}, "(url, method): (got, expected)"
    assert wrote == [], "refused calls that changed data"


def test_other_methods_are_refused_everywhere(world):
    client = client_for(ADMIN)
    for name, path in dashboard_urls(world).items():
        if name in PUBLIC:
            continue  # a signed-in visitor to the sign-in page is sent on, whatever the method
        for method in ("PUT", "PATCH", "DELETE"):
            response = client.generic(method, path)
            assert response.status_code == 405, (name, method, response.status_code)

"""A small world with one of everything the dashboard links to, and every dashboard URL.

The URL list comes from leasing/ops/urls.py itself, so a page added there is picked up by
the access, unknown-id, escaping and CSP tests without anyone remembering to list it; each
test then insists on knowing what the new page should do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.test import Client
from django.urls import URLPattern, reverse

from leasing import roles
from leasing.models import ApiKey, Lease, LeaseRequest, Organization, PoolAccount, Project
from leasing.ops import urls as ops_urls
from leasing.ops.pool_import import SESSION_KEY as IMPORT_SESSION_KEY
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import wallet_top_up
from leasing.services.leases import lease_release
from leasing.services.partners import organization_onboard
from leasing.services.pool import pool_account_create, pool_account_retire
from leasing.services.requests import lease_request_close, request_note_add
from tests import factories

SYSTEM = Actor.for_system("tests")

# What a hostile partner or a careless import might put in any free-text field: a
# spreadsheet formula first (it must reach CSV cells neutralised), then markup that would
# run script if any page printed it as HTML instead of text.
SCRIPT = '<script>window.__xss = "script"</script>'
IMG = "<img src=x onerror=\"window.__xss = 'img'\">"
FORMULA = '=HYPERLINK("http://evil.example","x")'
HOSTILE = f"{FORMULA}{SCRIPT}{IMG}"
# A staged import token the tests put in each client's session.
IMPORT_TOKEN = "0123456789abcdef0123456789abcdef"


@dataclass
class World:
    org: Organization
    project: Project
    api_key: ApiKey
    raw_key: str
    open_request: LeaseRequest
    lease: Lease
    account: PoolAccount

    def ids(self) -> dict[str, dict[str, Any]]:
        """URL kwargs by the first path segment of the route, then by parameter name."""
        return {
            "requests": {"pk": self.open_request.pk},
            "leases": {"pk": self.lease.pk},
            "partners": {"pk": self.org.pk, "key_id": self.api_key.pk},
            "pool": {"pk": self.account.pk, "token": IMPORT_TOKEN},
        }


def build_world(text: str = "plain") -> World:
    """Partner, project, key, an open request, an active lease, a released lease, a closed
    request and a retired account, with `text` opening every free-text field a person or
    a partner can fill."""
    onboarded = organization_onboard(
        name=text, project_name=text, wallet_cents=300_000, actor=SYSTEM
    )
    org, project = onboarded.organization, onboarded.project
    api_key, raw_key = factories.make_key(org, name=text[:100])
    wallet_top_up(organization=org, amount_cents=100, memo=text, actor=SYSTEM)

    open_request = factories.make_request(
        project, count=3, vertical=text[:64], target=text, audience=text[:500], note=text
    )
    request_note_add(request=open_request, body=text, actor=SYSTEM)
    request_note_add(request=open_request, body=text, visibility="partner", actor=SYSTEM)

    leased = factories.make_request(project, count=2, target=text)
    accounts = [factories.make_account() for _ in range(2)]
    lease, released = accounts_assign(
        request=leased, account_ids=[a.pk for a in accounts], actor=SYSTEM
    )
    lease_release(lease=released, actor=SYSTEM, reason="released_by_ops", note=text)

    closed = factories.make_request(project, count=1)
    lease_request_close(request=closed, outcome="rejected", note=text, actor=SYSTEM)

    retired = factories.make_account()
    pool_account_retire(account=retired, reason=text, actor=SYSTEM)
    account = pool_account_create(
        handle="ready_one",
        followers=5000,
        verticals=["coffee"],
        language="en",
        countries=["US"],
        state="ready",
        notes=text,
        actor=SYSTEM,
    )
    return World(
        org=org,
        project=project,
        api_key=api_key,
        raw_key=raw_key,
        open_request=open_request,
        lease=lease,
        account=account,
    )


def dashboard_patterns() -> list[URLPattern]:
    return [p for p in ops_urls.urlpatterns if isinstance(p, URLPattern)]


def dashboard_urls(world: World, ids: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Every dashboard URL name and its path, filled with the world's (or `ids`') objects."""
    ids = ids if ids is not None else world.ids()
    urls = {}
    for pattern in dashboard_patterns():
        params = list(pattern.pattern.converters)
        segment = str(pattern.pattern).split("/", 1)[0]
        kwargs = {}
        for name in params:
            try:
                kwargs[name] = ids[segment][name]
            except KeyError:
                raise AssertionError(
                    f"tests/reliability/world.py does not know which object fills "
                    f"<{name}> in {pattern.pattern!s} ({pattern.name}); teach World.ids()"
                ) from None
        urls[str(pattern.name)] = reverse(f"ops:{pattern.name}", kwargs=kwargs)
    return urls


def client_for(role: str | None) -> Client:
    """A client signed in with `role` (None: anonymous), holding the staged import token."""
    client = Client()
    if role is not None:
        client.force_login(factories.make_staff(role, f"{role}_user"))  # type: ignore[arg-type]
        session = client.session
        session[IMPORT_SESSION_KEY] = [IMPORT_TOKEN]
        session.save()
    return client


ROLES = (None, roles.SUPPORT, roles.OPS, roles.FINANCE, roles.ADMIN)

"""Text that looks like markup or a spreadsheet formula is only ever shown as text.

One world is built with the hostile string opening every free-text field a partner or a
person can fill (partner, project and key names, targets, audiences, verticals, notes,
memos, release and retire reasons, pool notes). Then every dashboard page, every CSV
export, the admin and the API are read back.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils.html import escape

from leasing.exports import FORMULA_PREFIXES
from leasing.roles import ADMIN, SUPPORT
from tests.reliability.world import (
    FORMULA,
    HOSTILE,
    IMG,
    SCRIPT,
    World,
    build_world,
    client_for,
    dashboard_urls,
)

pytestmark = pytest.mark.django_db

RAW_MARKUP = ("<script>window.__xss", "<img src=x onerror")


@pytest.fixture
def hostile() -> World:
    return build_world(HOSTILE)


def body_of(response) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)  # type: ignore[arg-type]
    return bytes(response.content)


def html_pages(client: Client, world: World) -> dict[str, str]:
    pages = {}
    for name, path in dashboard_urls(world).items():
        response = client.get(path)
        # Pages the role may not open are the access matrix's business.
        if response.status_code in (302, 403, 405) or not response["Content-Type"].startswith(
            "text/html"
        ):
            continue
        assert response.status_code in (200, 422), (name, response.status_code)
        pages[name] = body_of(response).decode()
    for path in (
        f"/search/?q={quote(HOSTILE)}",
        f"/search/suggest/?q={quote(HOSTILE)}",
        f"/?q={quote(HOSTILE)}",
        f"/pool/?q={quote(HOSTILE)}",
    ):
        pages[path] = body_of(client.get(path)).decode()
    return pages


@pytest.mark.parametrize("role", [ADMIN, SUPPORT])
def test_every_page_shows_markup_as_text(hostile, role):
    pages = html_pages(client_for(role), hostile)
    for name, html in pages.items():
        for raw in RAW_MARKUP:
            assert raw not in html, f"{name} prints {raw!r} as markup"
    shown = [name for name, html in pages.items() if escape(SCRIPT) in html]
    # The text is really there, escaped, where people read it.
    assert {"queue", "request", "partners", "partner", "pool-account", "audit"} <= set(shown)


def test_the_admin_shows_markup_as_text(hostile):
    client = client_for(ADMIN)
    for model in ("organization", "leaserequest", "requestnote", "ledgerentry", "auditevent"):
        html = client.get(f"/admin/leasing/{model}/").content.decode()
        for raw in RAW_MARKUP:
            assert raw not in html, model
    page = client.get(f"/admin/leasing/leaserequest/{hostile.open_request.pk}/change/")
    assert escape(IMG) in page.content.decode()


def _number(cell: str) -> bool:
    try:
        Decimal(cell)
    except InvalidOperation:
        return False
    return True


def test_every_export_neutralises_formula_cells(hostile):
    client = client_for(ADMIN)
    exports = {
        name: path for name, path in dashboard_urls(hostile).items() if path.endswith(".csv")
    }
    assert len(exports) >= 5
    neutralised = 0
    for name, path in exports.items():
        response = client.get(path)
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/csv"), name
        assert response["Content-Disposition"].startswith("attachment"), name
        assert response["X-Content-Type-Options"] == "nosniff"
        rows = list(csv.reader(io.StringIO(body_of(response).decode("utf-8-sig"))))
        for row in rows:
            for cell in row:
                if cell.startswith(FORMULA_PREFIXES):
                    assert _number(cell), f"{name}: formula cell {cell!r}"
                neutralised += cell.startswith("'" + FORMULA)
    # The hostile text reached the exports and came out quoted, not dropped.
    assert neutralised >= 3


def test_the_api_returns_the_text_as_json_data(hostile):
    client = Client(headers={"Authorization": f"Bearer {hostile.raw_key}"})
    response = client.get(f"/v1/leased-accounts/requests/{hostile.open_request.request_key}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    data = json.loads(response.content)
    assert data["target"] == HOSTILE
    assert data["note"] == HOSTILE  # the latest partner-visible note
    assert data["niche"]["vertical"] == HOSTILE[:64]

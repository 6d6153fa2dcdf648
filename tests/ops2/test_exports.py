"""CSV reports: streamed, UTF-8 with a header row, formula-safe, filtered, audited,
permission-checked, and in memory that does not grow with rows."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone

from leasing import exports
from leasing.models import AuditEvent, LedgerEntry, PoolAccount
from leasing.services.audit import Actor
from leasing.services.billing import wallet_adjust, wallet_top_up
from tests import factories
from tests.ops2.conftest import lease_accounts

pytestmark = pytest.mark.django_db

REPORTS = [
    "/reports/queue.csv",
    "/reports/leases.csv",
    "/reports/burn.csv",
    "/reports/burn-monthly.csv",
    "/reports/ledger.csv",
    "/reports/renewals.csv",
    "/reports/pool.csv",
]


def download(client, url: str, params: dict[str, Any] | None = None) -> tuple[Any, bytes]:
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:500]
    assert isinstance(response, StreamingHttpResponse)
    return response, b"".join(response.streaming_content)  # type: ignore[arg-type]


def rows_of(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


# ------------------------------------------------------------------ cells


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        (-15000, -15000),
        (Decimal("-150.00"), Decimal("-150.00")),
        (None, ""),
        (True, "true"),
        (["US", "=CA"], "US;=CA"),
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised(value, cell):
    assert exports.csv_cell(value) == cell


def test_ledger_memos_are_neutralised_and_amounts_stay_numbers(ops_client, partner):
    wallet_adjust(
        organization=partner, amount_cents=-2_500, memo="=cmd|' /C calc'!A0", actor=factories.SYSTEM
    )
    wallet_top_up(
        organization=partner, amount_cents=100, memo="@admin bonus", actor=factories.SYSTEM
    )
    _, raw = download(ops_client, "/reports/ledger.csv", {"partner": partner.pk})
    rows = rows_of(raw)
    assert [r["memo"] for r in rows] == ["test", "'=cmd|' /C calc'!A0", "'@admin bonus"]
    assert [r["amount_cents"] for r in rows] == ["150000", "-2500", "100"]
    assert [r["amount"] for r in rows] == ["1500", "-25", "1"]
    assert [r["balance_after_cents"] for r in rows] == ["150000", "147500", "147600"]


def test_utf8_with_a_header_row_and_an_attachment_name(ops_client):
    factories.make_org("Élan Pilates — Zürich")
    response, raw = download(ops_client, "/reports/burn.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="lease-desk-burn-')
    assert raw.startswith("\ufeff".encode())  # so Excel reads UTF-8
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(exports.BURN_HEADER)
    assert "Élan Pilates — Zürich" in text


def test_every_report_starts_with_its_header_even_when_empty(ops_client):
    for url in REPORTS:
        _, raw = download(ops_client, url)
        assert raw.decode("utf-8-sig").count("\n") >= 1, url


# ------------------------------------------------------------------ filters


def test_pool_csv_follows_the_pool_filters(ops_client):
    wanted = factories.make_account("brew.one", verticals=["coffee"], followers=5_000)
    factories.make_account("brew.two", verticals=["coffee"], state="warming")
    factories.make_account("fit.one", verticals=["fitness"])
    _, raw = download(ops_client, "/reports/pool.csv", {"state": "ready", "vertical": "coffee"})
    rows = rows_of(raw)
    assert [r["account_id"] for r in rows] == [wanted.pk]
    assert rows[0]["verticals"] == "coffee"
    assert rows[0]["followers"] == "5000"


def test_queue_csv_follows_the_queue_filters(ops_client, project, other_project):
    mine = factories.make_request(project, vertical="coffee", target="=1+1")
    factories.make_request(other_project, vertical="coffee")
    closed = factories.make_request(project, vertical="coffee")
    from leasing.services.requests import lease_request_close

    lease_request_close(request=closed, outcome="rejected", note="none", actor=factories.SYSTEM)
    _, raw = download(ops_client, "/reports/queue.csv", {"partner": project.organization.pk})
    rows = rows_of(raw)
    assert [r["request_id"] for r in rows] == [mine.pk]  # open requests only, by default
    assert rows[0]["target"] == "'=1+1"
    _, raw = download(
        ops_client, "/reports/queue.csv", {"partner": project.organization.pk, "status": "rejected"}
    )
    assert [r["request_id"] for r in rows_of(raw)] == [closed.pk]


def test_ledger_csv_for_a_date_range_reconciles(finance_client, partner, project):
    lease_accounts(project, 2)
    old = LedgerEntry.objects.filter(organization=partner, kind="top_up").get()
    LedgerEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    since = (timezone.now() - timedelta(days=1)).date()
    _, raw = download(
        finance_client, "/reports/ledger.csv", {"partner": partner.pk, "since": since}
    )
    rows = rows_of(raw)
    assert [r["kind"] for r in rows] == ["lease_charge", "lease_charge"]
    opening = int(rows[0]["balance_after_cents"]) - int(rows[0]["amount_cents"])
    closing = opening + sum(int(r["amount_cents"]) for r in rows)
    partner.refresh_from_db()
    assert (opening, closing) == (150_000, partner.balance_cents)


def test_leases_renewals_and_burn_reports(ops_client, project, other_project):
    lease_accounts(project, 2)
    lease_accounts(other_project, 1)
    _, raw = download(ops_client, "/reports/leases.csv", {"partner": project.organization.pk})
    assert {r["partner"] for r in rows_of(raw)} == {"Brewline Coffee"}
    _, raw = download(ops_client, "/reports/renewals.csv", {"days": "40"})
    assert len(rows_of(raw)) == 3
    _, raw = download(ops_client, "/reports/renewals.csv", {"days": "5"})
    assert rows_of(raw) == []
    _, raw = download(ops_client, "/reports/burn.csv")
    burn = {r["partner"]: r for r in rows_of(raw)}
    assert burn["Brewline Coffee"]["monthly_burn_cents"] == "30000"
    assert burn["Brewline Coffee"]["charged_this_month_cents"] == "30000"
    assert burn["Rival Fitness"]["active_accounts"] == "1"
    _, raw = download(ops_client, "/reports/burn-monthly.csv")
    monthly = rows_of(raw)
    assert {(r["partner"], r["charges"], r["charged_cents"]) for r in monthly} == {
        ("Brewline Coffee", "2", "30000"),
        ("Rival Fitness", "1", "15000"),
    }


def test_a_bad_filter_gets_the_form_back_not_a_file(ops_client):
    before = AuditEvent.objects.filter(action="report.export").count()
    response = ops_client.get("/reports/ledger.csv", {"since": "2026-13-40"})
    assert response.status_code == 422
    assert not response.streaming
    body = response.content.decode()
    assert "The ledger report was not downloaded" in body
    assert "Enter a valid date" in body
    response = ops_client.get("/reports/renewals.csv", {"days": "500"})
    assert response.status_code == 422
    assert AuditEvent.objects.filter(action="report.export").count() == before


# ------------------------------------------------------------------ audit and access


def test_each_download_is_audited_with_who_what_filters_and_rows(ops_client, ops_user):
    for _ in range(3):
        factories.make_account(verticals=["coffee"])
    download(ops_client, "/reports/pool.csv", {"vertical": "coffee", "state": ["ready", "warming"]})
    event = AuditEvent.objects.get(action="report.export")
    assert (event.actor_user_id, event.object_type, event.object_id) == (
        ops_user.pk,
        "report",
        "pool",
    )
    assert event.after == {
        "report": "pool",
        "filters": {"vertical": "coffee", "state": ["ready", "warming"]},
        "rows": 3,
    }


def test_an_abandoned_download_is_audited_as_incomplete(ops_user, monkeypatch):
    monkeypatch.setattr(exports, "ROWS_PER_WRITE", 1)
    for _ in range(3):
        factories.make_account()
    filterset = exports.pool_filterset(user=ops_user, data=QueryDict())
    assert filterset.is_valid()
    lines = exports.csv_lines(
        exports.pool_report(filterset, QueryDict()), actor=Actor.for_user(ops_user)
    )
    next(lines)  # the header
    next(lines)  # one row
    lines.close()  # the client went away; the server closes the response's iterator
    # The query was ended (on PostgreSQL a COPY cancelled): the connection works on.
    assert PoolAccount.objects.count() == 3
    after = AuditEvent.objects.get(action="report.export").after
    assert after is not None
    assert after["complete"] is False
    assert after["rows"] == 1


@pytest.mark.parametrize("url", [*REPORTS, "/reports/"])
def test_support_may_not_export(support_client, url):
    assert support_client.get(url).status_code == 403


@pytest.mark.parametrize("url", REPORTS)
def test_reports_are_get_only_and_need_login(ops_client, anonymous, url):
    assert ops_client.post(url).status_code == 405
    assert anonymous.get(url).status_code == 302


def test_finance_and_admin_may_export(finance_client, admin_client):
    assert finance_client.get("/reports/").status_code == 200
    assert admin_client.get("/reports/burn.csv").status_code == 200


# ------------------------------------------------------------------ memory


def _make_pool(n: int) -> None:
    PoolAccount.objects.bulk_create(
        [
            PoolAccount(
                id=f"sa_01HZ{i:022d}",
                handle=f"acct_{i:06d}",
                followers=i,
                verticals=["coffee", "food"],
                language="en-US",
                language_primary="en",
                countries=["US", "CA"],
                state="ready",
                notes="",
            )
            for i in range(PoolAccount.objects.count(), n)
        ],
        batch_size=2000,
    )


def _peak_while_streaming(client) -> tuple[int, int]:
    tracemalloc.start()
    try:
        response = client.get("/reports/pool.csv")
        tracemalloc.reset_peak()
        size = 0
        for chunk in response.streaming_content:
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size


def test_memory_does_not_grow_with_rows(ops_client, monkeypatch):
    # Memory is bounded by the rows fetched per round trip (CHUNK_SIZE) and written per
    # chunk of bytes: make both smaller than the small export, so the comparison shows
    # growth with rows rather than a partly filled first chunk.
    monkeypatch.setattr(exports, "CHUNK_SIZE", 200)
    monkeypatch.setattr(exports, "ROWS_PER_WRITE", 100)
    _make_pool(50)
    _peak_while_streaming(ops_client)  # warm caches: templates, URLs, query compilation
    _make_pool(1_000)
    small_peak, small_size = _peak_while_streaming(ops_client)
    _make_pool(10_000)
    big_peak, big_size = _peak_while_streaming(ops_client)
    assert big_size > 9 * small_size  # ten times the rows went out...
    assert big_size > 1_000_000
    # ...in about the same memory: far less than the file itself.
    assert big_peak < small_peak + 200_000, (small_peak, big_peak, big_size)

"""The pool CSV import: all or nothing, every bad line reported by number."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest

from leasing.models import AuditEvent, PoolAccount, PoolAccountTag
from leasing.services.audit import Actor
from leasing.services.pool import ImportReport, pool_import_csv
from tests import factories
from tests.invariants import snapshot

HEADER = "handle,platform,followers,verticals,language,geo,state\n"
SYSTEM = Actor.for_system("import")


def run(text: str, **kwargs: Any) -> ImportReport:
    return pool_import_csv(stream=io.StringIO(text), actor=SYSTEM, **kwargs)


def refused(text: str) -> list[tuple[int, str]]:
    """Import `text`, expect a refusal that writes nothing, return the reported errors."""
    before = snapshot()
    report = run(text)
    assert not report.ok
    assert report.created == 0
    assert snapshot() == before
    return report.errors


def test_import_creates_accounts_with_tags_and_one_audit_event():
    report = run(
        HEADER
        + "@bean_queen,TikTok,12000,Coffee;Home Barista,en-US,us;GB,ready\n"
        + "matcha.daily,tiktok,800,tea,ja,JP,warming\n"
        + "\n"
        + "gone_acct,tiktok,5,tea,,,retired\n"
    )
    assert report.ok
    assert (report.rows, report.created, report.dry_run) == (3, 3, False)
    bean = PoolAccount.objects.get(handle="bean_queen")
    assert bean.platform == "tiktok"
    assert bean.followers == 12000
    assert bean.verticals == ["coffee", "home barista"]
    assert (bean.language, bean.language_primary) == ("en-US", "en")
    assert bean.countries == ["US", "GB"]
    assert bean.state == PoolAccount.State.READY
    assert bean.warmed_since is not None
    assert set(bean.tags.values_list("kind", "value")) == {
        ("vertical", "coffee"),
        ("vertical", "home barista"),
        ("country", "US"),
        ("country", "GB"),
    }
    gone = PoolAccount.objects.get(handle="gone_acct")
    assert gone.state == PoolAccount.State.RETIRED
    assert gone.retired_reason
    assert (gone.language, gone.countries) == ("", [])
    assert AuditEvent.objects.get(action="pool.import").after == {"created": 3}


def test_import_reads_the_optional_columns():
    report = run(
        "handle,platform,followers,verticals,language,geo,state,warmed_since,notes\n"
        'old_hand,tiktok,10,coffee,en,US,ready,2024-02-29,"bought, not grown"\n'
    )
    assert report.ok
    account = PoolAccount.objects.get(handle="old_hand")
    assert account.warmed_since == date(2024, 2, 29)
    assert account.notes == "bought, not grown"


def test_header_is_case_and_space_insensitive_and_order_free():
    report = run(
        " State ,HANDLE,platform,followers,verticals,language,geo\nready,abc,tiktok,1,tea,,\n"
    )
    assert report.ok
    assert PoolAccount.objects.get(handle="abc").state == "ready"


def test_dry_run_validates_but_writes_nothing():
    before = snapshot()
    report = run(HEADER + "ok_one,tiktok,1,tea,en,US,ready\n", dry_run=True)
    assert report.ok
    assert (report.rows, report.created, report.dry_run) == (1, 0, True)
    assert snapshot() == before


def test_dry_run_still_reports_errors():
    report = run(HEADER + "x,tiktok,1,tea,en,US,ready\n", dry_run=True)
    assert [line for line, _ in report.errors] == [2]


def test_progress_is_called_once_per_row():
    calls: list[int] = []
    run(HEADER + "a_1,tiktok,1,tea,,,ready\na_2,tiktok,1,tea,,,ready\n", progress=calls.append)
    assert calls == [1, 1]


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        ("x,tiktok,1,tea,en,US,ready", "handle", "not a TikTok handle"),
        ("bad-dash,tiktok,1,tea,en,US,ready", "handle", "not a TikTok handle"),
        (f"{'h' * 25},tiktok,1,tea,en,US,ready", "handle", "not a TikTok handle"),
        ("good,instagram,1,tea,en,US,ready", "platform", "only tiktok"),
        ("good,tiktok,many,tea,en,US,ready", "followers", "not a whole number"),
        ("good,tiktok,-5,tea,en,US,ready", "followers", "not a whole number"),
        ("good,tiktok,1.5,tea,en,US,ready", "followers", "not a whole number"),
        ("good,tiktok,²,tea,en,US,ready", "followers", "not a whole number"),
        ("good,tiktok,3000000000,tea,en,US,ready", "followers", "larger than any"),
        ("good,tiktok,1, ; ,en,US,ready", "verticals", "at least one"),
        (f"good,tiktok,1,{'v' * 65},en,US,ready", "verticals", "longer than 64"),
        ("good,tiktok,1,tea,en_US,US,ready", "language", "BCP-47"),
        ("good,tiktok,1,tea,en,UK,ready", "geo", "'UK' is not an ISO"),
        ("good,tiktok,1,tea,en,USA,ready", "geo", "'USA' is not an ISO"),
        ("good,tiktok,1,tea,en,US,leased", "state", "must be one of"),
        ("good,tiktok,1,tea,en,US,", "state", "must be one of"),
    ],
)
def test_bad_value_is_reported_with_line_and_column(line, column, reason):
    errors = refused(HEADER + "fine_one,tiktok,1,tea,en,US,ready\n" + line + "\n")
    assert len(errors) == 1
    number, message = errors[0]
    assert number == 3
    assert message.startswith(f"{column}: ")
    assert reason in message


def test_bad_warmed_since_is_reported():
    errors = refused(
        "handle,platform,followers,verticals,language,geo,state,warmed_since\n"
        "good,tiktok,1,tea,en,US,ready,2024-02-30\n"
    )
    assert errors == [(2, "warmed_since: '2024-02-30' is not a date (YYYY-MM-DD)")]


def test_every_problem_on_a_line_is_reported():
    errors = refused(HEADER + "x,myspace,lots,,en_US,ZZ,sold\n")
    assert [line for line, _ in errors] == [2] * 7
    assert [message.split(":")[0] for _, message in errors] == [
        "handle",
        "platform",
        "followers",
        "verticals",
        "language",
        "geo",
        "state",
    ]


def test_every_bad_line_is_reported_and_nothing_is_written():
    errors = refused(
        HEADER
        + "ok_one,tiktok,1,tea,en,US,ready\n"
        + "x,tiktok,1,tea,en,US,ready\n"
        + "ok_two,tiktok,1,tea,en,US,ready\n"
        + "ok_three,tiktok,1,tea,en,UK,ready\n"
    )
    assert [line for line, _ in errors] == [3, 5]
    assert not PoolAccount.objects.filter(handle__startswith="ok_").exists()


def test_duplicate_handle_within_the_file_is_reported_case_insensitively():
    errors = refused(
        HEADER
        + "twin,tiktok,1,tea,en,US,ready\nother,tiktok,1,tea,,,ready\nTWIN,tiktok,1,tea,,,ready\n"
    )
    assert errors == [(4, "handle: @TWIN repeats line 2")]


def test_handle_already_in_the_pool_is_reported():
    existing = factories.make_account("Already_Here")
    errors = refused(HEADER + "fresh,tiktok,1,tea,,,ready\n@already_here,tiktok,1,tea,,,ready\n")
    assert errors == [(3, f"handle: @already_here is already in the pool ({existing.pk})")]


def test_handle_already_in_the_pool_is_reported_alongside_other_errors():
    factories.make_account("already_here")
    errors = refused(HEADER + "x,tiktok,1,tea,,,ready\nalready_here,tiktok,1,tea,,,ready\n")
    assert [line for line, _ in errors] == [2, 3]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("handle,platform,followers,verticals,language,geo\n", "missing column(s): state"),
        (HEADER.strip() + ",colour\n", "unknown column(s): colour"),
        ("", "missing column(s): handle"),
    ],
)
def test_wrong_header_is_reported_on_line_1(header, reason):
    errors = refused(header + "good,tiktok,1,tea,en,US,ready\n")
    assert len(errors) == 1
    assert errors[0][0] == 1
    assert reason in errors[0][1]


def test_extra_values_are_reported():
    errors = refused(HEADER + "good,tiktok,1,tea,en,US,ready,surprise\n")
    assert errors == [(2, "more values than columns")]


def test_missing_values_are_reported_not_crashed_on():
    errors = refused(HEADER + "good,tiktok,1\n")
    assert [line for line, _ in errors] == [2, 2]
    assert [message.split(":")[0] for _, message in errors] == ["verticals", "state"]


def test_undecodable_file_is_reported_not_crashed_on():
    raw = (HEADER + "caf\xe9,tiktok,1,tea,,,ready\n").encode("latin-1")
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    before = snapshot()
    report = pool_import_csv(stream=stream, actor=SYSTEM)
    assert snapshot() == before
    assert len(report.errors) == 1
    assert "unreadable CSV" in report.errors[0][1]


def test_large_import_is_inserted_in_batches():
    lines = "".join(f"bulk_{n},tiktok,{n},tea;coffee,en,US,ready\n" for n in range(2500))
    report = run(HEADER + lines)
    assert report.created == 2500
    assert PoolAccount.objects.count() == 2500
    assert PoolAccountTag.objects.count() == 2500 * 3

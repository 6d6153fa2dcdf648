from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management.base import CommandError

from leasing.models import AuditEvent, PoolAccount, PoolAccountTag
from tests import factories
from tests.commands.conftest import db_state

EXAMPLE = Path(settings.BASE_DIR) / "docs" / "examples" / "pool.csv"
HEADER = "handle,platform,followers,verticals,language,geo,state\n"


def write(tmp_path: Path, text: str, name: str = "pool.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_of_the_example_file_creates_every_account(run):
    result = run("import_pool", str(EXAMPLE))

    assert f"Imported 10 account(s) from {EXAMPLE}." in result.out
    assert PoolAccount.objects.count() == 10
    brew = PoolAccount.objects.get(handle="morning.pour.club")
    assert brew.verticals == ["coffee", "cooking"]
    assert brew.countries == ["US", "CA"]
    assert brew.language == "en-US"
    assert brew.state == "ready"
    assert str(brew.warmed_since) == "2025-09-14"
    assert brew.notes == "Latte art and home espresso; posts daily"
    assert set(brew.tags.values_list("kind", "value")) == {
        ("vertical", "coffee"),
        ("vertical", "cooking"),
        ("country", "US"),
        ("country", "CA"),
    }
    assert PoolAccount.objects.get(handle="old.mutt.diaries").state == "retired"
    assert AuditEvent.objects.filter(action="pool.import").count() == 1
    assert result.err == ""  # a small file gets no progress bar


def test_dry_run_checks_everything_and_imports_nothing(run):
    result = run("import_pool", str(EXAMPLE), "--dry-run")

    assert "Dry run: all 10 row(s)" in result.out
    assert "nothing was imported" in result.out
    assert not PoolAccount.objects.exists()


def test_every_bad_line_is_reported_and_nothing_is_imported(run, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "good_one,tiktok,100,coffee,en,US,ready\n"
        + "good_two,tiktok,lots,coffee,en,US,ready\n"
        + "good_three,tiktok,100,coffee,en,US,ready\n"
        + "bad handle!,youtube,100,,xx-!!,ZZ,sold\n"
        + "GOOD_ONE,tiktok,5,coffee,en,US,warming\n",
    )

    with pytest.raises(CommandError) as error:
        run("import_pool", path)

    assert "5 row(s); nothing was imported" in str(error.value)
    assert not PoolAccount.objects.exists()
    assert not PoolAccountTag.objects.exists()


def test_bad_lines_are_printed_with_their_line_numbers(fail, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "good_one,tiktok,100,coffee,en,US,ready\n"
        + "good_two,tiktok,lots,coffee,en,US,ready\n"
        + "bad handle!,tiktok,100,coffee,en,US,sold\n"
        + "GOOD_ONE,tiktok,5,coffee,en,US,warming\n",
    )

    result = fail("import_pool", path)

    assert result.err.splitlines() == [
        "line 3: followers: 'lots' is not a whole number",
        "line 4: handle: 'bad handle!' is not a TikTok handle (2-24 letters, digits, _ or .)",
        "line 4: state: 'sold' must be one of warming, ready, retired",
        "line 5: handle: @GOOD_ONE repeats line 2",
    ]
    assert result.error.endswith(
        "4 problem(s) in 4 row(s); nothing was imported. Fix the lines above and run it again."
    )
    assert not PoolAccount.objects.exists()


def test_a_handle_already_in_the_pool_is_a_bad_line(fail, tmp_path):
    factories.make_account("latte_lab")
    before = db_state()
    path = write(
        tmp_path,
        HEADER
        + "new_one,tiktok,1,coffee,en,US,ready\n"
        + "Latte_Lab,tiktok,1,coffee,en,US,ready\n",
    )

    result = fail("import_pool", path)

    assert result.err.startswith("line 3: handle: @latte_lab is already in the pool (sa_")
    assert db_state() == before


def test_a_wrong_header_is_reported_on_line_1(fail, tmp_path):
    path = write(tmp_path, "handle,platform,followers,colour\nx,tiktok,1,red\n")

    result = fail("import_pool", path)

    assert result.err == (
        "line 1: header: missing column(s): verticals, language, geo, state; unknown "
        "column(s): colour (expected handle,platform,followers,verticals,language,geo,state)\n"
    )

    assert not PoolAccount.objects.exists()


def test_a_non_utf8_file_is_refused_with_the_line_at_fault(run, tmp_path):
    path = tmp_path / "latin1.csv"
    text = HEADER + "cafe_ok,tiktok,1,coffee,en,US,ready\ncafé_au_lait,tiktok,1,café,fr,FR,ready\n"
    path.write_bytes(text.encode("latin-1"))

    with pytest.raises(
        CommandError, match=r"is not UTF-8 text: line 3 has byte 0xe9 at position 4"
    ):
        run("import_pool", str(path))

    assert not PoolAccount.objects.exists()


def test_a_utf8_file_with_a_byte_order_mark_imports(run, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + (HEADER + "cafe_ok,tiktok,1,café,fr,FR,ready\n").encode())

    run("import_pool", str(path))

    assert PoolAccount.objects.get().verticals == ["café"]


def test_a_missing_file_is_a_clear_error(run, tmp_path):
    with pytest.raises(CommandError, match=r"nope\.csv: no such file"):
        run("import_pool", str(tmp_path / "nope.csv"))


def test_a_directory_is_a_clear_error(run, tmp_path):
    with pytest.raises(CommandError, match="is a directory, not a CSV file"):
        run("import_pool", str(tmp_path))


def test_a_large_file_shows_a_progress_bar_on_stderr(run, tmp_path):
    rows = "".join(f"acct_{n},tiktok,{n},coffee,en,US,ready\n" for n in range(1200))
    path = write(tmp_path, HEADER + rows)

    result = run("import_pool", path)

    assert "Imported 1200 account(s)" in result.out
    assert "checking" in result.err
    assert "1200/1200" in result.err
    assert PoolAccount.objects.count() == 1200
    assert PoolAccountTag.objects.count() == 2400


def test_import_records_the_staff_user_given_by(run, ops_user):
    run("import_pool", str(EXAMPLE), "--by=olive_ops")

    assert AuditEvent.objects.get(action="pool.import").actor_user == ops_user

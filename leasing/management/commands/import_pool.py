"""import_pool: add warmed accounts to the pool from a CSV file, all or nothing."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from leasing.management.commands._common import RawStream, actor_for
from leasing.services.pool import IMPORT_COLUMNS, IMPORT_OPTIONAL_COLUMNS, pool_import_csv

# Below this many lines the import finishes before a progress bar would tell you anything.
PROGRESS_MIN_LINES = 1000


class Command(BaseCommand):
    help = (
        "Import pool accounts from a UTF-8 CSV file with a header row. Columns: "
        f"{','.join(IMPORT_COLUMNS)}; optional {','.join(IMPORT_OPTIONAL_COLUMNS)}. "
        "verticals and geo hold lists separated by ';' (coffee;latte art, US;CA); state is "
        "warming, ready or retired; warmed_since is YYYY-MM-DD. All or nothing: every bad "
        "line is reported as 'line N: reason' and then nothing is imported. "
        "Example file: docs/examples/pool.csv."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.csv", help="path of the CSV file")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check every line and report, but import nothing",
        )
        parser.add_argument(
            "--by", metavar="USERNAME", help="staff user to record as the actor (default: system)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        actor = actor_for(options["by"], "import_pool")
        lines = count_utf8_lines(path)
        show_progress = lines >= PROGRESS_MIN_LINES
        with (
            path.open(encoding="utf-8-sig", newline="") as stream,
            tqdm(
                total=max(lines - 1, 0),
                unit=" rows",
                desc="checking",
                file=RawStream(self.stderr),
                disable=not show_progress,
            ) as bar,
        ):

            def advance(rows: int) -> None:
                bar.update(rows)

            report = pool_import_csv(
                stream=stream, actor=actor, dry_run=options["dry_run"], progress=advance
            )
        if not report.ok:
            for line, message in report.errors:
                self.stderr.write(f"line {line}: {message}")
            if report.error_count > len(report.errors):
                self.stderr.write(
                    f"... and {report.error_count - len(report.errors)} more problem(s)"
                )
            raise CommandError(
                f"{path}: {report.error_count} problem(s) in {report.rows} row(s); "
                "nothing was imported. Fix the lines above and run it again."
            )
        if report.dry_run:
            self.stdout.write(
                f"Dry run: all {report.rows} row(s) of {path} are valid; nothing was imported."
            )
        else:
            self.stdout.write(f"Imported {report.created} account(s) from {path}.")


def count_utf8_lines(path: Path) -> int:
    """The file's line count, for the progress bar; refuses a file that is not UTF-8 text.

    Checking the encoding up front gives one clear message with the line and byte at
    fault, instead of a decode error half-way through the import.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    try:
        with path.open("rb") as raw:
            for lines, chunk in enumerate(raw, start=1):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise CommandError(
                        f"{path} is not UTF-8 text: line {lines} has byte "
                        f"0x{exc.object[exc.start]:02x} at position {exc.start + 1}. "
                        "Save the file as UTF-8 (CSV UTF-8 in Excel) and try again."
                    ) from None
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise CommandError(
            f"{path} is not UTF-8 text: it ends in the middle of a character"
        ) from None
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{path} is a directory, not a CSV file") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    return lines

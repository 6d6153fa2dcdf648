"""The warmed-account pool: state changes, retirement and CSV import."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from leasing.ids import make_id
from leasing.models import Lease, PoolAccount, PoolAccountTag
from leasing.services.audit import Actor, audit_record
from leasing.services.errors import FieldProblem, InvalidState, ValidationFailed
from leasing.services.leases import lease_disconnect_locked
from leasing.services.totals import ready_supply_add, ready_supply_change, ready_supply_keys
from leasing.services.validation import (
    country_code,
    language_primary,
    language_problem,
    normalize_vertical,
)

# TikTok usernames: letters, digits, underscores and periods, 2-24 characters.
HANDLE_RE = re.compile(r"^[A-Za-z0-9_.]{2,24}$")
IMPORT_COLUMNS = ("handle", "platform", "followers", "verticals", "language", "geo", "state")
IMPORT_OPTIONAL_COLUMNS = ("warmed_since", "notes")
IMPORT_STATES = (PoolAccount.State.WARMING, PoolAccount.State.READY, PoolAccount.State.RETIRED)
MAX_FOLLOWERS = 2_000_000_000
IMPORT_BATCH = 2000
MAX_REPORTED_ERRORS = 1000


def pool_account_tags(account: PoolAccount) -> list[PoolAccountTag]:
    """The indexed tag rows that mirror an account's verticals and countries."""
    tags = [
        PoolAccountTag(account=account, kind=PoolAccountTag.Kind.VERTICAL, value=v)
        for v in account.verticals
    ]
    tags += [
        PoolAccountTag(account=account, kind=PoolAccountTag.Kind.COUNTRY, value=c)
        for c in account.countries
    ]
    return tags


def pool_account_create(
    *,
    handle: str,
    followers: int,
    verticals: list[str],
    language: str = "",
    countries: list[str] | None = None,
    state: str = PoolAccount.State.WARMING,
    warmed_since: date | None = None,
    notes: str = "",
    actor: Actor,
) -> PoolAccount:
    """Add one account to the pool (the import does the same in bulk)."""
    row = {
        "handle": handle,
        "platform": PoolAccount.Platform.TIKTOK,
        "followers": str(followers),
        "verticals": ";".join(verticals),
        "language": language,
        "geo": ";".join(countries or []),
        "state": state,
        "warmed_since": warmed_since.isoformat() if warmed_since else "",
        "notes": notes,
    }
    cleaned, problems = _clean_import_row(row)
    if problems or cleaned is None:
        raise ValidationFailed([FieldProblem(f, p) for f, p in problems])
    taken = ValidationFailed([FieldProblem("handle", f"@{handle} is already in the pool")])
    if PoolAccount.objects.annotate(h=Lower("handle")).filter(h=handle.lower()).exists():
        raise taken
    with transaction.atomic():
        try:
            # Two people adding the same handle at once: the unique constraint decides.
            with transaction.atomic():
                account = PoolAccount.objects.create(**cleaned)
        except IntegrityError:
            raise taken from None
        PoolAccountTag.objects.bulk_create(pool_account_tags(account))
        if account.state == PoolAccount.State.READY:
            ready_supply_add(accounts=[account], delta=1)
        audit_record(
            actor=actor,
            action="pool.create",
            object_type="pool_account",
            object_id=account.pk,
            after={"handle": account.handle, "state": account.state},
        )
    return account


def _set_state(*, account: PoolAccount, allowed_from: str, to: str, actor: Actor) -> PoolAccount:
    with transaction.atomic():
        locked = PoolAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        if locked.state != allowed_from:
            raise InvalidState(
                f"@{locked.handle} is {locked.get_state_display().lower()}; only a "
                f"{allowed_from} account can become {to}"
            )
        locked.state = to
        locked.save(update_fields=["state"])
        ready_supply_add(accounts=[locked], delta=1 if to == PoolAccount.State.READY else -1)
        audit_record(
            actor=actor,
            action=f"pool.mark_{to}",
            object_type="pool_account",
            object_id=locked.pk,
            before={"state": allowed_from},
            after={"state": to},
        )
    account.state = to
    return locked


def pool_account_mark_ready(*, account: PoolAccount, actor: Actor) -> PoolAccount:
    return _set_state(
        account=account,
        allowed_from=PoolAccount.State.WARMING,
        to=PoolAccount.State.READY,
        actor=actor,
    )


def pool_account_mark_warming(*, account: PoolAccount, actor: Actor) -> PoolAccount:
    return _set_state(
        account=account,
        allowed_from=PoolAccount.State.READY,
        to=PoolAccount.State.WARMING,
        actor=actor,
    )


def pool_account_retire(*, account: PoolAccount, reason: str, actor: Actor) -> Lease | None:
    """Take an account out of the pool for good; an active lease ends as account_lost.

    Returns the lease it disconnected, if there was one.
    """
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed([FieldProblem("reason", "say why the account is retired")])
    if len(text) > 2000:
        raise ValidationFailed([FieldProblem("reason", "must be at most 2000 characters")])
    with transaction.atomic():
        locked = PoolAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        if locked.state == PoolAccount.State.RETIRED:
            raise InvalidState(f"@{locked.handle} is already retired")
        lease = (
            Lease.objects.select_for_update(no_key=True)
            .filter(account=locked, status=Lease.Status.ASSIGNED)
            .first()
        )
        before = {"state": locked.state}
        if lease is not None:
            lease_disconnect_locked(
                lease=lease,
                account=locked,
                reason=Lease.Reason.ACCOUNT_LOST,
                note=text,
                actor=actor,
            )
        if locked.state == PoolAccount.State.READY:  # ready before, or freed by the lease's end
            ready_supply_add(accounts=[locked], delta=-1)
        locked.state = PoolAccount.State.RETIRED
        locked.retired_reason = text
        locked.save(update_fields=["state", "retired_reason"])
        audit_record(
            actor=actor,
            action="pool.retire",
            object_type="pool_account",
            object_id=locked.pk,
            organization_id=lease.organization_id if lease else None,
            before=before,
            after={"state": locked.state, "reason": text, "lease": lease.pk if lease else None},
        )
    account.state = PoolAccount.State.RETIRED
    return lease


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, message))


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


def _clean_import_row(row: dict[str, str]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    handle = (row.get("handle") or "").strip().lstrip("@")
    if not HANDLE_RE.match(handle):
        problems.append(
            ("handle", f"{handle!r} is not a TikTok handle (2-24 letters, digits, _ or .)")
        )
    platform = (row.get("platform") or "").strip().lower()
    if platform != PoolAccount.Platform.TIKTOK:
        problems.append(("platform", f"{platform!r} is not supported; only tiktok"))
    followers_raw = (row.get("followers") or "").strip()
    followers = 0
    # isascii: str.isdigit() also accepts digits int() refuses, such as "²".
    if not (followers_raw.isascii() and followers_raw.isdigit()):
        problems.append(("followers", f"{followers_raw!r} is not a whole number"))
    else:
        followers = int(followers_raw)
        if followers > MAX_FOLLOWERS:
            problems.append(("followers", f"{followers} is larger than any real account"))
    verticals = list(
        dict.fromkeys(normalize_vertical(v) for v in _split(row.get("verticals") or ""))
    )
    if not verticals:
        problems.append(("verticals", "at least one vertical is required"))
    elif any(len(v) > 64 for v in verticals):
        problems.append(("verticals", "a vertical is longer than 64 characters"))
    language = (row.get("language") or "").strip()
    if language:
        problem = language_problem(language)
        if problem:
            problems.append(("language", problem))
    countries: list[str] = []
    for raw in _split(row.get("geo") or ""):
        code = country_code(raw)
        if code is None:
            problems.append(("geo", f"{raw!r} is not an ISO 3166-1 alpha-2 country code"))
        elif code not in countries:
            countries.append(code)
    state = (row.get("state") or "").strip().lower()
    if state not in IMPORT_STATES:
        problems.append(("state", f"{state!r} must be one of {', '.join(IMPORT_STATES)}"))
    warmed_raw = (row.get("warmed_since") or "").strip()
    warmed_since: date | None = None
    if warmed_raw:
        try:
            warmed_since = date.fromisoformat(warmed_raw)
        except ValueError:
            problems.append(("warmed_since", f"{warmed_raw!r} is not a date (YYYY-MM-DD)"))
    notes = (row.get("notes") or "").strip()
    if len(notes) > 5000:
        problems.append(("notes", "must be at most 5000 characters"))
    if problems:
        return None, problems
    return {
        "handle": handle,
        "platform": platform,
        "followers": followers,
        "verticals": verticals,
        "language": language,
        "language_primary": language_primary(language),
        "countries": countries,
        "state": state,
        "warmed_since": warmed_since or timezone.now().date(),
        "notes": notes,
        "retired_reason": "retired at import" if state == PoolAccount.State.RETIRED else "",
    }, []


def _rows(stream: IO[str], report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    # strict: an unclosed quote is an error, not a silently merged line.
    reader = csv.DictReader(stream, strict=True)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    unknown = [c for c in header if c not in IMPORT_COLUMNS + IMPORT_OPTIONAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        report.add_error(
            1, "header: " + "; ".join(parts) + f" (expected {','.join(IMPORT_COLUMNS)})"
        )
        return
    reader.fieldnames = header
    for row in reader:
        if None in row:
            report.add_error(reader.line_num, "more values than columns")
            continue
        yield reader.line_num, row


def pool_import_csv(
    *,
    stream: IO[str],
    actor: Actor,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import pool accounts from CSV, all or nothing.

    The file is read twice: once to validate every line (nothing is written if any line
    is wrong), then again to insert in batches inside one transaction. Memory stays flat
    apart from the set of handles seen, which duplicate detection needs.
    """
    report = ImportReport(dry_run=dry_run)
    seen: dict[str, int] = {}
    try:
        for line, row in _rows(stream, report):
            report.rows += 1
            cleaned, problems = _clean_import_row(row)
            for column, problem in problems:
                report.add_error(line, f"{column}: {problem}")
            if cleaned is not None:
                key = cleaned["handle"].lower()
                if key in seen:
                    report.add_error(line, f"handle: @{cleaned['handle']} repeats line {seen[key]}")
                else:
                    seen[key] = line
            if progress:
                progress(1)
    except (csv.Error, UnicodeDecodeError) as exc:
        report.add_error(report.rows + 1, f"unreadable CSV: {exc}")
    # Report handles already in the pool even when other lines are wrong, so one run
    # lists every bad line; a stable sort by line keeps each line's problems in column order.
    _report_existing_handles(seen, report)
    report.errors.sort(key=lambda error: error[0])
    if not report.ok or dry_run:
        return report

    stream.seek(0)
    with transaction.atomic():
        batch: list[PoolAccount] = []
        # Counted into the ready supply once, at the end: its rows stay locked the least.
        ready: Counter[tuple[str, str]] = Counter()
        for _line, row in _rows(stream, report):
            cleaned, _ = _clean_import_row(row)
            assert cleaned is not None  # validated in the first pass
            account = PoolAccount(id=make_id("sa"), **cleaned)
            batch.append(account)
            if account.state == PoolAccount.State.READY:
                ready.update(ready_supply_keys(account))
            if len(batch) >= IMPORT_BATCH:
                _insert(batch)
                report.created += len(batch)
                batch = []
        _insert(batch)
        report.created += len(batch)
        ready_supply_change(counts=ready)
        audit_record(
            actor=actor,
            action="pool.import",
            object_type="pool_account",
            object_id="*",
            after={"created": report.created},
        )
    return report


def _insert(batch: list[PoolAccount]) -> None:
    if not batch:
        return
    PoolAccount.objects.bulk_create(batch)
    PoolAccountTag.objects.bulk_create(
        [tag for account in batch for tag in pool_account_tags(account)]
    )


def _report_existing_handles(seen: dict[str, int], report: ImportReport) -> None:
    handles = list(seen)
    for start in range(0, len(handles), IMPORT_BATCH):
        chunk = handles[start : start + IMPORT_BATCH]
        existing = (
            PoolAccount.objects.annotate(lower_handle=Lower("handle"))
            .filter(lower_handle__in=chunk)
            .values_list("lower_handle", "id")
        )
        for lower_handle, account_id in existing:
            report.add_error(
                seen[lower_handle], f"handle: @{lower_handle} is already in the pool ({account_id})"
            )

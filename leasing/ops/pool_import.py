"""The pool CSV import: upload and check (a dry run, nothing written), then import.

The uploaded file is staged on disk under a random token that only the uploader's session
knows, so the import step writes exactly the file that was checked, without a second upload.
The service checks every line again before writing, all or nothing: if the pool changed in
between (a handle added meanwhile), the import refuses and shows the new report.

Large files take a while, so the check and the import report their progress to a small
JSON file next to the staged CSV; the page polls it while the request runs. Files on disk
(not the cache) make that work with several server processes on one host.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leasing.forms import IMPORT_TOKEN_RE, MAX_IMPORT_BYTES, PoolImportCommitForm, PoolImportForm
from leasing.ops.access import POOL, DeskRequest, actor_for, role_required
from leasing.ops.navigation import HttpResponseSeeOther
from leasing.ops.render import render_page
from leasing.services.pool import (
    IMPORT_COLUMNS,
    IMPORT_OPTIONAL_COLUMNS,
    ImportReport,
    pool_import_csv,
)

SESSION_KEY = "pool_import_tokens"
MAX_TOKENS = 10
STAGED_TTL_SECONDS = 24 * 3600
# Write progress at most every this many lines or seconds: cheap on small files, live on big.
PROGRESS_EVERY_LINES = 2000
PROGRESS_EVERY_SECONDS = 0.5


def staging_dir() -> Path:
    configured = getattr(settings, "POOL_IMPORT_DIR", "")
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "lease-desk-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Staged:
    token: str

    @property
    def csv(self) -> Path:
        return staging_dir() / f"{self.token}.csv"

    @property
    def meta(self) -> Path:
        return staging_dir() / f"{self.token}.json"

    @property
    def progress(self) -> Path:
        return staging_dir() / f"{self.token}.progress.json"

    def read_meta(self) -> dict[str, Any]:
        try:
            data = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def read_progress(self) -> dict[str, Any]:
        try:
            data = json.loads(self.progress.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def delete(self) -> None:
        for path in (self.csv, self.meta, self.progress):
            path.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # Write then rename, so a reader never sees half a file.
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


class ProgressFile:
    """The service's progress callback: counts lines and writes the count now and then."""

    def __init__(self, staged: Staged, *, phase: str, total: int) -> None:
        self.staged, self.phase, self.total = staged, phase, total
        self.done = 0
        self._written_at, self._written_lines = 0.0, 0
        self.write()

    def __call__(self, lines: int) -> None:
        self.done += lines
        now = time.monotonic()
        if (
            self.done - self._written_lines >= PROGRESS_EVERY_LINES
            or now - self._written_at >= PROGRESS_EVERY_SECONDS
        ):
            self.write()

    def write(self, *, finished: bool = False) -> None:
        self._written_at, self._written_lines = time.monotonic(), self.done
        _write_json(
            self.staged.progress,
            {"phase": self.phase, "done": self.done, "total": self.total, "finished": finished},
        )


def _purge_old_files() -> None:
    cutoff = time.time() - STAGED_TTL_SECONDS
    for path in staging_dir().iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def _session_tokens(request: DeskRequest) -> list[str]:
    tokens = request.session.get(SESSION_KEY, [])
    return [t for t in tokens if isinstance(t, str)] if isinstance(tokens, list) else []


def _new_token(request: DeskRequest) -> str:
    token = secrets.token_hex(16)
    request.session[SESSION_KEY] = [*_session_tokens(request), token][-MAX_TOKENS:]
    return token


def _owned(request: DeskRequest, token: str) -> Staged:
    """The staged import `token` names, if this session started it."""
    if not re.match(IMPORT_TOKEN_RE, token) or token not in _session_tokens(request):
        raise Http404("No such import.")
    return Staged(token)


def _count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)  # the header


def _stage(upload: UploadedFile[Any], staged: Staged) -> None:
    with staged.csv.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _run(staged: Staged, request: DeskRequest, *, dry_run: bool) -> ImportReport:
    total = int(staged.read_meta().get("lines") or _count_lines(staged.csv))
    progress = ProgressFile(staged, phase="checking" if dry_run else "importing", total=total)
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column name.
    with staged.csv.open(encoding="utf-8-sig", newline="") as stream:
        report = pool_import_csv(
            stream=stream, actor=actor_for(request), dry_run=dry_run, progress=progress
        )
    progress.write(finished=True)
    return report


def _context(request: DeskRequest, *, form: PoolImportForm, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "nav": "pool",
        "form": form,
        "columns": IMPORT_COLUMNS,
        "optional_columns": IMPORT_OPTIONAL_COLUMNS,
        "max_mb": MAX_IMPORT_BYTES // 1_000_000,
    }
    context.update(extra)
    return context


def _fresh_form(request: DeskRequest) -> PoolImportForm:
    return PoolImportForm(initial={"token": _new_token(request)})


@require_GET
@role_required(POOL)
def import_view(request: DeskRequest) -> HttpResponse:
    _purge_old_files()
    return render_page(request, "pool/import.html", _context(request, form=_fresh_form(request)))


@require_POST
@role_required(POOL)
def import_check_view(request: DeskRequest) -> HttpResponse:
    """Stage the file and check every line; nothing is written to the pool."""
    form = PoolImportForm(request.POST, request.FILES)
    if not form.is_valid():
        # A fresh token for the next try; the errors stay.
        data = request.POST.copy()
        data["token"] = _new_token(request)
        form = PoolImportForm(data, request.FILES)
        form.is_valid()
        return render_page(request, "pool/import.html", _context(request, form=form), status=422)
    staged = _owned(request, form.cleaned_data["token"])
    upload = form.cleaned_data["file"]
    _stage(upload, staged)
    lines = _count_lines(staged.csv)
    _write_json(staged.meta, {"name": upload.name, "size": upload.size, "lines": lines})
    report = _run(staged, request, dry_run=True)
    if not report.ok:
        staged.delete()
    context = _context(
        request,
        form=_fresh_form(request),
        report=report,
        staged=staged if report.ok else None,
        file_name=upload.name,
        file_size=upload.size,
    )
    return render_page(request, "pool/import.html", context)


@require_POST
@role_required(POOL)
def import_commit_view(request: DeskRequest) -> HttpResponseBase:
    form = PoolImportCommitForm(request.POST)
    if not form.is_valid():
        raise Http404("No such import.")
    staged = _owned(request, form.cleaned_data["token"])
    meta = staged.read_meta()
    if not staged.csv.exists():
        messages.error(
            request,
            "That checked file is no longer here (imported already, or older than a day). "
            "Upload it again.",
        )
        return HttpResponseSeeOther(reverse("ops:pool-import"))
    report = _run(staged, request, dry_run=False)
    if not report.ok:
        # The pool changed since the check; nothing was written.
        staged.delete()
        context = _context(
            request,
            form=_fresh_form(request),
            report=report,
            staged=None,
            file_name=meta.get("name", ""),
            file_size=meta.get("size", 0),
            changed_since_check=True,
        )
        return render_page(request, "pool/import.html", context, status=409)
    staged.delete()
    request.session[SESSION_KEY] = [t for t in _session_tokens(request) if t != staged.token]
    messages.success(
        request,
        f"Imported {report.created:,} account{'s' if report.created != 1 else ''} "
        f"from {meta.get('name', 'the file')}.",
    )
    return HttpResponseSeeOther(f"{reverse('ops:pool')}?sort=newest")


@require_GET
@role_required(POOL)
def import_progress_view(request: DeskRequest, token: str) -> HttpResponse:
    staged = _owned(request, token)
    progress = staged.read_progress()
    done, total = int(progress.get("done") or 0), int(progress.get("total") or 0)
    context = _context(
        request,
        form=PoolImportForm(),
        progress={
            "phase": progress.get("phase", "uploading"),
            "done": done,
            "total": total,
            "percent": min(100, round(100 * done / total)) if total else 0,
            "writing": progress.get("phase") == "importing" and total and done >= total,
        },
    )
    return render_page(request, "pool/import.html", context)

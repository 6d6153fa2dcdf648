"""The pool CSV import: a dry-run check first, then the import of the checked file."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leasing.models import AuditEvent, PoolAccount
from leasing.ops import pool_import
from tests import factories
from tests.invariants import snapshot

pytestmark = pytest.mark.django_db

HEADER = "handle,platform,followers,verticals,language,geo,state\n"


@pytest.fixture(autouse=True)
def staging(settings, tmp_path):
    settings.POOL_IMPORT_DIR = str(tmp_path)
    return tmp_path


def token_of(client) -> str:
    body = client.get("/pool/import/").content.decode()
    found = re.search(r'name="token" value="([0-9a-f]{32})"', body)
    assert found is not None
    return found.group(1)


def upload(client, text: str, token: str, name: str = "pool.csv"):
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post("/pool/import/check/", {"file": file, "token": token})


def test_check_reports_every_bad_line_and_writes_nothing(ops_client, staging):
    factories.make_account("taken.handle")
    before = snapshot()
    text = HEADER + (
        "good.one,tiktok,100,coffee,en,US,ready\n"
        "taken.handle,tiktok,100,coffee,en,US,ready\n"
        "bad handle!,tiktok,lots,,xx-!!,ZZ,sold\n"
    )
    response = upload(ops_client, text, token_of(ops_client))
    body = response.content.decode()
    assert response.status_code == 200
    assert "already in the pool" in body
    assert "is not a TikTok handle" in body
    assert "is not a whole number" in body
    assert "Nothing was written" in body
    assert "pool-import-commit" not in body
    assert "/pool/import/commit/" not in body
    assert snapshot() == before
    assert list(staging.glob("*.csv")) == []  # a failed check keeps nothing


def test_check_then_import_writes_the_checked_file(ops_client, ops_user, staging):
    token = token_of(ops_client)
    text = (
        HEADER
        + "brew.new,tiktok,1200,coffee;food,en-US,US;CA,ready\n"
        + "fit.new,tiktok,9,fitness,es,MX,warming\n"
    )
    before = snapshot()
    response = upload(ops_client, text, token)
    body = response.content.decode()
    assert "Ready to import" in body
    assert "Import 2 accounts" in body
    assert snapshot() == before
    progress = json.loads((staging / f"{token}.progress.json").read_text())
    assert progress == {"phase": "checking", "done": 2, "total": 2, "finished": True}

    response = ops_client.post("/pool/import/commit/", {"token": token})
    assert response.status_code == 303
    assert response["Location"] == "/pool/?sort=newest"
    brew = PoolAccount.objects.get(handle="brew.new")
    assert (brew.state, brew.verticals, brew.countries) == (
        "ready",
        ["coffee", "food"],
        ["US", "CA"],
    )
    assert AuditEvent.objects.get(action="pool.import").actor_user_id == ops_user.pk
    assert list(staging.iterdir()) == []
    # The token is spent: a second import of the same file is refused.
    assert ops_client.post("/pool/import/commit/", {"token": token}).status_code == 404


def test_import_refuses_when_the_pool_changed_since_the_check(ops_client):
    token = token_of(ops_client)
    upload(ops_client, HEADER + "late.comer,tiktok,5,coffee,en,US,ready\n", token)
    factories.make_account("late.comer")
    before = snapshot()
    response = ops_client.post("/pool/import/commit/", {"token": token})
    assert response.status_code == 409
    assert "The pool changed since the check" in response.content.decode()
    assert snapshot() == before


def test_a_token_from_another_session_is_refused(ops_client, other_ops_user, staging):
    from django.test import Client

    token = token_of(ops_client)
    upload(ops_client, HEADER + "mine.only,tiktok,5,coffee,en,US,ready\n", token)
    other = Client()
    other.force_login(other_ops_user)
    assert other.post("/pool/import/commit/", {"token": token}).status_code == 404
    assert other.get(f"/pool/import/progress/{token}/").status_code == 404
    assert not PoolAccount.objects.filter(handle="mine.only").exists()


def test_check_needs_a_file(ops_client):
    response = ops_client.post("/pool/import/check/", {"token": token_of(ops_client)})
    assert response.status_code == 422
    assert "Choose the CSV file to check" in response.content.decode()


def test_file_too_large_is_refused(ops_client, monkeypatch):
    monkeypatch.setattr("leasing.forms.MAX_IMPORT_BYTES", 10)
    response = upload(ops_client, HEADER, token_of(ops_client))
    assert response.status_code == 422
    assert "the limit is" in response.content.decode()


def test_check_fragment_for_htmx(ops_client, htmx_headers):
    file = SimpleUploadedFile("p.csv", (HEADER + "a.b.c,tiktok,1,coffee,en,US,ready\n").encode())
    response = ops_client.post(
        "/pool/import/check/",
        {"file": file, "token": token_of(ops_client)},
        headers=htmx_headers("import-report"),
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="import-report"')
    assert "Import 1 account" in body


def test_progress_fragment_reports_lines_checked(ops_client, staging, htmx_headers):
    token = token_of(ops_client)
    staged = pool_import.Staged(token)
    (staging / f"{token}.csv").write_text(HEADER + "x\n" * 10)
    progress = pool_import.ProgressFile(staged, phase="checking", total=10_000)
    progress(2_500)
    response = ops_client.get(
        f"/pool/import/progress/{token}/", headers=htmx_headers("import-progress")
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="import-progress"')
    assert 'data-progress-percent="25"' in body
    assert "Checked 2,500 of 10,000 lines" in body


def test_progress_with_a_malformed_token_is_404(ops_client):
    token_of(ops_client)
    assert ops_client.get("/pool/import/progress/..%2F..%2Fetc/").status_code == 404

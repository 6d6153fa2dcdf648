"""Settings helpers refuse values they cannot understand instead of guessing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from leasing.settings import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("Yes", True)])
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_env_bool_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be one of"):
        env_bool("FLAG", False)


def test_env_int_rejects_words_and_too_small(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 5, minimum=1)


def test_env_list_rejects_empty_items(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example.com,,b.example.com")
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env_list("HOSTS", [])


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import leasing.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_requires_a_secret_key():
    result = _load_settings(DEBUG="false", SECRET_KEY="", ALLOWED_HOSTS="x.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_rejects_a_short_secret_key():
    result = _load_settings(DEBUG="false", SECRET_KEY="short", ALLOWED_HOSTS="x.example.com")
    assert "at least 50 characters" in result.stderr


def test_unknown_database_scheme_is_refused():
    result = _load_settings(DATABASE_URL="mysql://root@localhost/db")
    assert result.returncode != 0
    assert "DATABASE_URL must be sqlite:// or postgres://" in result.stderr


def test_csrf_origins_need_a_scheme():
    result = _load_settings(CSRF_TRUSTED_ORIGINS="leasedesk.example.com")
    assert "need a scheme" in result.stderr


def test_defaults_load_cleanly():
    result = _load_settings()
    assert result.returncode == 0, result.stderr


def _prepared_statements(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import leasing.settings as s; print(s.DB_PREPARED_STATEMENTS)"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def test_prepared_statements_are_for_postgres_unless_turned_off():
    postgres = "postgres://root@127.0.0.1:5432/unused"
    assert _prepared_statements(DATABASE_URL=postgres) == "True"
    assert _prepared_statements(DATABASE_URL=postgres, DB_PREPARED_STATEMENTS="false") == "False"
    assert _prepared_statements() == "False"  # SQLite


def test_a_bad_prepared_statements_value_is_refused_even_on_sqlite():
    result = _load_settings(DB_PREPARED_STATEMENTS="sometimes")
    assert result.returncode != 0
    assert "DB_PREPARED_STATEMENTS must be one of" in result.stderr

"""Settings for the benchmarks: production behaviour (DEBUG off, persistent database
connections) on loopback, plus bench/urls.py, which adds the bare comparison view.

Only bench/run.py and the gunicorn it starts use this module; the product never does.
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret-" + "0123456789abcdef" * 4)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Plain HTTP on loopback: no TLS redirect or secure-only cookies.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# A production server keeps its connections; opening one per request would dominate.
os.environ.setdefault("DB_CONN_MAX_AGE", "600")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from leasing.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# No collectstatic manifest is needed to render pages here.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

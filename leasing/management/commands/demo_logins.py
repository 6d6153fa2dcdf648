"""demo_logins: the demo staff logins and where to use them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from leasing.demo import DEFAULT_BASE_URL, DEMO_STAFF


class Command(BaseCommand):
    help = (
        "Print the demo staff usernames, roles and passwords (made by seed_demo) and the "
        "URLs to sign in at. Demo passwords are fixed and public: never load the demo into "
        "a production database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"where the server listens (default {DEFAULT_BASE_URL})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["base_url"].rstrip("/")
        existing = set(
            get_user_model()
            .objects.filter(username__in=[login.username for login in DEMO_STAFF])
            .values_list("username", flat=True)
        )
        self.stdout.write(f"Lease Desk demo: dashboard {base}/  admin {base}/admin/")
        self.stdout.write(f"  {'username':<10}{'role':<10}password")
        for login in DEMO_STAFF:
            missing = "" if login.username in existing else "  (not in this database yet)"
            self.stdout.write(f"  {login.username:<10}{login.role:<10}{login.password}{missing}")
        if not existing:
            self.stdout.write("Run `manage.py seed_demo` to create these users.")

"""create_staff: a staff user in one of the four roles."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leasing.management.commands._common import actor_for, service_errors
from leasing.roles import ROLES
from leasing.services.staff import staff_create


class Command(BaseCommand):
    help = (
        "Create a staff user who can sign in to the dashboard and /admin/. Roles: ops "
        "(triage and assign), support (read-only, internal notes), finance (wallets, "
        "prices, exports), admin (everything). Without --password a random one is "
        "generated and printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="login name (letters, digits and @.+-_)")
        parser.add_argument("--role", required=True, choices=ROLES, help="the user's role")
        parser.add_argument(
            "--password",
            help="initial password; it must pass the password rules (default: generate one)",
        )
        parser.add_argument(
            "--by", metavar="USERNAME", help="staff user to record as the actor (default: system)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = actor_for(options["by"], "create_staff")
        with service_errors({"password": "--password", "role": "--role"}):
            user, password = staff_create(
                username=options["username"],
                role=options["role"],
                password=options["password"],
                actor=actor,
            )
        self.stdout.write(f"Created {options['role']} user {user.username}.")
        if options["password"] is None:
            self.stdout.write(f"Password: {password}  (shown once; pass it on securely)")

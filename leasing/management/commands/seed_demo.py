"""seed_demo: load realistic demo data through the services, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leasing.demo import DEFAULT_BASE_URL, DEMO_PARTNERS, demo_seed
from leasing.management.commands._common import service_errors
from leasing.models import Organization


class Command(BaseCommand):
    help = (
        f"Load demo data: {len(DEMO_PARTNERS)} partners with projects and API keys, 2,000 "
        "pool accounts, a request queue in every status with notes, leases with months of "
        "wallet history and a few renewals due, and the demo staff logins (see "
        "demo_logins). Everything goes through the same services as real use, so the "
        "ledger rules hold. Repeatable: running it again creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the database already has any partner (used by make run)",
        )
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"server address used in the printed curl example (default {DEFAULT_BASE_URL})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Organization.objects.exists():
            self.stdout.write("The database already has partners; demo data not loaded.")
            return
        with service_errors():
            result = demo_seed()
        if not result.created:
            self.stdout.write(
                "Demo data is already loaded; nothing created. (API keys are shown only "
                "when they are made: issue a new one from the dashboard if you need one.)"
            )
            return
        by_status = result.requests_by_status
        statuses = ", ".join(
            f"{by_status.get(s, 0)} {s.replace('_', ' ')}"
            for s in ("requested", "in_progress", "assigned", "partial", "rejected")
        )
        disconnected = ", ".join(
            f"{n} {reason}" for reason, n in sorted(result.disconnected_by_reason.items())
        )
        lines = [
            f"Demo data loaded in {result.elapsed_seconds:.1f} s:",
            f"  {result.partners} partners, {result.projects} projects",
            f"  {result.pool_accounts:,} pool accounts in {result.verticals} verticals and "
            f"{result.languages} languages",
            f"  {sum(by_status.values())} lease requests: {statuses}",
            f"  {result.active_leases} active leases ({result.renewals_due_now} renewals due "
            f"now, {result.renewals_next_days} in the next 5 days); disconnected: {disconnected}",
            f"  {result.ledger_entries:,} wallet ledger entries",
        ]
        if result.staff_created:
            lines.append(f"  staff: {', '.join(result.staff_created)} (see demo_logins)")
        if result.staff_kept:
            kept = ", ".join(result.staff_kept)
            lines.append(f"  existing users kept with their own passwords: {kept}")
        lines += [
            "",
            f"API key of {result.showcase_partner} (shown once, not saved anywhere):",
            f"  {result.showcase_key}",
            "Try it:",
            f'  curl -H "Authorization: Bearer {result.showcase_key}" '
            f"{options['base_url'].rstrip('/')}/v1/projects/{result.showcase_project_id}/leased-accounts",
        ]
        self.stdout.write("\n".join(lines))

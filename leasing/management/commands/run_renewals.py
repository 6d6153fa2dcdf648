"""run_renewals: the monthly renewal job, plus housekeeping of expired API rows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leasing.management.commands._common import describe_purge, iso, parse_moment
from leasing.models import Lease, LedgerEntry
from leasing.money import format_cents
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run
from leasing.services.housekeeping import purge_expired


class Command(BaseCommand):
    help = (
        "Charge every lease whose renewal is due, one charge per lease and month, and "
        "disconnect (billing_exhausted) each lease its partner's wallet cannot cover. Safe "
        "to run twice or from two machines at once: a period is never charged twice. Run it "
        "on a timer (hourly is plenty). Then purges expired idempotency keys, rate-limit "
        "windows and old API call logs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            metavar="ISO-8601",
            help=(
                "renew as if it were this moment, e.g. 2026-05-01T06:00:00Z (no offset means "
                "UTC; default: the current time). The purge never looks past the real clock."
            ),
        )
        parser.add_argument(
            "--quiet", action="store_true", help="print only the totals, not each lease"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        real_now = timezone.now()
        now = real_now if options["now"] is None else parse_moment(options["now"], option="--now")
        report = renewals_run(now=now, actor=Actor.for_system("run_renewals"))

        if not options["quiet"]:
            charges = LedgerEntry.objects.filter(
                pk__in=[entry.pk for entry in report.charged]
            ).select_related("organization", "lease__account")
            for entry in charges.order_by("organization__name", "id"):
                lease = entry.lease
                assert lease is not None  # renewal charges always name their lease
                self.stdout.write(
                    f"charged       {entry.organization.name}: @{lease.account.handle} "
                    f"{format_cents(-entry.amount_cents)} for period {entry.period} "
                    f"(lease {lease.pk}, next renewal "
                    f"{iso(lease.next_renewal_at) if lease.next_renewal_at else '-'})"
                )
            disconnected = Lease.objects.filter(
                pk__in=[lease.pk for lease in report.disconnected]
            ).select_related("organization", "account")
            for lease in disconnected.order_by("organization__name", "id"):
                self.stdout.write(
                    f"disconnected  {lease.organization.name}: @{lease.account.handle} "
                    f"(lease {lease.pk}) {lease.disconnected_reason}: {lease.disconnected_note}"
                )

        self.stdout.write(
            f"Renewals due by {iso(now)}: {len(report.charged)} charge(s) totalling "
            f"{format_cents(report.charged_cents)}, {len(report.disconnected)} "
            f"disconnection(s), {report.skipped} already handled by another run."
        )
        # A --now in the future simulates renewals; it must not expire live idempotency keys.
        self.stdout.write(describe_purge(purge_expired(now=min(now, real_now))))

"""purge_expired: delete expired idempotency keys, rate-limit windows and old API logs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from leasing.management.commands._common import describe_purge
from leasing.services.housekeeping import API_CALL_RETENTION, RATE_WINDOW_RETENTION, purge_expired


class Command(BaseCommand):
    help = (
        "Delete API bookkeeping that has expired: idempotency keys past their 24 hours, "
        f"rate-limit windows older than {int(RATE_WINDOW_RETENTION.total_seconds() // 60)} "
        f"minutes and API call log rows older than {API_CALL_RETENTION.days} days. "
        "run_renewals does the same on each run; this command is for running it on its own."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(describe_purge(purge_expired()))

"""close_request: close an open lease request as partial or rejected."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leasing.management.commands._common import (
    acting_user,
    lease_request_lookup,
    service_errors,
)
from leasing.models import LeaseRequest
from leasing.services.audit import Actor
from leasing.services.requests import lease_request_close


class Command(BaseCommand):
    help = (
        "Close an open lease request: --partial keeps (and bills) the accounts already "
        "assigned, --reject closes one that has none. The --note is visible to the partner "
        "(it becomes the request's `note` in the API)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "request_id",
            metavar="REQUEST_ID",
            help="the request's lreq_ id, or the partner's requestId when only one partner uses it",
        )
        outcome = parser.add_mutually_exclusive_group(required=True)
        outcome.add_argument(
            "--partial",
            dest="outcome",
            action="store_const",
            const=LeaseRequest.Status.PARTIAL,
            help="close with fewer accounts than requested (at least one assigned)",
        )
        outcome.add_argument(
            "--reject",
            dest="outcome",
            action="store_const",
            const=LeaseRequest.Status.REJECTED,
            help="close with no accounts",
        )
        parser.add_argument(
            "--note", required=True, metavar="TEXT", help="partner-visible explanation (required)"
        )
        parser.add_argument(
            "--by", required=True, metavar="USERNAME", help="the ops (or admin) user closing it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(
            options["by"], permission="leasing.triage_request", doing="close requests"
        )
        request = lease_request_lookup(options["request_id"])
        with service_errors({"note": "--note", "outcome": "--partial/--reject"}):
            closed = lease_request_close(
                request=request,
                outcome=options["outcome"],
                note=options["note"],
                actor=Actor.for_user(user),
            )
        self.stdout.write(
            f"Closed {closed.request_key} ({request.organization.name} / {request.project.name}) "
            f"as {closed.status}: {closed.assigned_count} of {closed.count} account(s) assigned."
        )
        self.stdout.write(f"Partner-visible note: {options['note'].strip()}")

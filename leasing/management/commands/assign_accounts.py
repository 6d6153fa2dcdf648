"""assign_accounts: lease ready pool accounts to a request, charging the partner's wallet."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leasing import ids
from leasing.management.commands._common import (
    acting_user,
    iso,
    lease_request_lookup,
    service_errors,
)
from leasing.models import LeaseRequest, Organization
from leasing.money import format_cents
from leasing.services.allocation import accounts_assign, candidates_rank
from leasing.services.audit import Actor


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


class Command(BaseCommand):
    help = (
        "Assign pool accounts to a lease request and charge one month per account to the "
        "partner's wallet, all or nothing. Either take the N best-ranked ready candidates "
        "(--best N, the same ranking as the dashboard) or name the accounts (--accounts). "
        "Refused whole when an account is not ready, the request is closed or would get "
        "more than it asked for, or the wallet cannot pay for every account."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "request_id",
            metavar="REQUEST_ID",
            help="the request's lreq_ id, or the partner's requestId when only one partner uses it",
        )
        choice = parser.add_mutually_exclusive_group(required=True)
        choice.add_argument(
            "--best", type=positive_int, metavar="N", help="assign the top N ranked candidates"
        )
        choice.add_argument(
            "--accounts",
            metavar="sa_1,sa_2",
            help="comma-separated pool account ids to assign, in this order",
        )
        parser.add_argument(
            "--by",
            required=True,
            metavar="USERNAME",
            help="the ops (or admin) user doing the assignment; recorded on the leases",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(
            options["by"], permission="leasing.triage_request", doing="assign accounts"
        )
        request = lease_request_lookup(options["request_id"])
        if options["best"] is not None:
            account_ids = self._best(request, options["best"])
        else:
            account_ids = [a.strip() for a in options["accounts"].split(",") if a.strip()]
            malformed = [a for a in account_ids if not ids.is_id(a, "sa")]
            if malformed:
                raise CommandError(
                    f"--accounts: not pool account ids: {', '.join(malformed)} "
                    "(they look like sa_01J...)"
                )
            if not account_ids:
                raise CommandError("--accounts: name at least one pool account id")
        with service_errors({"accounts": "--accounts" if options["accounts"] else "--best"}):
            leases = accounts_assign(
                request=request, account_ids=account_ids, actor=Actor.for_user(user)
            )
        org = Organization.objects.get(pk=request.organization_id)
        charge = sum(lease.monthly_price_cents for lease in leases)
        self.stdout.write(
            f"Assigned {len(leases)} account(s) to {request.request_key} "
            f"({org.name} / {request.project.name}); {request.assigned_count} of "
            f"{request.count} assigned, request now {request.status}."
        )
        for lease in leases:
            account = lease.account
            self.stdout.write(
                f"  {account.pk}  @{account.handle}  {account.followers:,} followers  "
                f"{account.language or '-'}  {','.join(account.countries) or '-'}  "
                f"renews {iso(lease.next_renewal_at) if lease.next_renewal_at else '-'}"
            )
        self.stdout.write(
            f"Charged {format_cents(charge)} ({len(leases)} x "
            f"{format_cents(leases[0].monthly_price_cents)}). Wallet balance of {org.name} is "
            f"now {format_cents(org.balance_cents)}."
        )

    def _best(self, request: LeaseRequest, count: int) -> list[str]:
        # The service re-checks all of this under row locks; checking first here only
        # keeps "no candidates" from hiding the real reason.
        if not request.is_open:
            raise CommandError(
                f"request {request.request_key} is already {request.get_status_display().lower()}"
                "; it takes no more accounts"
            )
        if count > request.remaining:
            raise CommandError(
                f"--best {count}: request {request.request_key} needs only "
                f"{request.remaining} more account(s)"
            )
        ranked = candidates_rank(request=request, limit=count)
        if len(ranked) < count:
            found = f"only {len(ranked)}" if ranked else "no"
            raise CommandError(
                f"--best {count}: {found} ready account(s) tagged {request.vertical!r} are "
                "available; nothing was assigned"
            )
        return [candidate.account.pk for candidate in ranked]

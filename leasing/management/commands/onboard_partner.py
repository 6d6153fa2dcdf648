"""onboard_partner: a new partner with its first project, an API key and a wallet."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leasing.management.commands._common import actor_for, service_errors
from leasing.models import ApiKey
from leasing.services.partners import DEFAULT_SCOPES, SCOPES, organization_onboard


class Command(BaseCommand):
    help = (
        "Onboard a partner: create the organization, its first project and an API key, and "
        "optionally credit an opening wallet balance. Prints JSON "
        '{"organizationId", "projectId", "apiKey"} on stdout. The API key is shown only '
        "this once; Lease Desk keeps just its hash."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the partner's name (unique)")
        parser.add_argument(
            "--project", required=True, metavar="NAME", help="name of the partner's first project"
        )
        parser.add_argument(
            "--wallet-cents",
            type=int,
            default=0,
            metavar="CENTS",
            help="opening wallet balance in cents, recorded as a top-up (default 0)",
        )
        parser.add_argument(
            "--scopes",
            default=",".join(DEFAULT_SCOPES),
            help=(
                f"comma-separated API key scopes out of {', '.join(SCOPES)} "
                f"(default {','.join(DEFAULT_SCOPES)})"
            ),
        )
        parser.add_argument(
            "--tier",
            choices=ApiKey.Tier.values,
            default=ApiKey.Tier.STANDARD,
            help="rate-limit tier of the API key (default standard)",
        )
        parser.add_argument(
            "--price-cents",
            type=int,
            default=None,
            metavar="CENTS",
            help="monthly price per leased account in cents (default 15000)",
        )
        parser.add_argument(
            "--by", metavar="USERNAME", help="staff user to record as the actor (default: system)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = actor_for(options["by"], "onboard_partner")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        with service_errors(
            {
                "name": "--name",
                "project": "--project",
                "wallet_cents": "--wallet-cents",
                "scopes": "--scopes",
                "tier": "--tier",
                "monthly_price_cents": "--price-cents",
            }
        ):
            onboarded = organization_onboard(
                name=options["name"],
                project_name=options["project"],
                wallet_cents=options["wallet_cents"],
                scopes=scopes,
                tier=options["tier"],
                monthly_price_cents=options["price_cents"],
                actor=actor,
            )
        self.stdout.write(
            json.dumps(
                {
                    "organizationId": onboarded.organization.pk,
                    "projectId": onboarded.project.pk,
                    "apiKey": onboarded.raw_key,
                },
                indent=2,
            )
        )
        self.stderr.write(
            f"Onboarded {onboarded.organization.name}. Store the API key now: it cannot be "
            "shown again.",
            style_func=lambda s: s,
        )

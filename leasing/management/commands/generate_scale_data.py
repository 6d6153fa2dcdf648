"""generate_scale_data: years of realistic Lease Desk data on PostgreSQL, in minutes.

The rows are written straight into the tables with COPY, not through the services: the
services take row locks and write one row at a time, which would take hours for a million
accounts. The money and assignment rules still hold by construction, and the test suite
checks them with the same whole-database invariants as every other test:

- each organization's ledger sums to its balance, balance_after_cents is the running sum
  in id order and never negative (every top-up lands before the charges it pays for);
- every lease has exactly one charge per period it has been charged for, at the price
  copied onto the lease;
- an account is `leased` exactly when it has an active lease;
- a request's assigned_count is the number of leases made for it, and its status agrees
  with its counts and closing time;
- a request's latest_note and latest_note_visibility are those of its latest note.

The command empties every Lease Desk table first. It refuses a database that holds data it
did not generate (unless --force), and records each run as an audit event
(`scale.generate`), which is how a later run recognises its own data.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from tqdm import tqdm

from leasing import roles
from leasing.models import (
    ApiCallLog,
    ApiKey,
    AuditEvent,
    Lease,
    LeaseRequest,
    LeaseTotals,
    LedgerEntry,
    LedgerMonth,
    Organization,
    PoolAccount,
    PoolAccountTag,
    Project,
    RequestNote,
)
from leasing.services.totals import (
    open_request_totals_rebuild,
    ready_supply_rebuild,
    renewal_days_rebuild,
)

MARKER_ACTION = "scale.generate"
STAFF_PREFIX = "scale_"
HISTORY_DAYS = 3 * 365
OPEN_WINDOW_DAYS = 14
MAX_COUNT = 50


@dataclass(frozen=True)
class Sizes:
    accounts: int
    requests: int
    partners: int
    projects: int
    leases: int
    ledger: int
    api_calls_days: int
    api_calls_per_day: int


DEFAULT_SIZES = Sizes(
    accounts=1_000_000,
    requests=100_000,
    partners=5_000,
    projects=10_000,
    leases=300_000,
    ledger=1_000_000,
    api_calls_days=30,
    api_calls_per_day=10_000,
)
SMALL_SIZES = Sizes(
    accounts=20_000,
    requests=2_000,
    partners=100,
    projects=200,
    leases=6_000,
    ledger=20_000,
    api_calls_days=3,
    api_calls_per_day=500,
)


def size_problems(sizes: Sizes) -> list[str]:
    """Why these sizes cannot make a consistent dataset (empty when they can)."""
    problems = []
    for name, value in asdict(sizes).items():
        if value < 0:
            problems.append(f"--{name.replace('_', '-')} must not be negative")
    if sizes.partners < 1:
        problems.append("--partners must be at least 1")
    if sizes.projects < sizes.partners:
        problems.append("--projects must be at least --partners (every partner has a project)")
    if sizes.leases > sizes.accounts:
        problems.append("--leases must be at most --accounts (each lease has its own account)")
    if sizes.requests < 5:
        problems.append("--requests must be at least 5 (one in every status)")
    # About 80 % of requests end up with leases, each holding 1 to 50 of them.
    elif sizes.leases < sizes.requests // 2 or sizes.leases > sizes.requests * 30:
        problems.append(
            f"--leases must be between half and 30 times --requests "
            f"({sizes.requests // 2:,} to {sizes.requests * 30:,} for {sizes.requests:,})"
        )
    if sizes.ledger < sizes.leases + sizes.partners:
        problems.append(
            "--ledger must be at least --leases + --partners (one charge per lease, at least "
            "one top-up per partner)"
        )
    return problems


# ----------------------------------------------------------------------------- vocabulary

VERTICAL_HEAD = (  # noqa: SIM905 (a compact vocabulary)
    "coffee|fitness|mobile games|skincare|beauty|fashion|travel|food|pets|personal finance|"
    "crypto|home decor|cooking|baking|vegan food|parenting|education|language learning|"
    "productivity|tech reviews|smartphones|gaming|esports|anime|music|guitar|dance|comedy|"
    "cars|motorcycles|football|basketball|yoga|running|cycling|hiking|camping|fishing|"
    "gardening|diy|woodworking|real estate|entrepreneurship|marketing|books|movies|"
    "photography|art|nail art|hair care|makeup|jewelry|sneakers|streetwear|luxury|wine|"
    "cocktails|tea|meal prep|keto|supplements|mental health|meditation|astrology|weddings|"
    "dating|cats|dogs|aquariums|houseplants|sustainability|thrifting|budget travel"
).split("|")
VERTICAL_MODIFIERS = (
    "budget",
    "luxury",
    "vintage",
    "kids",
    "senior",
    "urban",
    "indie",
    "retro",
    "eco",
    "local",
)
VERTICALS = VERTICAL_HEAD + [
    f"{modifier} {base}" for base in VERTICAL_HEAD[:40] for modifier in VERTICAL_MODIFIERS
]
COUNTRIES = (  # noqa: SIM905 (a compact vocabulary)
    "US GB CA AU DE FR ES IT NL SE BR MX IN ID PH JP KR TR PL PT IE BE AT CH NO DK FI AR CO CL "
    "PE VN TH MY SG TW HK SA AE EG NG KE ZA MA IL RO CZ GR HU UA NZ PK BD LK EC UY CR PA DO GT"
).split()
LANGUAGES = (
    ("en-US", 30.0),
    ("en", 15.0),
    ("en-GB", 6.0),
    ("es", 8.0),
    ("es-MX", 4.0),
    ("pt-BR", 7.0),
    ("de", 4.0),
    ("fr", 4.0),
    ("id", 3.0),
    ("ja", 2.0),
    ("ko", 2.0),
    ("it", 2.0),
    ("tr", 2.0),
    ("ar", 1.5),
    ("hi", 1.5),
    ("vi", 1.0),
    ("th", 1.0),
    ("pl", 1.0),
    ("nl", 1.0),
    ("sv", 0.5),
    ("fil", 0.5),
)
NAME_FIRST = (  # noqa: SIM905 (a compact vocabulary)
    "Brew North Summit Atlas Nova Blue Peak Urban Bright Silver Golden Swift Lunar Solar Vivid "
    "Cedar Maple Harbor Pixel Echo Orbit Prism Velvet Copper Iron Coral Sage Amber Juniper"
).split()
NAME_SECOND = (  # noqa: SIM905 (a compact vocabulary)
    "line star works labs house media studio collective brands goods co craft hub foods "
    "fitness games beauty wear digital apps"
).split()
NAME_KIND = ("Inc.", "LLC", "Ltd", "GmbH", "Co.", "Group", "Studios", "Digital", "")
PROJECT_WORDS = (
    "TikTok",
    "Launch",
    "Always-on",
    "Creators",
    "Summer push",
    "App installs",
    "Holiday",
    "Retargeting",
    "Brand awareness",
    "UGC",
)
HANDLE_A = (  # noqa: SIM905 (a compact vocabulary)
    "daily real the its just mr ms lil big tiny happy chill wild cozy bold sunny lazy hype "
    "pure true"
).split()
HANDLE_B = (  # noqa: SIM905 (a compact vocabulary)
    "brew latte gains lifts gamer glow style wander bites paws money chef bakes vibes reads "
    "clips beats moves hacks tips"
).split()
INTERNAL_NOTES = (
    "Checked the pool: few {v} accounts in this language, widening to any language.",
    "Partner asked on Slack for a quick turnaround.",
    "Holding two accounts for this one until warming finishes.",
    "Geo match is thin; ranking by followers instead.",
    "Claimed, will assign after lunch.",
    "Accounts picked; waiting for wallet top-up confirmation.",
    "Double-checked handles against the banned list.",
)
PARTNER_NOTES = (
    "We assigned what matched your niche; more {v} accounts are warming now.",
    "Only some accounts fit the requested countries; closing with what we could assign.",
    "No ready {v} accounts in that language this month. Please request again in two weeks.",
    "Assigned. Handles are live in your project.",
)
REJECT_NOTES = (
    "We have no ready {v} accounts that fit this request; nothing was charged.",
    "The niche is outside what we warm; nothing was charged.",
)
AUDIENCES = (
    "",
    "",
    "women 25-34 who like {v}",
    "students into {v}",
    "parents, US suburbs",
    "gen z, {v} curious",
)
RETIRE_REASONS = (
    "Banned by the platform",
    "Lost access: password reset by the platform",
    "Shadow-banned for weeks; not worth warming",
    "Owner asked to take it back",
)
LOST_NOTES = (
    "Banned by the platform during the lease",
    "Account locked; the platform asked for ID verification",
)
OPS_RELEASE_NOTES = (
    "Partner stopped posting for 60 days; account back to the pool",
    "Reassigned to a partner in the same niche at their request",
    "Account flagged for review by trust and safety",
)

STATUS_WEIGHTS = (
    (LeaseRequest.Status.REQUESTED, 7.0),
    (LeaseRequest.Status.IN_PROGRESS, 4.0),
    (LeaseRequest.Status.ASSIGNED, 66.0),
    (LeaseRequest.Status.PARTIAL, 9.0),
    (LeaseRequest.Status.REJECTED, 14.0),
)
WITH_LEASES = {
    LeaseRequest.Status.ASSIGNED,
    LeaseRequest.Status.PARTIAL,
    LeaseRequest.Status.IN_PROGRESS,
}
OPEN = {LeaseRequest.Status.REQUESTED, LeaseRequest.Status.IN_PROGRESS}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def ulid_at(moment: datetime, rng: random.Random) -> str:
    """A ULID for `moment`, so ids sort by creation time as real ones do."""
    value = (int(moment.timestamp() * 1000) << 80) | rng.getrandbits(80)
    parts = [""] * 13
    for i in range(12, -1, -1):
        parts[i] = _PAIRS[value & 1023]
        value >>= 10
    return "".join(parts)


def base36(number: int) -> str:
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_BASE36[rest])
        if not number:
            return "".join(reversed(digits))


def add_months(moment: datetime, months: int) -> datetime:
    """leasing.money.add_months without relativedelta's cost (a million calls here)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    last = _DAYS_IN_MONTH[month - 1] + (month == 2 and calendar.isleap(year))
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def periods_started(start: datetime, now: datetime) -> int:
    """How many billing periods of a lease assigned at `start` have begun by `now`."""
    months = (now.year - start.year) * 12 + now.month - start.month
    if add_months(start, months) > now:
        months -= 1
    return months + 1


def handle_for(index: int) -> str:
    a = HANDLE_A[index % len(HANDLE_A)]
    b = HANDLE_B[(index // len(HANDLE_A)) % len(HANDLE_B)]
    return f"{a}{b}_{base36(index)}"


def json_list(items: Sequence[str]) -> str:
    # The vocabulary has no quotes or backslashes, so this is valid JSON, and much faster
    # than json.dumps a million times.
    return "[" + ",".join(f'"{item}"' for item in items) + "]"


def zipf_cumulative(n: int, exponent: float) -> list[float]:
    total, out = 0.0, []
    for rank in range(n):
        total += 1.0 / (rank + 1) ** exponent
        out.append(total)
    return out


# ----------------------------------------------------------------------------- the plan


@dataclass
class Staff:
    ops: list[tuple[int, str]]
    support: list[tuple[int, str]]
    finance: list[tuple[int, str]]
    admin: list[tuple[int, str]]


@dataclass
class Org:
    id: str
    name: str
    weight: float
    price: int
    status: str
    tier: str
    own_keys: bool
    key_prefix: str
    created_at: datetime
    projects: list[int]
    api_keys: list[tuple[int, str]]  # (id, audit label) of live keys
    balance: int = 0


@dataclass
class Proj:
    id: str
    org: int
    name: str
    weight: float
    vertical: str
    language: str
    geo: list[str]
    created_at: datetime


@dataclass
class Req:
    org: int
    project: int
    status: str
    count: int
    assigned: int
    submitted_at: datetime
    id: str = ""
    key: str = ""
    vertical: str = ""
    language: str = ""
    geo: str = "[]"
    first_assigned_at: datetime | None = None
    closed_at: datetime | None = None
    claimed_by: tuple[int, str] | None = None
    claimed_at: datetime | None = None
    handler: tuple[int, str] | None = None
    close_note: str = ""


@dataclass
class LeasePlan:
    request: int
    account: int
    assigned_at: datetime
    periods: int
    active: bool
    id: int = 0
    next_renewal_at: datetime | None = None
    disconnected_at: datetime | None = None
    reason: str = ""
    note: str = ""


class Progress:
    """A tqdm bar per table on stderr, or nothing when asked to be quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def bar(self, label: str, total: int, unit: str = " rows") -> tqdm[Any]:
        return tqdm(
            total=total,
            desc=f"{label:<14}",
            unit=unit,
            unit_scale=True,
            file=sys.stderr,
            disable=self.quiet,
            mininterval=0.5,
            dynamic_ncols=True,
        )

    def say(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(text + "\n")


class Generator:
    def __init__(
        self, *, sizes: Sizes, seed: int, now: datetime, staff: Staff, progress: Progress
    ) -> None:
        self.sizes = sizes
        self.staff = staff
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now
        self.start = now - timedelta(days=HISTORY_DAYS)
        self.progress = progress
        self.vertical_cum = zipf_cumulative(len(VERTICALS), 1.05)
        self.country_cum = zipf_cumulative(len(COUNTRIES), 1.2)
        self.language_tags = [tag for tag, _ in LANGUAGES]
        self.language_cum = list(_accumulate(w for _, w in LANGUAGES))
        self.orgs: list[Org] = []
        self.projects: list[Proj] = []
        self.requests: list[Req] = []
        self.leases: list[LeasePlan] = []
        self.account_ids: list[str] = []
        self.counts: dict[str, int] = {}

    # -- small random helpers

    def vertical(self) -> str:
        return self.rng.choices(VERTICALS, cum_weights=self.vertical_cum)[0]

    def verticals(self, k: int) -> list[str]:
        picked = self.rng.choices(VERTICALS, cum_weights=self.vertical_cum, k=k + 2)
        return list(dict.fromkeys(picked))[:k]

    def countries(self, k: int) -> list[str]:
        picked = self.rng.choices(COUNTRIES, cum_weights=self.country_cum, k=k + 2)
        return list(dict.fromkeys(picked))[:k]

    def language(self) -> str:
        return self.rng.choices(self.language_tags, cum_weights=self.language_cum)[0]

    def moment_between(self, low: datetime, high: datetime) -> datetime:
        if high <= low:
            return low
        seconds = (high - low).total_seconds()
        return low + timedelta(seconds=int(self.rng.random() * seconds))

    def history_moment(self, skew: float = 1.6) -> datetime:
        """A moment in the last three years, more of them recent (the business grew)."""
        return self.now - timedelta(days=HISTORY_DAYS * self.rng.random() ** skew)

    # -- planning

    def plan(self) -> None:
        self._plan_partners()
        self._plan_requests()
        self._plan_leases()
        self._plan_accounts()

    def _plan_partners(self) -> None:
        rng, sizes = self.rng, self.sizes
        used: set[str] = set()
        for i in range(sizes.partners):
            weight = rng.paretovariate(1.16)
            name = ""
            while not name or name in used:
                kind = rng.choice(NAME_KIND)
                name = (
                    f"{rng.choice(NAME_FIRST)}{rng.choice(NAME_SECOND)} {kind} {base36(i)}".replace(
                        "  ", " "
                    ).strip()
                )
            used.add(name)
            big = weight > 8
            self.orgs.append(
                Org(
                    id="",
                    name=name,
                    weight=weight,
                    price=15000 if rng.random() < 0.8 else rng.choice((12000, 13500, 18000)),
                    status=Organization.Status.SUSPENDED
                    if rng.random() < 0.03
                    else Organization.Status.ACTIVE,
                    tier=ApiKey.Tier.PARTNER
                    if big
                    else (ApiKey.Tier.PILOT if rng.random() < 0.2 else ApiKey.Tier.STANDARD),
                    own_keys=rng.random() < 0.3,
                    key_prefix=name[:3].upper() + "-",
                    created_at=self.now,
                    projects=[],
                    api_keys=[],
                )
            )
        # Every partner has a project; the rest go to partners by size.
        owners = list(range(sizes.partners))
        owners += rng.choices(
            range(sizes.partners),
            weights=[o.weight for o in self.orgs],
            k=sizes.projects - sizes.partners,
        )
        for org_index in owners:
            org = self.orgs[org_index]
            geo_count = rng.choice((0, 1, 1, 2, 3))
            self.projects.append(
                Proj(
                    id="",
                    org=org_index,
                    name=f"{org.name.split()[0]} {rng.choice(PROJECT_WORDS)} "
                    f"{len(org.projects) + 1}",
                    weight=org.weight * rng.uniform(0.2, 1.0),
                    vertical=self.vertical(),
                    language=self.language() if rng.random() < 0.9 else "",
                    geo=self.countries(geo_count),
                    created_at=self.now,
                )
            )
            org.projects.append(len(self.projects) - 1)

    def _plan_requests(self) -> None:
        rng, sizes, now = self.rng, self.sizes, self.now
        n = sizes.requests
        statuses = [s for s, _ in STATUS_WEIGHTS]
        picked = rng.choices(statuses, weights=[w for _, w in STATUS_WEIGHTS], k=n)
        picked[: len(statuses)] = statuses  # every status at least once
        count_weights = [1.0 / k**1.6 for k in range(1, MAX_COUNT + 1)]
        counts = rng.choices(range(1, MAX_COUNT + 1), weights=count_weights, k=n)
        projects = rng.choices(
            range(len(self.projects)), weights=[p.weight for p in self.projects], k=n
        )
        for i in range(n):
            status, count = picked[i], counts[i]
            if status in (LeaseRequest.Status.PARTIAL, LeaseRequest.Status.IN_PROGRESS):
                count = max(count, 2)
                assigned = rng.randint(1, count - 1)
            elif status == LeaseRequest.Status.ASSIGNED:
                assigned = count
            else:
                assigned = 0
            if status in OPEN:
                submitted = now - timedelta(seconds=rng.random() * OPEN_WINDOW_DAYS * 86400)
            elif rng.random() < 0.4:
                submitted = now - timedelta(days=1 + rng.random() * 119)
            else:
                submitted = self.history_moment()
            project = projects[i]
            self.requests.append(
                Req(
                    org=self.projects[project].org,
                    project=project,
                    status=status,
                    count=count,
                    assigned=assigned,
                    submitted_at=submitted.replace(microsecond=0),
                )
            )
        self._balance_assigned_total()

    def _balance_assigned_total(self) -> None:
        """Nudge counts until the requests hold exactly --leases assignments."""
        rng = self.rng
        holders = [i for i, r in enumerate(self.requests) if r.status in WITH_LEASES]
        diff = self.sizes.leases - sum(self.requests[i].assigned for i in holders)
        tries = 0
        while diff:
            tries += 1
            if tries > 200 * (abs(diff) + len(holders)):
                raise CommandError(
                    "could not spread --leases over the requests; choose sizes closer to "
                    "the defaults' proportions"
                )
            r = self.requests[rng.choice(holders)]
            full = r.status == LeaseRequest.Status.ASSIGNED
            if diff > 0:
                if full and r.count < MAX_COUNT:
                    r.count += 1
                    r.assigned += 1
                    diff -= 1
                elif not full and r.assigned < r.count - 1:
                    r.assigned += 1
                    diff -= 1
                elif not full and r.count < MAX_COUNT:
                    r.count += 1
            elif full and r.count > 1:
                r.count -= 1
                r.assigned -= 1
                diff += 1
            elif not full and r.assigned > 1:
                r.assigned -= 1
                diff += 1

    def _plan_leases(self) -> None:
        rng, now = self.rng, self.now
        self.requests.sort(key=lambda r: r.submitted_at)
        ops = self.staff.ops
        for r in self.requests:
            project = self.projects[r.project]
            org = self.orgs[r.org]
            r.id = f"lreq_{ulid_at(r.submitted_at, rng)}"
            r.vertical = project.vertical if rng.random() < 0.8 else self.vertical()
            if rng.random() < 0.05:
                r.vertical = r.vertical.title()
            roll = rng.random()
            r.language = project.language if roll < 0.85 else ("" if roll < 0.95 else "en")
            r.geo = json_list(project.geo)
            r.handler = rng.choice(ops)
            if r.status in WITH_LEASES:
                delay = timedelta(minutes=5 + rng.expovariate(1 / 480))
                r.first_assigned_at = min(r.submitted_at + delay, now - timedelta(minutes=1))
                r.first_assigned_at = max(r.first_assigned_at, r.submitted_at).replace(
                    microsecond=0
                )
            if r.status == LeaseRequest.Status.PARTIAL:
                r.close_note = rng.choice(PARTNER_NOTES[:3]).format(v=r.vertical.lower())
            elif r.status == LeaseRequest.Status.REJECTED:
                r.close_note = rng.choice(REJECT_NOTES).format(v=r.vertical.lower())
            if r.status == LeaseRequest.Status.ASSIGNED:
                r.closed_at = r.first_assigned_at
            elif r.status == LeaseRequest.Status.PARTIAL:
                assert r.first_assigned_at is not None
                r.closed_at = self.moment_between(
                    r.first_assigned_at, min(now, r.first_assigned_at + timedelta(days=5))
                )
            elif r.status == LeaseRequest.Status.REJECTED:
                r.closed_at = self.moment_between(
                    r.submitted_at, min(now, r.submitted_at + timedelta(days=3))
                )
            if r.status == LeaseRequest.Status.IN_PROGRESS or (
                r.status == LeaseRequest.Status.REQUESTED and rng.random() < 0.25
            ):
                r.claimed_by = r.handler
                r.claimed_at = self.moment_between(
                    r.submitted_at, min(now, r.submitted_at + timedelta(hours=6))
                )
            elif r.status not in OPEN and rng.random() < 0.7:
                r.claimed_by = r.handler
                r.claimed_at = self.moment_between(r.submitted_at, r.closed_at or now)
            project.created_at = min(project.created_at, r.submitted_at)

        # Partner request ids: a per-partner running number, unique within the partner.
        numbers: dict[int, int] = defaultdict(int)
        for r in self.requests:
            org = self.orgs[r.org]
            if org.own_keys:
                numbers[r.org] += 1
                r.key = f"{org.key_prefix}{numbers[r.org]:06d}"
            else:
                r.key = r.id

        # Leases: each assignment takes its own account; the recent ones are still active.
        accounts = rng.sample(range(self.sizes.accounts), self.sizes.leases)
        plans: list[LeasePlan] = []
        for index, r in enumerate(self.requests):
            if not r.assigned:
                continue
            assert r.first_assigned_at is not None
            for _ in range(r.assigned):
                plans.append(
                    LeasePlan(
                        request=index,
                        account=accounts[len(plans)],
                        assigned_at=r.first_assigned_at,
                        periods=1,
                        active=False,
                    )
                )
        target_active = len(plans) // 3
        scores = []
        for i, plan in enumerate(plans):
            r = self.requests[plan.request]
            age = (now - plan.assigned_at).total_seconds()
            score = 0.0 if r.status == LeaseRequest.Status.IN_PROGRESS else age
            scores.append((score * rng.uniform(0.6, 1.4), i))
        scores.sort()
        for _, i in scores[:target_active]:
            plans[i].active = True

        charge_budget = self.sizes.ledger - max(self.sizes.partners, self.sizes.ledger // 5)
        limits = [periods_started(p.assigned_at, now) for p in plans]
        active_charges = 0
        for plan, limit in zip(plans, limits, strict=True):
            if plan.active:
                overdue = limit > 1 and rng.random() < 0.003
                plan.periods = limit - 1 if overdue else limit
                active_charges += plan.periods
        ended = [i for i, p in enumerate(plans) if not p.active]
        mean = max(1.0, (charge_budget - active_charges) / max(1, len(ended)))
        total = active_charges
        for i in ended:
            extra = int(rng.expovariate(1 / (mean - 1))) if mean > 1 else 0
            plans[i].periods = min(limits[i], 1 + extra)
            total += plans[i].periods
        diff, tries = charge_budget - total, 0
        while diff and ended and tries < 20 * len(ended):
            tries += 1
            i = rng.choice(ended)
            if diff > 0 and plans[i].periods < limits[i]:
                plans[i].periods += 1
                diff -= 1
            elif diff < 0 and plans[i].periods > 1:
                plans[i].periods -= 1
                diff += 1

        # Ids in assignment order, as the database would have given them; charge times
        # depend on them, so they come before the disconnection times.
        ordered = sorted(range(len(plans)), key=lambda i: (plans[i].assigned_at, i))
        for number, i in enumerate(ordered, start=1):
            plans[i].id = number
        for plan, limit in zip(plans, limits, strict=True):
            self._finish_lease(plan, limit)
        self.leases = [plans[i] for i in ordered]

    def _finish_lease(self, plan: LeasePlan, limit: int) -> None:
        rng, now = self.rng, self.now
        if plan.active:
            plan.next_renewal_at = add_months(plan.assigned_at, plan.periods)
            return
        last_charge = self.charge_time(plan, plan.periods - 1)
        next_start = add_months(plan.assigned_at, plan.periods)
        roll = rng.random()
        if roll < 0.15 and plan.periods < limit:
            plan.reason = Lease.Reason.BILLING_EXHAUSTED
            plan.disconnected_at = min(now, next_start + timedelta(seconds=rng.randint(0, 900)))
            return
        if roll < 0.70:
            plan.reason = Lease.Reason.RELEASED_BY_PARTNER
        elif roll < 0.85:
            plan.reason = Lease.Reason.RELEASED_BY_OPS
            plan.note = rng.choice(OPS_RELEASE_NOTES)
        else:
            plan.reason = Lease.Reason.ACCOUNT_LOST
            plan.note = rng.choice(LOST_NOTES)
        low = last_charge + timedelta(seconds=60)
        high = min(now, next_start - timedelta(seconds=60))
        plan.disconnected_at = self.moment_between(low, high) if high > low else min(low, now)

    def charge_time(self, plan: LeasePlan, period: int) -> datetime:
        """When period `period` was charged: at assignment, then by the renewal job (which
        runs every 15 minutes) once the period has begun."""
        if period == 0:
            return plan.assigned_at
        start = add_months(plan.assigned_at, period)
        delay = timedelta(seconds=(plan.id * 7919 + period * 104729) % 900)
        return min(start + delay, self.now)

    def _plan_accounts(self) -> None:
        """Creation times (and so ids) for every account: leased ones shortly before their
        lease, the rest spread over the history."""
        rng = self.rng
        created: list[datetime] = [self.history_moment(1.3) for _ in range(self.sizes.accounts)]
        for plan in self.leases:
            created[plan.account] = plan.assigned_at - timedelta(days=rng.uniform(5, 150))
        self.account_created = created
        self.account_ids = [f"sa_{ulid_at(moment, rng)}" for moment in created]
        self.lease_of_account = {plan.account: plan for plan in self.leases}

        # Partners and projects exist before their first request.
        for p in self.projects:
            p.created_at = p.created_at - timedelta(days=rng.uniform(1, 30))
            if p.created_at >= self.now - timedelta(minutes=1):
                p.created_at = self.history_moment()
        for p in self.projects:
            org = self.orgs[p.org]
            org.created_at = min(org.created_at, p.created_at - timedelta(days=rng.uniform(0, 20)))
        for org in self.orgs:
            org.created_at = org.created_at.replace(microsecond=0)
            org.id = f"org_{ulid_at(org.created_at, rng)}"
        for p in self.projects:
            p.created_at = max(p.created_at, self.orgs[p.org].created_at).replace(microsecond=0)
            p.id = f"prj_{ulid_at(p.created_at, rng)}"


def _accumulate(values: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


# ----------------------------------------------------------------------------- loading


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model: type[Model]) -> str:
    return _quote(model._meta.db_table)


def app_tables() -> list[str]:
    return [model._meta.db_table for model in apps.get_app_config("leasing").get_models()]


@dataclass(frozen=True)
class Ddl:
    drop: str
    create: str


def secondary_structures(tables: list[str]) -> tuple[list[Ddl], list[Ddl]]:
    """Foreign keys, unique constraints and indexes (not primary keys) of `tables`, as
    (drop, re-create) statements: dropped for the load, rebuilt in bulk afterwards, which
    also re-checks every row against them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
            FROM pg_constraint c
            WHERE c.contype IN ('f', 'u')
              AND (c.conrelid::regclass::text = ANY(%s) OR c.confrelid::regclass::text = ANY(%s))
            ORDER BY c.contype DESC, c.conname
            """,
            [tables, tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY(%s)
              AND NOT i.indisprimary
              AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c
                WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')
              )
            ORDER BY 1
            """,
            [tables],
        )
        indexes = cursor.fetchall()
    unique = [c for c in constraints if c[3] == "u"]
    foreign = [c for c in constraints if c[3] == "f"]
    keys = [
        Ddl(
            drop=f"ALTER TABLE {_quote(t)} DROP CONSTRAINT {_quote(n)}",
            create=f"ALTER TABLE {_quote(t)} ADD CONSTRAINT {_quote(n)} {d}",
        )
        for t, n, d, _ in foreign
    ]
    structures = [
        Ddl(
            drop=f"ALTER TABLE {_quote(t)} DROP CONSTRAINT {_quote(n)}",
            create=f"ALTER TABLE {_quote(t)} ADD CONSTRAINT {_quote(n)} {d}",
        )
        for t, n, d, _ in unique
    ]
    structures += [
        Ddl(drop=f"DROP INDEX {name}", create=definition) for name, definition in indexes
    ]
    return keys, structures


class Loader:
    """COPY rows into freshly truncated tables of the current transaction."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        connection.ensure_connection()
        self.raw: Any = connection.connection

    def copy(
        self,
        model: type[Model],
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        total: int,
        label: str,
    ) -> int:
        names = ", ".join(_quote(c) for c in columns)
        # FREEZE: the table was truncated in this transaction, so the rows can be written
        # frozen and all-visible, ready for index-only scans without a VACUUM pass.
        sql = f"COPY {_table(model)} ({names}) FROM STDIN WITH (FREEZE)"
        written = 0
        with (
            self.raw.cursor() as cursor,
            cursor.copy(sql) as copy,
            self.progress.bar(label, total) as bar,
        ):
            for row in rows:
                copy.write_row(row)
                written += 1
                if not written % 20000:
                    bar.update(20000)
            bar.update(written % 20000)
        return written

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)


# (actor_type, actor_user_id, actor_api_key_id, actor_label) of an audit event
Actor = tuple[str, int | None, int | None, str]


def user_actor(user: tuple[int, str]) -> Actor:
    return (AuditEvent.ActorType.USER, user[0], None, user[1])


def key_actor(api_key: tuple[int, str]) -> Actor:
    return (AuditEvent.ActorType.API_KEY, None, api_key[0], api_key[1])


def system_actor(label: str) -> Actor:
    return (AuditEvent.ActorType.SYSTEM, None, None, label)


class Writer:
    """Turns the plan into rows, table by table."""

    def __init__(self, gen: Generator, loader: Loader) -> None:
        self.gen = gen
        self.loader = loader
        self.rng = gen.rng
        self.audit: list[tuple[Any, ...]] = []

    def _event(
        self,
        actor: Actor,
        action: str,
        target: tuple[str, str, str],
        after: dict[str, Any],
        at: datetime | None,
        *,
        before: dict[str, Any] | None = None,
        request_id: str = "",
    ) -> None:
        """Queue an audit event like the services write; `target` is (object type, object
        id, organization id)."""
        object_type, object_id, organization_id = target
        self.audit.append(
            (
                *actor,
                action,
                object_type,
                object_id,
                organization_id,
                json.dumps(before) if before is not None else None,
                json.dumps(after),
                request_id,
                at,
            )
        )

    def write_all(self) -> dict[str, int]:
        gen, counts = self.gen, {}
        self._api_keys()
        counts["pool accounts"] = self._pool()
        counts["pool tags"] = self._tags()
        counts["lease requests"], counts["request notes"] = self._requests_and_notes()
        counts["leases"] = self._leases()
        counts["ledger entries"] = self._ledger()
        self._rollups()
        counts["partners"] = self._orgs()
        counts["projects"] = self._projects()
        counts["api keys"] = self._write_keys()
        counts["api calls"] = self._api_calls()
        counts["audit events"] = self._audit()
        counts["active leases"] = sum(1 for p in gen.leases if p.active)
        counts["ready accounts"] = self.states[PoolAccount.State.READY]
        return counts

    # -- partners, projects, keys

    def _api_keys(self) -> None:
        rng, gen = self.rng, self.gen
        self.key_rows: list[tuple[Any, ...]] = []
        admin = gen.staff.admin[0]
        for org in gen.orgs:
            extra = 2 if org.weight > 8 else (1 if rng.random() < 0.2 else 0)
            for n in range(1 + extra):
                key_id = "".join(rng.choice(_CROCKFORD) for _ in range(14))
                secret = "".join(rng.choice(_BASE36) for _ in range(40))
                created = org.created_at + timedelta(days=n * rng.uniform(10, 300))
                created = min(created, gen.now).replace(microsecond=0)
                revoked = n > 0 and rng.random() < 0.3
                key_pk = len(self.key_rows) + 1
                prefix = f"lp_live_{key_id}_{secret[:4]}"
                self.key_rows.append(
                    (
                        key_pk,
                        org.id,
                        "Production" if n == 0 else f"Key {n + 1}",
                        key_id,
                        hashlib.sha256(secret.encode()).hexdigest(),
                        prefix,
                        '["leased:write", "social:read"]',
                        org.tier,
                        created,
                        admin[0],
                        gen.now - timedelta(minutes=rng.randint(1, 60 * 24 * 20)),
                        gen.moment_between(created, gen.now) if revoked else None,
                        admin[0] if revoked else None,
                    )
                )
                self._event(
                    user_actor(admin),
                    "api_key.issue",
                    ("api_key", str(key_pk), org.id),
                    {
                        "display_prefix": prefix,
                        "scopes": ["leased:write", "social:read"],
                        "tier": org.tier,
                    },
                    created,
                )
                if not revoked:
                    org.api_keys.append((key_pk, f"api key {prefix}"))
            self._event(
                user_actor(admin),
                "organization.onboard",
                ("organization", org.id, org.id),
                {"name": org.name, "monthly_price_cents": org.price},
                org.created_at,
            )

    def _write_keys(self) -> int:
        columns = (
            "id",
            "organization_id",
            "name",
            "key_id",
            "secret_hash",
            "display_prefix",
            "scopes",
            "tier",
            "created_at",
            "created_by_id",
            "last_used_at",
            "revoked_at",
            "revoked_by_id",
        )
        return self.loader.copy(
            ApiKey, columns, self.key_rows, total=len(self.key_rows), label="api keys"
        )

    def _orgs(self) -> int:
        rows = ((o.id, o.name, o.status, o.price, o.balance, o.created_at) for o in self.gen.orgs)
        columns = ("id", "name", "status", "monthly_price_cents", "balance_cents", "created_at")
        return self.loader.copy(
            Organization, columns, rows, total=len(self.gen.orgs), label="partners"
        )

    def _projects(self) -> int:
        gen = self.gen
        admin = gen.staff.admin[0]
        for p in gen.projects:
            self._event(
                user_actor(admin),
                "project.create",
                ("project", p.id, gen.orgs[p.org].id),
                {"name": p.name},
                p.created_at,
            )
        rows = ((p.id, gen.orgs[p.org].id, p.name, p.created_at) for p in gen.projects)
        columns = ("id", "organization_id", "name", "created_at")
        return self.loader.copy(Project, columns, rows, total=len(gen.projects), label="projects")

    # -- pool

    def _pool(self) -> int:
        gen, rng = self.gen, self.rng
        order = sorted(range(len(gen.account_ids)), key=gen.account_created.__getitem__)
        today = gen.now.date()
        leased_info = {
            plan.account: gen.requests[plan.request] for plan in gen.leases
        }  # account -> its request
        self.states: dict[str, int] = defaultdict(int)

        def rows() -> Iterator[tuple[Any, ...]]:
            for index in order:
                created = gen.account_created[index]
                plan = gen.lease_of_account.get(index)
                retired_reason = ""
                if plan is not None:
                    r = leased_info[index]
                    wanted = r.vertical.lower()
                    verticals = [wanted, *gen.verticals(rng.randint(0, 1))]
                    verticals = list(dict.fromkeys(verticals))
                    language = r.language or gen.language()
                    countries = gen.projects[r.project].geo[:2] or gen.countries(1)
                    if plan.active:
                        state = PoolAccount.State.LEASED
                    elif plan.reason == Lease.Reason.ACCOUNT_LOST:
                        state = PoolAccount.State.RETIRED
                        retired_reason = plan.note
                    else:
                        state = (
                            PoolAccount.State.READY
                            if rng.random() < 0.8
                            else PoolAccount.State.WARMING
                        )
                else:
                    verticals = gen.verticals(rng.choice((1, 1, 2, 2, 3)))
                    language = gen.language()
                    countries = gen.countries(rng.choice((1, 1, 2, 3)))
                    roll = rng.random()
                    if roll < 0.38:
                        state = PoolAccount.State.READY
                    elif roll < 0.86:
                        state = PoolAccount.State.WARMING
                    else:
                        state = PoolAccount.State.RETIRED
                        retired_reason = rng.choice(RETIRE_REASONS)
                warmed = None
                if state != PoolAccount.State.WARMING:
                    warmed = min(created.date() + timedelta(days=rng.randint(7, 60)), today)
                self.states[state] += 1
                followers = min(25_000_000, int(400 * rng.paretovariate(1.2)))
                yield (
                    gen.account_ids[index],
                    handle_for(index),
                    "tiktok",
                    followers,
                    json_list(verticals),
                    language,
                    language.split("-", 1)[0].lower(),
                    json_list(countries),
                    state,
                    warmed,
                    "Warmed by the Lisbon team" if rng.random() < 0.03 else "",
                    retired_reason,
                    created,
                )

        columns = (
            "id",
            "handle",
            "platform",
            "followers",
            "verticals",
            "language",
            "language_primary",
            "countries",
            "state",
            "warmed_since",
            "notes",
            "retired_reason",
            "created_at",
        )
        return self.loader.copy(
            PoolAccount, columns, rows(), total=len(order), label="pool accounts"
        )

    def _tags(self) -> int:
        """The tag rows mirror the JSON lists exactly, so they are derived from them."""
        self.gen.progress.say("pool tags      : derived from the accounts' verticals/countries")
        table = _table(PoolAccountTag)
        pool = _table(PoolAccount)
        return self.loader.execute(
            f"INSERT INTO {table} (account_id, kind, value) "  # noqa: S608
            f"SELECT id, 'vertical', jsonb_array_elements_text(verticals) FROM {pool} "
            f"UNION ALL "
            f"SELECT id, 'country', jsonb_array_elements_text(countries) FROM {pool}"
        )

    # -- requests and notes

    def _requests_and_notes(self) -> tuple[int, int]:
        """Each request row carries its latest note, as request_note_add keeps it, so the
        notes are drawn before the requests are loaded. The request rows still draw from the
        random stream first, as they did, so a seed makes the same data as before."""
        requests = list(self._request_rows())
        notes = self._note_rows()
        # The notes are in (created_at, id) order, so a request's last one is its latest.
        latest = {r_id: (body, visibility) for _, r_id, _, body, visibility, _ in notes}
        columns = (
            "id",
            "organization_id",
            "project_id",
            "request_key",
            "count",
            "vertical",
            "audience",
            "language",
            "geo",
            "target",
            "partner_note",
            "status",
            "assigned_count",
            "submitted_at",
            "first_assigned_at",
            "claimed_by_id",
            "claimed_at",
            "closed_at",
            "api_key_id",
            "latest_note",
            "latest_note_visibility",
        )
        rows = ((*row, *latest.get(row[0], ("", ""))) for row in requests)
        written = self.loader.copy(
            LeaseRequest, columns, rows, total=len(requests), label="lease requests"
        )
        note_columns = ("id", "request_id", "author_id", "body", "visibility", "created_at")
        return written, self.loader.copy(
            RequestNote, note_columns, notes, total=len(notes), label="notes"
        )

    def _request_rows(self) -> Iterator[tuple[Any, ...]]:
        """Each request's row up to its api_key_id (see _requests_and_notes for the columns);
        its audit events are queued as it goes."""
        gen, rng = self.gen, self.rng
        for r in gen.requests:
            org = gen.orgs[r.org]
            project = gen.projects[r.project]
            api_key = org.api_keys[0] if org.api_keys else None
            vertical = r.vertical
            audience = rng.choice(AUDIENCES).format(v=vertical.lower())
            target = (
                f"@{org.name.split()[0].lower()}_{r.key[-4:].lower()}" if rng.random() < 0.5 else ""
            )
            note = "Please prioritise: launch next week" if rng.random() < 0.1 else ""
            self._request_events(r, api_key)
            yield (
                r.id,
                org.id,
                project.id,
                r.key,
                r.count,
                vertical,
                audience,
                r.language,
                r.geo,
                target,
                note,
                r.status,
                r.assigned,
                r.submitted_at,
                r.first_assigned_at,
                r.claimed_by[0] if r.claimed_by else None,
                r.claimed_at,
                r.closed_at,
                api_key[0] if api_key else None,
            )

    def _request_events(self, r: Req, api_key: tuple[int, str] | None) -> None:
        org_id = self.gen.orgs[r.org].id
        if api_key is not None:
            actor = key_actor(api_key)
            request_id = f"req_{ulid_at(r.submitted_at, self.rng)}"
        else:
            actor = system_actor("system:import")
            request_id = ""
        project_id = self.gen.projects[r.project].id
        self._event(
            actor,
            "request.create",
            ("lease_request", r.id, org_id),
            {"count": r.count, "vertical": r.vertical, "project": project_id},
            r.submitted_at,
            request_id=request_id,
        )
        if r.claimed_by and r.claimed_at:
            self._event(
                user_actor(r.claimed_by),
                "request.claim",
                ("lease_request", r.id, org_id),
                {"claimed_by": r.claimed_by[0], "status": r.status},
                r.claimed_at,
                before={"claimed_by": None},
            )
        if r.status in (LeaseRequest.Status.PARTIAL, LeaseRequest.Status.REJECTED):
            assert r.handler is not None
            self._event(
                user_actor(r.handler),
                f"request.close_{r.status}",
                ("lease_request", r.id, org_id),
                {"status": r.status, "assigned_count": r.assigned, "note": r.close_note},
                r.closed_at,
            )

    def _note_rows(self) -> list[tuple[Any, ...]]:
        """The notes' rows (id, request_id, author_id, body, visibility, created_at), in
        created_at order with ids numbered in that order."""
        gen, rng = self.gen, self.rng
        notes: list[tuple[Any, ...]] = []
        for r in gen.requests:
            assert r.handler is not None
            end = r.closed_at or gen.now
            vertical = r.vertical.lower()
            for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
                notes.append(
                    (
                        gen.moment_between(r.submitted_at, end),
                        r.id,
                        rng.choice(gen.staff.ops)[0],
                        rng.choice(INTERNAL_NOTES).format(v=vertical),
                        RequestNote.Visibility.INTERNAL,
                    )
                )
            if r.close_note:
                body = r.close_note
            elif rng.random() < 0.1:
                body = PARTNER_NOTES[3]
            else:
                continue
            notes.append((end, r.id, r.handler[0], body, RequestNote.Visibility.PARTNER))
        notes.sort(key=lambda n: n[0])
        return [
            (number, r_id, author, body, visibility, at)
            for number, (at, r_id, author, body, visibility) in enumerate(notes, start=1)
        ]

    # -- leases and money

    def _leases(self) -> int:
        gen = self.gen
        by_request: dict[int, list[LeasePlan]] = defaultdict(list)
        for plan in gen.leases:
            by_request[plan.request].append(plan)
        for index, plans in by_request.items():
            r = gen.requests[index]
            assert r.handler is not None
            assert r.first_assigned_at is not None
            self._event(
                user_actor(r.handler),
                "request.assign",
                ("lease_request", r.id, gen.orgs[r.org].id),
                {
                    "status": r.status,
                    "assigned_count": r.assigned,
                    "accounts": [gen.account_ids[p.account] for p in plans],
                },
                r.first_assigned_at,
            )

        def rows() -> Iterator[tuple[Any, ...]]:
            for plan in gen.leases:
                r = gen.requests[plan.request]
                org = gen.orgs[r.org]
                assert r.handler is not None
                if not plan.active:
                    self._disconnect_event(plan, r, org)
                yield (
                    plan.id,
                    gen.account_ids[plan.account],
                    org.id,
                    gen.projects[r.project].id,
                    r.id,
                    Lease.Status.ASSIGNED if plan.active else Lease.Status.DISCONNECTED,
                    plan.assigned_at,
                    r.handler[0],
                    org.price,
                    plan.periods,
                    plan.next_renewal_at,
                    plan.disconnected_at,
                    plan.reason,
                    plan.note,
                )

        columns = (
            "id",
            "account_id",
            "organization_id",
            "project_id",
            "request_id",
            "status",
            "assigned_at",
            "assigned_by_id",
            "monthly_price_cents",
            "periods_charged",
            "next_renewal_at",
            "disconnected_at",
            "disconnected_reason",
            "disconnected_note",
        )
        return self.loader.copy(Lease, columns, rows(), total=len(gen.leases), label="leases")

    def _disconnect_event(self, plan: LeasePlan, r: Req, org: Org) -> None:
        gen = self.gen
        assert r.handler is not None
        if plan.reason == Lease.Reason.RELEASED_BY_PARTNER and org.api_keys:
            actor = key_actor(org.api_keys[0])
        elif plan.reason == Lease.Reason.BILLING_EXHAUSTED:
            actor = system_actor("system:renewals")
        else:
            actor = user_actor(r.handler)
        self._event(
            actor,
            "lease.disconnect",
            ("lease", str(plan.id), org.id),
            {
                "status": Lease.Status.DISCONNECTED,
                "reason": plan.reason,
                "note": plan.note,
                "account": gen.account_ids[plan.account],
            },
            plan.disconnected_at,
            before={"status": Lease.Status.ASSIGNED},
        )

    def _ledger(self) -> int:
        """Charges for every lease period, and top-ups placed so no balance goes below
        zero: each top-up pays for the run of charges that follows it."""
        gen, rng = self.gen, self.rng
        # (time, order, org, kind, amount, lease id, period, memo, user id, label)
        entries: list[tuple[Any, ...]] = []
        charges_by_org: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        for plan in gen.leases:
            r = gen.requests[plan.request]
            org = gen.orgs[r.org]
            assert r.handler is not None
            handle = handle_for(plan.account)
            for period in range(plan.periods):
                at = gen.charge_time(plan, period)
                if period == 0:
                    kind = LedgerEntry.Kind.LEASE_CHARGE
                    memo = f"Lease of @{handle} for {r.key}"
                    user: int | None = r.handler[0]
                    label = r.handler[1]
                else:
                    kind = LedgerEntry.Kind.RENEWAL_CHARGE
                    memo = f"Renewal of @{handle}, period {period}"
                    user, label = None, "system:renewals"
                entries.append((at, 1, r.org, kind, -org.price, plan.id, period, memo, user, label))
                charges_by_org[r.org].append((at, org.price))

        credits = gen.sizes.ledger - len(entries)
        with_charges = list(charges_by_org)
        if credits < len(with_charges):
            raise CommandError(
                f"--ledger {gen.sizes.ledger:,} leaves {credits:,} top-ups for "
                f"{len(with_charges):,} partners with charges; raise --ledger"
            )
        allowance = dict.fromkeys(with_charges, 1)
        spare = credits - len(with_charges)
        weights = [len(charges_by_org.get(i, ())) + 0.5 for i in range(len(gen.orgs))]
        for org_index in rng.choices(range(len(gen.orgs)), weights=weights, k=spare):
            allowance[org_index] = allowance.get(org_index, 0) + 1

        finance = gen.staff.finance
        burn: dict[int, int] = defaultdict(int)
        for plan in gen.leases:
            if plan.active:
                r = gen.requests[plan.request]
                burn[r.org] += gen.orgs[r.org].price
        for org_index, k in allowance.items():
            org = gen.orgs[org_index]
            charges = sorted(charges_by_org.get(org_index, []))
            groups = min(k, len(charges))
            floating = k - groups
            if burn[org_index]:
                # Most partners keep one to three months of burn; a tenth run it close.
                months = rng.uniform(0, 0.4) if rng.random() < 0.12 else rng.uniform(0.8, 3.5)
                final = int(burn[org_index] * months)
            else:
                final = rng.randint(0, 2000) * 100
            cuts = sorted(rng.sample(range(1, len(charges)), groups - 1)) if groups > 1 else []
            bounds = [0, *cuts, len(charges)]
            surplus = 0
            for j in range(groups):
                group = charges[bounds[j] : bounds[j + 1]]
                owed = sum(price for _, price in group)
                if j == groups - 1:
                    owed += max(0, final - surplus)
                amount = -(-owed // 10000) * 10000  # whole hundreds of dollars
                surplus += amount - sum(price for _, price in group)
                first = group[0][0]
                low = max(org.created_at + timedelta(seconds=60), first - timedelta(days=10))
                at = gen.moment_between(low, first - timedelta(seconds=1))
                at = min(at, first - timedelta(seconds=1))
                entries.append(self._credit(at, org_index, amount, finance, opening=j == 0))
            for n in range(floating):
                at = gen.moment_between(org.created_at + timedelta(seconds=60), gen.now)
                amount = rng.randint(1, 30) * 10000
                entries.append(
                    self._credit(at, org_index, amount, finance, opening=not charges and n == 0)
                )

        entries.sort(key=lambda e: (e[0], e[1]))
        balances: dict[int, int] = defaultdict(int)
        kind_index = 3

        def rows() -> Iterator[tuple[Any, ...]]:
            for number, e in enumerate(entries, start=1):
                at, _, org_index, kind, amount, lease_id, period, memo, user, label = e
                before = balances[org_index]
                balances[org_index] = before + amount
                org = gen.orgs[org_index]
                if e[kind_index] in (LedgerEntry.Kind.TOP_UP, LedgerEntry.Kind.ADJUSTMENT):
                    self._event(
                        user_actor((user, label)) if user else system_actor(label),
                        f"wallet.{kind}",
                        ("organization", org.id, org.id),
                        {"balance_cents": before + amount, "amount_cents": amount, "memo": memo},
                        at,
                        before={"balance_cents": before},
                    )
                yield (
                    number,
                    org.id,
                    kind,
                    amount,
                    before + amount,
                    memo,
                    lease_id,
                    period,
                    user,
                    label,
                    at,
                )

        columns = (
            "id",
            "organization_id",
            "kind",
            "amount_cents",
            "balance_after_cents",
            "memo",
            "lease_id",
            "period",
            "actor_user_id",
            "actor_label",
            "created_at",
        )
        written = self.loader.copy(LedgerEntry, columns, rows(), total=len(entries), label="ledger")
        for org_index, org in enumerate(gen.orgs):
            org.balance = balances.get(org_index, 0)
        return written

    def _credit(
        self,
        at: datetime,
        org_index: int,
        amount: int,
        finance: list[tuple[int, str]],
        *,
        opening: bool,
    ) -> tuple[Any, ...]:
        rng = self.rng
        at = at.replace(microsecond=0)
        if opening:
            return (at, 0, org_index, LedgerEntry.Kind.TOP_UP, amount, None, None,
                    "Opening balance", None, "system:onboarding")  # fmt: skip
        user = rng.choice(finance)
        if rng.random() < 0.015:
            return (at, 0, org_index, LedgerEntry.Kind.ADJUSTMENT, amount, None, None,
                    "Goodwill credit for a lost account", user[0], user[1])  # fmt: skip
        memo = (
            f"Wire transfer {rng.randint(100000, 999999)}" if rng.random() < 0.6 else "Card top-up"
        )
        return (at, 0, org_index, LedgerEntry.Kind.TOP_UP, amount, None, None, memo,
                user[0], user[1])  # fmt: skip

    def _rollups(self) -> None:
        """LeaseTotals, LedgerMonth, RenewalDayTotals, ReadySupply and OpenRequestTotals,
        summed from the rows just loaded (as the services keep them)."""
        self.gen.progress.say(
            "rollups        : lease totals, ledger months, renewals, supply, open requests"
        )
        renewal_days_rebuild()
        ready_supply_rebuild()
        open_request_totals_rebuild()
        lease, totals = _table(Lease), _table(LeaseTotals)
        self.loader.execute(
            f"INSERT INTO {totals} (organization_id, active_leases, burn_cents, "  # noqa: S608
            f"next_renewal_at, next_renewal_cents) "
            f"SELECT a.organization_id, a.n, a.burn, a.first, "
            f"(SELECT sum(l.monthly_price_cents) FROM {lease} l "
            f"WHERE l.organization_id = a.organization_id AND l.status = 'assigned' "
            f"AND l.next_renewal_at >= a.day AND l.next_renewal_at < a.day + interval '1 day') "
            f"FROM (SELECT organization_id, count(*) AS n, sum(monthly_price_cents) AS burn, "
            f"min(next_renewal_at) AS first, "
            f"date_trunc('day', min(next_renewal_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
            f"AS day FROM {lease} WHERE status = 'assigned' GROUP BY organization_id) a"
        )
        self.loader.execute(
            f"INSERT INTO {_table(LedgerMonth)} "  # noqa: S608
            f"(organization_id, month, charges, charged_cents) "
            f"SELECT organization_id, "
            f"date_trunc('month', created_at AT TIME ZONE 'UTC')::date, count(*), "
            f"-sum(amount_cents) FROM {_table(LedgerEntry)} "
            f"WHERE kind IN ('lease_charge', 'renewal_charge') GROUP BY 1, 2"
        )

    # -- API call log and audit

    def _api_calls(self) -> int:
        gen, rng = self.gen, self.rng
        days, per_day = gen.sizes.api_calls_days, gen.sizes.api_calls_per_day
        total = days * per_day
        live = [i for i, o in enumerate(gen.orgs) if o.api_keys]
        if not live or not total:
            return 0
        weights = list(_accumulate(gen.orgs[i].weight for i in live))
        moments = sorted(
            gen.now - timedelta(seconds=rng.random() * days * 86400) for _ in range(total)
        )
        shapes = (
            ("GET", "/v1/projects/{p}/leased-accounts", 200, "", 50.0),
            ("GET", "/v1/leased-accounts/requests/{r}", 200, "", 22.0),
            ("POST", "/v1/projects/{p}/leased-accounts/request", 202, "", 10.0),
            ("GET", "/v1/projects/{p}/leased-accounts/requests", 200, "", 10.0),
            ("DELETE", "/v1/leased-accounts/{a}", 200, "", 2.0),
            ("GET", "/v1/projects/{p}/leased-accounts", 401, "UNAUTHENTICATED", 1.5),
            ("POST", "/v1/projects/{p}/leased-accounts/request", 422, "VALIDATION", 2.0),
            ("POST", "/v1/projects/{p}/leased-accounts/request", 402, "BILLING_EXHAUSTED", 0.5),
            ("GET", "/v1/leased-accounts/requests/{r}", 404, "NOT_FOUND", 1.0),
            ("GET", "/v1/projects/{p}/leased-accounts", 429, "RATE_LIMITED", 1.0),
        )
        shape_cum = list(_accumulate(s[4] for s in shapes))

        def rows() -> Iterator[tuple[Any, ...]]:
            for at in moments:
                org = gen.orgs[live[rng.choices(range(len(live)), cum_weights=weights)[0]]]
                method, path, status, code, _ = rng.choices(shapes, cum_weights=shape_cum)[0]
                project = gen.projects[rng.choice(org.projects)].id
                account = gen.account_ids[rng.randrange(len(gen.account_ids))]
                path = path.format(p=project, r=base36(rng.getrandbits(40)), a=account)
                key = org.api_keys[0][0] if status != 401 else None
                yield (
                    f"req_{ulid_at(at, rng)}",
                    key,
                    org.id if key else None,
                    method,
                    path,
                    status,
                    code,
                    max(1, int(rng.lognormvariate(3.0, 0.6))),
                    at,
                )

        columns = (
            "request_id",
            "api_key_id",
            "organization_id",
            "method",
            "path",
            "status",
            "error_code",
            "duration_ms",
            "created_at",
        )
        return self.loader.copy(ApiCallLog, columns, rows(), total=total, label="api calls")

    def _audit(self) -> int:
        self.audit.sort(key=lambda e: e[-1])
        rows = ((n, *event) for n, event in enumerate(self.audit, start=1))
        columns = (
            "id",
            "actor_type",
            "actor_user_id",
            "actor_api_key_id",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "organization_id",
            "before",
            "after",
            "request_id",
            "created_at",
        )
        return self.loader.copy(
            AuditEvent, columns, rows, total=len(self.audit), label="audit events"
        )


# ----------------------------------------------------------------------------- the command


def foreign_data() -> dict[str, int]:
    """Rows this command did not make, by what they are (empty when there are none)."""
    marker = AuditEvent.objects.filter(action=MARKER_ACTION).order_by("-created_at").first()
    if marker is None:
        found = {
            "partners": Organization.objects.count(),
            "pool accounts": PoolAccount.objects.count(),
            "lease requests": LeaseRequest.objects.count(),
            "ledger entries": LedgerEntry.objects.count(),
            "audit events": AuditEvent.objects.count(),
        }
    else:
        # Anything created after the last generation was made by someone else.
        found = {
            "partners": Organization.objects.filter(created_at__gt=marker.created_at).count(),
            "pool accounts": PoolAccount.objects.filter(created_at__gt=marker.created_at).count(),
        }
    return {what: n for what, n in found.items() if n}


class Command(BaseCommand):
    help = (
        "Fill a PostgreSQL database with realistic Lease Desk data at scale (by default a "
        "million pool accounts, 100,000 requests, 5,000 partners, 300,000 leases, a million "
        "ledger entries) for benchmarks. Empties every Lease Desk table first, so it refuses "
        "a database holding data it did not generate unless --force is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        d = DEFAULT_SIZES
        parser.add_argument("--accounts", type=int, help=f"pool accounts ({d.accounts:,})")
        parser.add_argument("--requests", type=int, help=f"lease requests ({d.requests:,})")
        parser.add_argument("--partners", type=int, help=f"partners ({d.partners:,})")
        parser.add_argument("--projects", type=int, help=f"projects ({d.projects:,})")
        parser.add_argument("--leases", type=int, help=f"leases ({d.leases:,})")
        parser.add_argument("--ledger", type=int, help=f"ledger entries ({d.ledger:,})")
        parser.add_argument(
            "--api-calls-days", type=int, help=f"days of API call log ({d.api_calls_days})"
        )
        parser.add_argument(
            "--api-calls-per-day", type=int, help=f"API calls per day ({d.api_calls_per_day:,})"
        )
        parser.add_argument(
            "--small",
            action="store_true",
            help="start from a small preset (20,000 accounts, 2,000 requests...) for quick runs",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="empty the database even if it holds data this command did not generate",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "generate_scale_data needs PostgreSQL (it bulk-loads with COPY); this "
                f"database is {connection.vendor}. Point DATABASE_URL at an empty PostgreSQL "
                "database, e.g. DATABASE_URL=postgres://root@127.0.0.1:5432/lease_scale"
            )
        base = SMALL_SIZES if options["small"] else DEFAULT_SIZES
        chosen = {
            name: options[name] if options.get(name) is not None else value
            for name, value in asdict(base).items()
        }
        sizes = Sizes(**chosen)
        problems = size_problems(sizes)
        if problems:
            raise CommandError("; ".join(problems))
        foreign = foreign_data()
        if foreign and not options["force"]:
            listed = ", ".join(f"{n:,} {what}" for what, n in foreign.items())
            raise CommandError(
                f"this database holds data generate_scale_data did not make ({listed}). "
                "It empties every Lease Desk table before loading, so it stops here. Use an "
                "empty database (createdb -h 127.0.0.1 -U root lease_scale) or pass --force "
                "to delete that data."
            )
        role_groups = {g.name: g for g in Group.objects.filter(name__in=roles.ROLES)}
        missing = [role for role in roles.ROLES if role not in role_groups]
        if missing:
            raise CommandError(
                f"the role groups {', '.join(missing)} are missing; run manage.py migrate first"
            )

        quiet = options["verbosity"] == 0
        progress = Progress(quiet)
        started = time.perf_counter()
        now = timezone.now().replace(microsecond=0)
        tables = app_tables()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                cursor.execute("SET LOCAL work_mem = '256MB'")
                cursor.execute(f"TRUNCATE {', '.join(_quote(t) for t in tables)} RESTART IDENTITY")
            staff = self._staff(role_groups)
            gen = Generator(
                sizes=sizes, seed=options["seed"], now=now, staff=staff, progress=progress
            )
            progress.say("planning       : partners, requests, leases, accounts")
            gen.plan()
            keys, structures = secondary_structures(tables)
            with connection.cursor() as cursor:
                # Fire the deferred key checks of the staff rows now: a table with pending
                # trigger events cannot have its constraints altered.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for ddl in keys + structures:
                with connection.cursor() as cursor:
                    cursor.execute(ddl.drop)
            loader = Loader(progress)
            counts = Writer(gen, loader).write_all()
            self._rebuild(progress, structures, keys)
            self._reset_sequences()
            elapsed = time.perf_counter() - started
            AuditEvent.objects.create(
                actor_type=AuditEvent.ActorType.SYSTEM,
                actor_label="system:generate_scale_data",
                action=MARKER_ACTION,
                object_type="dataset",
                object_id="scale",
                after={
                    "sizes": asdict(sizes),
                    "seed": options["seed"],
                    "counts": counts,
                    # Before the VACUUM ANALYZE that follows the commit.
                    "load_seconds": round(elapsed, 1),
                },
                created_at=now,
            )
        self._analyze(progress, tables)
        elapsed = time.perf_counter() - started
        if options["verbosity"]:
            lines = [f"Scale data generated in {elapsed:.0f} s:"]
            lines += [f"  {n:>10,} {what}" for what, n in counts.items()]
            lines += [f"  staff logins (no password; use force_login): {staff.ops[0][1]} (ops)"]
            self.stdout.write("\n".join(lines))

    def _staff(self, groups: dict[str, Group]) -> Staff:
        User = get_user_model()
        User.objects.filter(username__startswith=STAFF_PREFIX).delete()
        made = Staff(ops=[], support=[], finance=[], admin=[])
        plan = ((roles.OPS, 8), (roles.SUPPORT, 3), (roles.FINANCE, 2), (roles.ADMIN, 1))
        for role, n in plan:
            for i in range(1, n + 1):
                user = User(username=f"{STAFF_PREFIX}{role}_{i:02d}", is_staff=True)
                user.is_superuser = role == roles.ADMIN
                user.set_unusable_password()
                user.save()
                user.groups.add(groups[role])
                getattr(made, role).append((user.pk, user.get_username()))
        return made

    def _rebuild(self, progress: Progress, structures: list[Ddl], keys: list[Ddl]) -> None:
        with progress.bar("indexes & keys", len(structures) + len(keys), " statements") as bar:
            for ddl in structures + keys:
                with connection.cursor() as cursor:
                    cursor.execute(ddl.create)
                bar.update(1)

    def _reset_sequences(self) -> None:
        models = list(apps.get_app_config("leasing").get_models())
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)

    def _analyze(self, progress: Progress, tables: list[str]) -> None:
        """Statistics for the planner (and the visibility map for the derived tag rows)."""
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with progress.bar("analyze", len(tables), " tables") as bar, connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"{command} {_quote(table)}")
                bar.update(1)

"""Demo data for `make run`: partners, a warmed pool, a request queue and months of billing.

Everything is made through the services, in time order, so the demo obeys every rule the
real data does: each ledger sums to its wallet balance, running balances read true in date
order, renewals are charged once per period, and the queue holds every request status.
Services that take a time (`submitted_at`, `now`, `at`) are given past times; the rest
(claims, notes, closing, releases) happen "now", at the end.

Random but repeatable: one seeded Random drives every choice, and every time is an offset
from the moment the seed runs. The demo logins live here too, shared by `seed_demo` and
`demo_logins`.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from leasing import roles
from leasing.models import (
    ApiKey,
    Lease,
    LeaseRequest,
    Organization,
    PoolAccount,
    PoolAccountTag,
    Project,
)
from leasing.money import add_months
from leasing.services.allocation import accounts_assign, candidates_rank
from leasing.services.audit import Actor
from leasing.services.billing import renewals_run, wallet_top_up
from leasing.services.errors import Conflict
from leasing.services.leases import lease_release
from leasing.services.partners import (
    api_key_issue,
    api_key_revoke,
    organization_onboard,
    organization_set_status,
    project_create,
)
from leasing.services.pool import pool_account_retire, pool_import_csv
from leasing.services.requests import (
    lease_request_claim,
    lease_request_close,
    lease_request_create,
    request_note_add,
)
from leasing.services.staff import staff_create

SEED = 20240611
# Where `make run` serves by default; demo_logins and seed_demo take --base-url.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


# Fixed so the README and `make run` can print them; each passes Django's validators.
DEMO_STAFF = (
    DemoLogin("olivia", roles.OPS, "warm-queue-41"),
    DemoLogin("omar", roles.OPS, "fresh-pool-52"),
    DemoLogin("sam", roles.SUPPORT, "kind-answer-63"),
    DemoLogin("fran", roles.FINANCE, "even-ledger-74"),
    DemoLogin("ada", roles.ADMIN, "root-of-desk-85"),
)


@dataclass(frozen=True)
class DemoPartner:
    name: str
    projects: tuple[str, ...]
    vertical: str
    languages: tuple[str, ...]
    geo: tuple[str, ...]
    joined_days_ago: int
    monthly_top_up_cents: int
    opening_cents: int = 300_000
    price_cents: int = 15000
    tier: str = ApiKey.Tier.STANDARD
    scopes: tuple[str, ...] = ("leased:write", "social:read")
    # Prefix of the partner's own requestIds; empty: they let the server mint lreq_ ids.
    request_id_prefix: str = ""
    # False: stopped paying, so its renewals end in billing_exhausted.
    pays_renewals: bool = True
    suspended: bool = False


DEMO_PARTNERS = (
    DemoPartner(
        "Brewline Coffee Roasters",
        ("Brewline TikTok US", "Cold Brew Summer Launch"),
        "coffee",
        ("en-US", "en"),
        ("US", "CA"),
        joined_days_ago=125,
        monthly_top_up_cents=600_000,
        tier=ApiKey.Tier.PARTNER,
        request_id_prefix="BRW-",
    ),
    DemoPartner(
        "Northstar Fitness",
        ("Northstar App Installs", "Northstar en Español"),
        "fitness",
        ("en", "es"),
        ("US", "MX", "ES"),
        joined_days_ago=118,
        monthly_top_up_cents=450_000,
        tier=ApiKey.Tier.PILOT,
    ),
    DemoPartner(
        "Pixel Harbor Games",
        ("Harbor Heroes Launch", "Pixel Puzzles UA"),
        "mobile games",
        ("en", "pt-BR"),
        ("US", "GB", "BR"),
        joined_days_ago=122,
        monthly_top_up_cents=800_000,
        price_cents=12_000,
        tier=ApiKey.Tier.PARTNER,
        scopes=("*",),
        request_id_prefix="phg-",
    ),
    DemoPartner(
        "Dewdrop Skincare",
        ("Dewdrop Serum Launch", "Dewdrop Brasil"),
        "skincare",
        ("en", "pt-BR"),
        ("US", "BR"),
        joined_days_ago=96,
        monthly_top_up_cents=300_000,
    ),
    DemoPartner(
        "Pennywise Budgeting",
        ("Pennywise US", "Pennywise Students"),
        "personal finance",
        ("en-US",),
        ("US",),
        joined_days_ago=84,
        monthly_top_up_cents=300_000,
        price_cents=18_000,
    ),
    DemoPartner(
        "Skillet & Sage",
        ("Weeknight Dinners",),
        "cooking",
        ("en", "fr"),
        ("US", "FR", "CA"),
        joined_days_ago=77,
        monthly_top_up_cents=240_000,
    ),
    DemoPartner(
        "Wanderly Travel",
        ("Wanderly Europe Summer", "Wanderly LatAm"),
        "travel",
        ("en", "es", "de"),
        ("GB", "DE", "ES", "MX"),
        joined_days_ago=103,
        monthly_top_up_cents=450_000,
        tier=ApiKey.Tier.PILOT,
        request_id_prefix="wnd_",
    ),
    DemoPartner(
        "Pawsome Pet Co.",
        ("Pawsome Treats",),
        "pets",
        ("en", "de"),
        ("US", "DE"),
        joined_days_ago=91,
        monthly_top_up_cents=240_000,
    ),
    DemoPartner(
        "Kaffeekult Berlin",
        ("Kaffeekult DE",),
        "coffee",
        ("de",),
        ("DE", "AT", "CH"),
        joined_days_ago=63,
        monthly_top_up_cents=150_000,
    ),
    DemoPartner(
        "Tidewater Mobile",
        ("Tidewater Solitaire", "Tidewater Word Quest"),
        "mobile games",
        ("en", "es"),
        ("US", "MX"),
        joined_days_ago=72,
        monthly_top_up_cents=0,
        opening_cents=45_000,
        pays_renewals=False,
    ),
    DemoPartner(
        "Élan Pilates",
        ("Élan Paris",),
        "fitness",
        ("fr",),
        ("FR", "BE"),
        joined_days_ago=58,
        monthly_top_up_cents=150_000,
    ),
    DemoPartner(
        "Glowlab Cosmetics",
        ("Glowlab México", "Glowlab Launch"),
        "skincare",
        ("es",),
        ("MX", "US"),
        joined_days_ago=88,
        monthly_top_up_cents=150_000,
        suspended=True,
    ),
)
# The partner whose API key `seed_demo` prints, so the API can be tried at once.
SHOWCASE_PARTNER = "Brewline Coffee Roasters"

# Pool make-up: accounts per main vertical, and a related second tag some carry.
POOL_VERTICALS = {
    "coffee": 260,
    "fitness": 300,
    "mobile games": 300,
    "skincare": 250,
    "personal finance": 180,
    "cooking": 200,
    "travel": 200,
    "pets": 180,
    "home decor": 70,
    "fashion": 60,
}
RELATED_VERTICAL = {
    "coffee": "cooking",
    "cooking": "coffee",
    "fitness": "cooking",
    "skincare": "fashion",
    "fashion": "skincare",
    "personal finance": "travel",
    "travel": "personal finance",
    "pets": "home decor",
    "home decor": "pets",
    "mobile games": "fashion",
}
LANGUAGES = {
    "en": 30,
    "en-US": 18,
    "en-GB": 5,
    "es": 12,
    "es-MX": 5,
    "pt-BR": 11,
    "de": 10,
    "fr": 9,
}
COUNTRIES = {
    "en": ("US", "GB", "CA", "AU", "IE", "NZ"),
    "en-US": ("US", "CA"),
    "en-GB": ("GB", "IE"),
    "es": ("ES", "MX", "AR", "CO", "US", "CL"),
    "es-MX": ("MX", "US"),
    "pt-BR": ("BR", "PT"),
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CA", "CH"),
}
HANDLE_WORDS = {
    "coffee": ("brew", "bean", "latte", "espresso", "roast", "pourover", "crema", "mocha",
               "cafe", "grind", "drip", "cortado"),
    "fitness": ("lift", "fit", "gains", "sweat", "reps", "cardio", "strong", "yoga", "pilates",
                "run", "core", "hiit"),
    "mobile games": ("pixel", "gamer", "quest", "level", "combo", "loot", "arcade", "speedrun",
                     "boss", "clutch", "tap", "respawn"),
    "skincare": ("glow", "dewy", "serum", "skin", "spf", "glass", "bare", "clear", "hydra",
                 "retinol"),
    "personal finance": ("budget", "money", "frugal", "penny", "invest", "cents", "saver",
                         "debtfree", "cash", "wealth"),
    "cooking": ("skillet", "kitchen", "chef", "recipe", "bake", "dinner", "sauce", "pasta",
                "umami", "meal"),
    "travel": ("wander", "nomad", "jetset", "passport", "trail", "roam", "voyage", "atlas",
               "backpack", "globe"),
    "pets": ("paws", "pup", "kitty", "woof", "meow", "furry", "doggo", "petpal", "tails",
             "whiskers"),
    "home decor": ("cozy", "nest", "decor", "linen", "hygge", "shelf"),
    "fashion": ("thrift", "outfit", "style", "closet", "vintage", "fitcheck"),
}  # fmt: skip
FIRST_NAMES = (
    "jess", "mia", "leo", "sofia", "kai", "ana", "lucas", "emma", "noah", "lina", "mateo",
    "chloe", "ben", "zoe", "yuki", "ines", "tom", "nina", "omar", "lea", "joao", "marta",
    "felix", "clara", "diego", "ava", "max", "sara", "liam", "julia", "hugo", "elif", "raf",
    "nora", "theo", "bia", "jonas", "amelie", "camila", "sven",
)  # fmt: skip
HANDLE_SUFFIXES = ("daily", "club", "diaries", "hq", "lab", "tok", "studio", "life", "talk",
                   "corner", "world", "nerd")  # fmt: skip
ACCOUNT_NOTES = (
    "Face-free content, voiceover only.",
    "Creator prefers no alcohol brands.",
    "Strong comment engagement over the last 30 days.",
    "Posts twice a day; audience skews 18-24.",
    "Recovered from a reach dip after a sound was muted.",
    "Switched niche six weeks ago; warming the new audience.",
    "Good for product demos; steady saves.",
    "Audience mostly evening viewers (US Eastern).",
)
AUDIENCES = {
    "coffee": "Home baristas and cold-brew fans, 18-34",
    "fitness": "Beginners building a home workout habit, 20-35",
    "mobile games": "Casual puzzle and idle players, 18-40",
    "skincare": "Gen Z skincare routines, sensitive skin",
    "personal finance": "Students and first-job earners learning to budget",
    "cooking": "Busy parents cooking 30-minute dinners",
    "travel": "Budget travellers planning summer trips in Europe",
    "pets": "New dog owners, urban apartments",
}
TARGETS = {
    "coffee": "Launch of the new cold brew concentrate; link to the shop in bio",
    "fitness": "App installs for the 30-day starter plan",
    "mobile games": "Pre-registration for the next title; gameplay clips",
    "skincare": "Seeding the new vitamin C serum; honest reviews",
    "personal finance": "Sign-ups for the budgeting app's student plan",
    "cooking": "Meal-kit trial codes; recipe videos",
    "travel": "Bookings for summer city breaks",
    "pets": "Subscription treat boxes; unboxing videos",
}
PARTNER_NOTES = (
    "Launch is on the 15th, so sooner is better.",
    "Accounts with a recipe or how-to style work best for us.",
    "Please avoid accounts that promoted a competitor in the last 90 days.",
    "We can take fewer if the follower counts are higher.",
    "Same brief as our last request.",
)
# Niches ops has to turn down: not in the pool, or not something Layers will run.
UNSERVED_NICHES = (
    ("sports betting", "en", "We don't run gambling or betting campaigns, so we can't take "
     "this one. Happy to help with other niches."),
    ("crypto trading", "en-US", "We don't lease accounts for crypto promotion; TikTok "
     "restricts it and the accounts would be at risk."),
    ("anime", "ja", "We have no warmed Japanese-language accounts yet. We expect the first "
     "batch in about six weeks; please request again then."),
    ("vaping", "en", "Vaping products are outside what we can promote. Closing this request."),
)  # fmt: skip
REJECT_NOTES = (
    "The partner asked us to cancel this one by email; closing it with nothing assigned.",
    "This duplicates an earlier request for the same niche; we're fulfilling that one instead.",
    "None of our warmed accounts match this audience closely enough to be worth billing you.",
)
PARTIAL_NOTES = (
    "We could place {done} of the {count} accounts; the rest of the pool in this niche is "
    "below your follower minimum. Closing with {done} so you're only billed for those.",
    "{done} of {count} accounts assigned. The remaining ones would have been outside your "
    "countries, so we closed the request rather than send poor matches.",
)
INTERNAL_NOTES = (
    "Checked the pool: enough {vertical} accounts, but few in {language}.",
    "Waiting on this week's warming batch before assigning.",
    "Partner asked on Slack to prioritise accounts with recent viral posts.",
    "Shortlisted a few; checking recent posts for competitor brands.",
    "Two good candidates had a reach dip last week; skipping them for now.",
)
PROGRESS_NOTES = (
    "We've started on this: first accounts within 24 hours.",
    "Good news, most of these are lined up; the rest follow tomorrow.",
)
ASSIGNED_NOTES = (
    "All set: the accounts are live. Posting guidelines are in the shared doc.",
    "Assigned. Tell us if any account doesn't fit your brand and we'll swap it.",
)
OPS_RELEASE_NOTES = (
    "The account's audience drifted off-niche; taking it back to replace it.",
    "Creator asked to pause brand work for a month.",
)
LOST_REASONS = (
    "Banned by TikTok after a copyright strike on a reposted sound.",
    "Login lost: the creator changed the password and stopped answering.",
)
RETIRE_REASONS = (
    "Creator stopped posting.",
    "Reach collapsed; not worth warming again.",
)

# A daily renewal job at this hour builds the billing history.
RENEWAL_HOUR = 6
# Time left since the last simulated job run, so some renewals are due when the demo opens.
RENEWAL_GAP = timedelta(hours=20)
RECENT_STATUSES = (
    ["requested"] * 14
    + ["in_progress"] * 12
    + ["assigned"] * 16
    + ["partial"] * 9
    + ["rejected"] * 9
)


@dataclass
class DemoResult:
    created: bool
    elapsed_seconds: float = 0.0
    partners: int = 0
    projects: int = 0
    pool_accounts: int = 0
    verticals: int = 0
    languages: int = 0
    requests_by_status: dict[str, int] = field(default_factory=dict)
    active_leases: int = 0
    disconnected_by_reason: dict[str, int] = field(default_factory=dict)
    renewals_due_now: int = 0
    renewals_next_days: int = 0
    ledger_entries: int = 0
    staff_created: list[str] = field(default_factory=list)
    staff_kept: list[str] = field(default_factory=list)
    showcase_partner: str = ""
    showcase_project_id: str = ""
    showcase_key: str = ""


@dataclass
class _Partner:
    spec: DemoPartner
    org: Organization
    projects: list[Project]
    key: ApiKey
    joined_at: datetime
    request_seq: int = 0

    def next_request_key(self) -> str | None:
        if not self.spec.request_id_prefix:
            return None
        self.request_seq += 1
        return f"{self.spec.request_id_prefix}{self.request_seq:04d}"


@dataclass
class _Planned:
    """A request the demo will create, and what should happen to it."""

    partner: _Partner
    status: str
    submitted_at: datetime
    count: int
    vertical: str
    language: str
    geo: list[str]
    assign: int = 0
    assign_at: datetime | None = None
    close_note: str = ""
    request: LeaseRequest | None = None


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    run: Callable[[], object] = field(compare=False)


def demo_seed(*, seed: int = SEED, now: datetime | None = None) -> DemoResult:
    """Load the demo once. A second call finds the demo partners and creates nothing."""
    started = timezone.now()
    names = [p.name for p in DEMO_PARTNERS]
    existing = sorted(Organization.objects.filter(name__in=names).values_list("name", flat=True))
    if len(existing) == len(names):
        return DemoResult(created=False)
    if existing:
        raise Conflict(
            f"the database already has partner(s) named like the demo's ({', '.join(existing)})"
            " but not the whole demo; load the demo into an empty database"
        )
    # One transaction: a failure half-way leaves no half-built demo behind, and SQLite
    # commits once instead of thousands of times.
    with transaction.atomic():
        builder = _Builder(random.Random(seed), (now or timezone.now()).replace(microsecond=0))
        result = builder.build()
    result.elapsed_seconds = (timezone.now() - started).total_seconds()
    return result


class _Builder:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.events: list[_Event] = []
        self.result = DemoResult(created=True)
        self.system = Actor.for_system("seed_demo")
        self.renewal_actor = Actor.for_system("renewals")
        self.users: dict[str, AbstractUser] = {}
        self.partners: list[_Partner] = []
        self.planned: list[_Planned] = []
        self.last_tick = self._last_tick()

    # ---- orchestration -------------------------------------------------------------

    def build(self) -> DemoResult:
        self._staff()
        self._partners()
        self._pool()
        self._history()
        self._recent_requests()
        self._ticks()
        for event in sorted(self.events):
            event.run()
        self._today()
        self._summarise()
        return self.result

    def _at(self, at: datetime, run: Callable[[], object]) -> None:
        self.events.append(_Event(at.replace(microsecond=0), len(self.events), run))

    def _user(self, username: str) -> Actor:
        return Actor.for_user(self.users[username])

    def _ops(self) -> Actor:
        return self._user(self.rng.choice(("olivia", "olivia", "omar", "ada")))

    # ---- people and partners -----------------------------------------------------------

    def _staff(self) -> None:
        User = get_user_model()
        for login in DEMO_STAFF:
            found = User.objects.filter(username__iexact=login.username).first()
            if found is not None:
                assert isinstance(found, AbstractUser)
                self.users[login.username] = found
                self.result.staff_kept.append(login.username)
                continue
            user, _ = staff_create(
                username=login.username, role=login.role, password=login.password, actor=self.system
            )
            self.users[login.username] = user
            self.result.staff_created.append(login.username)

    def _partners(self) -> None:
        for spec in DEMO_PARTNERS:
            onboarded = organization_onboard(
                name=spec.name,
                project_name=spec.projects[0],
                actor=self._user("ada"),
                scopes=list(spec.scopes),
                tier=spec.tier,
                monthly_price_cents=spec.price_cents,
            )
            projects = [onboarded.project] + [
                project_create(organization=onboarded.organization, name=name, actor=self.system)
                for name in spec.projects[1:]
            ]
            joined = self._day(spec.joined_days_ago, hour=self.rng.randint(9, 17))
            partner = _Partner(spec, onboarded.organization, projects, onboarded.api_key, joined)
            self.partners.append(partner)
            if spec.name == SHOWCASE_PARTNER:
                self.result.showcase_partner = spec.name
                self.result.showcase_project_id = onboarded.project.pk
                self.result.showcase_key = onboarded.raw_key
                # A key from their first integration, since rotated out.
                old_key, _ = api_key_issue(
                    organization=onboarded.organization,
                    actor=self._user("ada"),
                    scopes=list(spec.scopes),
                    tier=spec.tier,
                    name="first integration",
                )
                api_key_revoke(api_key=old_key, actor=self._user("ada"))
            self._wallet_history(partner)

    def _wallet_history(self, partner: _Partner) -> None:
        spec = partner.spec
        self._top_up_at(partner, partner.joined_at, spec.opening_cents, "Opening balance")
        month = 1
        while spec.monthly_top_up_cents and (
            moment := add_months(partner.joined_at, month)
        ) < self.now - timedelta(days=1):
            self._top_up_at(partner, moment, spec.monthly_top_up_cents, "Monthly prepayment (wire)")
            month += 1
        if not spec.pays_renewals:
            # They let the wallet run dry, lost their leases, and came back last week.
            self._top_up_at(
                partner,
                self.now - timedelta(days=5, hours=3),
                300_000,
                "Top-up after billing-exhausted notice",
            )

    def _top_up_at(self, partner: _Partner, at: datetime, cents: int, memo: str) -> None:
        self._at(
            at,
            partial(
                wallet_top_up,
                organization=partner.org,
                amount_cents=cents,
                memo=memo,
                actor=self._user("fran"),
                at=at,
            ),
        )

    def _ensure_funds(self, partner: _Partner, cents: int, at: datetime) -> None:
        """Top the wallet up just in time, as a partner paying by card would."""
        org = Organization.objects.get(pk=partner.org.pk)
        short = cents - org.balance_cents
        if short <= 0:
            return
        # A partner who stopped paying adds only what this step needs; others round up.
        amount = short if not partner.spec.pays_renewals else math.ceil(short / 100_000) * 100_000
        wallet_top_up(
            organization=org,
            amount_cents=amount,
            memo="Top-up by card",
            actor=self._user("fran"),
            at=at,
        )

    # ---- the pool ----------------------------------------------------------------------

    def _pool(self) -> None:
        rng = self.rng
        today = self.now.date()
        seen: set[str] = set()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            ["handle", "platform", "followers", "verticals", "language", "geo", "state",
             "warmed_since", "notes"]
        )  # fmt: skip
        languages = list(LANGUAGES)
        weights = list(LANGUAGES.values())
        for vertical, how_many in POOL_VERTICALS.items():
            for _ in range(how_many):
                handle = self._handle(vertical, seen)
                tags = [vertical]
                if rng.random() < 0.25:
                    tags.append(RELATED_VERTICAL[vertical])
                language = rng.choices(languages, weights)[0]
                options = COUNTRIES[language]
                countries = rng.sample(options, k=min(len(options), rng.choice((1, 1, 2, 3))))
                if countries[0] != options[0] and rng.random() < 0.6:
                    countries.insert(0, options[0])  # the language's home market usually leads
                roll = rng.random()
                if roll < 0.17:
                    state, warmed = "warming", today - timedelta(days=rng.randint(3, 45))
                elif roll < 0.92:
                    state, warmed = "ready", today - timedelta(days=rng.randint(30, 540))
                else:
                    state, warmed = "retired", today - timedelta(days=rng.randint(120, 700))
                followers = min(4_000_000, max(300, int(rng.lognormvariate(9.2, 1.25))))
                note = rng.choice(ACCOUNT_NOTES) if rng.random() < 0.15 else ""
                writer.writerow(
                    [handle, "tiktok", followers, ";".join(tags), language,
                     ";".join(dict.fromkeys(countries)), state, warmed.isoformat(), note]
                )  # fmt: skip
        buffer.seek(0)
        report = pool_import_csv(stream=buffer, actor=self.system)
        if not report.ok:
            line, problem = report.errors[0]
            raise Conflict(f"the demo pool could not be imported: line {line}: {problem}")
        # The tables went from empty to thousands of rows inside this transaction, before
        # autovacuum could look: without fresh statistics PostgreSQL plans every candidate
        # ranking as if the pool were empty, and the demo takes about three times as long.
        with connection.cursor() as cursor:
            for model in (PoolAccount, PoolAccountTag):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    def _handle(self, vertical: str, seen: set[str]) -> str:
        rng = self.rng
        word = rng.choice(HANDLE_WORDS[vertical])
        name = rng.choice(FIRST_NAMES)
        suffix = rng.choice(HANDLE_SUFFIXES)
        pattern = rng.randrange(6)
        handle = (
            f"{word}with{name}",
            f"{name}.{word}" if word.endswith("s") else f"{name}.{word}s",
            f"{word}_{name}",
            f"{name}{word}{rng.randint(1, 99)}",
            f"the{word}{suffix}",
            f"{word}.{suffix}",
        )[pattern][:24]
        while handle.lower() in seen:
            handle = f"{handle[:20]}_{rng.randint(1, 99)}"
        seen.add(handle.lower())
        return handle

    # ---- months of leases --------------------------------------------------------------

    def _history(self) -> None:
        """Requests of past months, each assigned within a day, so leases renew and bill."""
        rng = self.rng
        for index, partner in enumerate(self.partners):
            start = partner.joined_at + timedelta(days=2)
            end = self.now - timedelta(days=12)
            if not partner.spec.pays_renewals:
                # Their leases start early, so the renewals they can't pay fall well before
                # they top up again.
                end = partner.joined_at + timedelta(days=20)
            for _ in range(rng.randint(2, 4)):
                submitted = start + (end - start) * rng.random()
                self._historical_request(
                    partner, submitted, submitted + timedelta(hours=rng.uniform(2, 30))
                )
            # A few leases whose renewal lands now (the job has not run since) or soon.
            if index < 2:
                window = (self.now - self.last_tick).total_seconds()
                renew = self.last_tick + timedelta(seconds=window * rng.uniform(0.3, 0.8))
                self._renewing_request(partner, renew)
            elif index < 6:
                self._renewing_request(partner, self.now + timedelta(days=rng.uniform(1, 4)))

    def _renewing_request(self, partner: _Partner, renew_at: datetime) -> None:
        renew_at = renew_at.replace(microsecond=0)
        for months in (1, 2, 3):
            assigned = add_months(renew_at, -months)
            if add_months(assigned, months) == renew_at and assigned > partner.joined_at:
                self._historical_request(partner, assigned - timedelta(hours=5), assigned)
                return

    def _historical_request(
        self, partner: _Partner, submitted: datetime, assign_at: datetime
    ) -> None:
        count = self.rng.randint(1, 4)
        plan = _Planned(
            partner=partner,
            status="assigned",
            submitted_at=submitted,
            count=count,
            vertical=partner.spec.vertical,
            language=self.rng.choice(partner.spec.languages),
            geo=self._geo(partner),
            assign=count,
            assign_at=assign_at,
        )
        self._schedule(plan)

    def _ticks(self) -> None:
        first = min(p.joined_at for p in self.partners)
        tick = datetime.combine(first.date() + timedelta(days=1), time(RENEWAL_HOUR), tzinfo=UTC)
        while tick <= self.last_tick:
            self._at(tick, partial(self._renewal_run, tick))
            tick += timedelta(days=1)

    def _renewal_run(self, at: datetime) -> None:
        due = dict(
            Lease.objects.filter(status=Lease.Status.ASSIGNED, next_renewal_at__lte=at)
            .values("organization")
            .annotate(total=Sum("monthly_price_cents"))
            .values_list("organization", "total")
        )
        for partner in self.partners:
            if partner.spec.pays_renewals and due.get(partner.org.pk):
                self._ensure_funds(partner, due[partner.org.pk], at)
        renewals_run(now=at, actor=self.renewal_actor)

    def _last_tick(self) -> datetime:
        cutoff = self.now - RENEWAL_GAP
        tick = datetime.combine(cutoff.date(), time(RENEWAL_HOUR), tzinfo=UTC)
        return tick if tick <= cutoff else tick - timedelta(days=1)

    # ---- this week's queue -------------------------------------------------------------

    def _recent_requests(self) -> None:
        rng = self.rng
        statuses = list(RECENT_STATUSES)
        rng.shuffle(statuses)
        active = [p for p in self.partners if not p.spec.suspended]
        suspended = [p for p in self.partners if p.spec.suspended]
        owners = [rng.choice(active) for _ in statuses]
        # The suspended partner only has closed requests: it was suspended after them.
        for partner in suspended:
            for wanted in ("assigned", "rejected"):
                owners[statuses.index(wanted)] = partner
        for status, partner in zip(statuses, owners, strict=True):
            hours_ago = (
                rng.uniform(0.5, 100)
                if status in ("requested", "in_progress")
                else rng.uniform(3, 100)
            )
            submitted = self.now - timedelta(hours=hours_ago)
            plan = _Planned(
                partner=partner,
                status=status,
                submitted_at=submitted,
                count=rng.randint(1, 5) if status == "assigned" else rng.randint(2, 8),
                vertical=partner.spec.vertical,
                language=rng.choice(partner.spec.languages),
                geo=self._geo(partner),
            )
            if status == "assigned":
                plan.assign = plan.count
            elif status == "partial" or (status == "in_progress" and rng.random() < 0.5):
                plan.assign = rng.randint(1, plan.count - 1)
            elif status == "rejected" and rng.random() < 0.6:
                vertical, language, note = rng.choice(UNSERVED_NICHES)
                plan.vertical, plan.language, plan.geo = vertical, language, []
                plan.close_note = note
            if plan.assign:
                delay = timedelta(hours=rng.uniform(1, 20))
                plan.assign_at = min(submitted + delay, self.now - timedelta(minutes=10))
            self._schedule(plan)

    def _geo(self, partner: _Partner) -> list[str]:
        geo = partner.spec.geo
        return self.rng.sample(geo, k=self.rng.randint(1, min(2, len(geo))))

    def _schedule(self, plan: _Planned) -> None:
        self.planned.append(plan)
        self._at(plan.submitted_at, partial(self._submit, plan))
        if plan.assign and plan.assign_at is not None:
            self._at(plan.assign_at, partial(self._assign, plan))

    def _submit(self, plan: _Planned) -> None:
        partner = plan.partner
        self._ensure_funds(partner, partner.org.monthly_price_cents, plan.submitted_at)
        rng = self.rng
        known = plan.vertical in AUDIENCES
        plan.request = lease_request_create(
            project=rng.choice(partner.projects),
            count=plan.count,
            vertical=plan.vertical,
            audience=AUDIENCES[plan.vertical] if known and rng.random() < 0.7 else None,
            language=plan.language,
            geo=plan.geo,
            target=TARGETS[plan.vertical] if known and rng.random() < 0.6 else None,
            note=rng.choice(PARTNER_NOTES) if rng.random() < 0.35 else None,
            request_key=partner.next_request_key(),
            actor=Actor.for_api_key(partner.key),
            submitted_at=plan.submitted_at,
        )

    def _assign(self, plan: _Planned) -> None:
        assert plan.request is not None
        assert plan.assign_at is not None
        # Ops pick from the top of the ranking, passing over accounts too freshly warmed
        # for the date of the assignment.
        ripe = plan.assign_at.date() - timedelta(days=14)
        ranked = [
            c.account.pk
            for c in candidates_rank(request=plan.request, limit=plan.assign * 3 + 20)
            if c.account.warmed_since is None or c.account.warmed_since <= ripe
        ]
        shortlist = ranked[: plan.assign * 2]
        take = sorted(self.rng.sample(range(len(shortlist)), k=min(plan.assign, len(shortlist))))
        picks = [shortlist[i] for i in take]
        if not picks:
            return
        org = plan.partner.org
        self._ensure_funds(plan.partner, org.monthly_price_cents * len(picks), plan.assign_at)
        accounts_assign(
            request=plan.request, account_ids=picks, actor=self._ops(), now=plan.assign_at
        )

    # ---- today: claims, notes, closing, releases ---------------------------------------

    def _today(self) -> None:
        rng = self.rng
        for plan in self.planned:
            request = plan.request
            assert request is not None
            if plan.status == "in_progress":
                lease_request_claim(
                    request=request, actor=self._user(rng.choice(("olivia", "omar")))
                )
            self._notes(plan)
            if plan.status in ("partial", "rejected") and request.is_open:
                lease_request_close(
                    request=request,
                    outcome=plan.status if request.assigned_count else "rejected",
                    note=self._close_note(plan),
                    actor=self._ops(),
                )
        self._disconnections()
        for partner in self.partners:
            if partner.spec.suspended:
                organization_set_status(
                    organization=partner.org,
                    status=Organization.Status.SUSPENDED,
                    actor=self._user("ada"),
                )

    def _notes(self, plan: _Planned) -> None:
        rng = self.rng
        request = plan.request
        assert request is not None
        language = plan.language or "any language"
        if plan.status in ("requested", "in_progress", "partial") and rng.random() < 0.6:
            text = rng.choice(INTERNAL_NOTES).format(vertical=plan.vertical, language=language)
            request_note_add(request=request, body=text, actor=self._ops())
        if plan.status == "in_progress" and rng.random() < 0.5:
            request_note_add(
                request=request,
                body=rng.choice(PROGRESS_NOTES),
                visibility="partner",
                actor=self._ops(),
            )
        recent = plan.submitted_at > self.now - timedelta(days=5)
        if plan.status == "assigned" and recent and rng.random() < 0.5:
            request_note_add(
                request=request,
                body=rng.choice(ASSIGNED_NOTES),
                visibility="partner",
                actor=self._ops(),
            )

    def _close_note(self, plan: _Planned) -> str:
        request = plan.request
        assert request is not None
        if request.assigned_count:
            return self.rng.choice(PARTIAL_NOTES).format(
                done=request.assigned_count, count=request.count
            )
        return plan.close_note or self.rng.choice(REJECT_NOTES)

    def _disconnections(self) -> None:
        """End a few leases today, one or more for each way a lease can end."""
        rng = self.rng
        active = list(
            Lease.objects.filter(
                status=Lease.Status.ASSIGNED, assigned_at__lt=self.now - timedelta(days=20)
            )
            .select_related("organization")
            .order_by("assigned_at", "id")
        )
        rng.shuffle(active)
        keys = {p.org.pk: p.key for p in self.partners}
        for lease in active[:3]:
            lease_release(lease=lease, actor=Actor.for_api_key(keys[lease.organization_id]))
        for lease in active[3:5]:
            lease_release(
                lease=lease,
                actor=self._ops(),
                reason=Lease.Reason.RELEASED_BY_OPS,
                note=rng.choice(OPS_RELEASE_NOTES),
            )
        for lease, reason in zip(active[5:7], LOST_REASONS, strict=False):
            pool_account_retire(account=lease.account, reason=reason, actor=self._ops())
        ready = list(
            PoolAccount.objects.filter(state=PoolAccount.State.READY).order_by("followers", "id")[
                :2
            ]
        )
        for account, reason in zip(ready, RETIRE_REASONS, strict=True):
            pool_account_retire(account=account, reason=reason, actor=self._ops())

    # ---- summary -------------------------------------------------------------------------

    def _summarise(self) -> None:
        result = self.result
        org_ids = [p.org.pk for p in self.partners]
        result.partners = len(org_ids)
        result.projects = Project.objects.filter(organization__in=org_ids).count()
        accounts = PoolAccount.objects.all()
        result.pool_accounts = accounts.count()
        verticals: Counter[str] = Counter()
        languages: set[str] = set()
        for tags, language in accounts.values_list("verticals", "language"):
            verticals.update(tags)
            languages.add(language)
        result.verticals = len(verticals)
        result.languages = len(languages)
        result.requests_by_status = dict(
            Counter(
                LeaseRequest.objects.filter(organization__in=org_ids).values_list(
                    "status", flat=True
                )
            )
        )
        leases = Lease.objects.filter(organization__in=org_ids)
        active = leases.filter(status=Lease.Status.ASSIGNED)
        result.active_leases = active.count()
        result.renewals_due_now = active.filter(next_renewal_at__lte=self.now).count()
        result.renewals_next_days = active.filter(
            next_renewal_at__gt=self.now, next_renewal_at__lte=self.now + timedelta(days=5)
        ).count()
        result.disconnected_by_reason = dict(
            Counter(
                leases.filter(status=Lease.Status.DISCONNECTED).values_list(
                    "disconnected_reason", flat=True
                )
            )
        )
        result.ledger_entries = sum(p.org.ledger_entries.count() for p in self.partners)

    # ---- time helpers --------------------------------------------------------------------

    def _day(self, days_ago: int, *, hour: int) -> datetime:
        day: date = self.now.date() - timedelta(days=days_ago)
        return datetime.combine(day, time(hour, self.rng.randint(0, 59)), tzinfo=UTC)

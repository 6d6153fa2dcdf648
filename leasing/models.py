"""The Lease Desk data model.

Rules that protect money and assignments live in the database as well as in the services:
a wallet can't go negative, an account can't hold two active leases, a lease period can't
be charged twice. Services take row locks in one fixed order to avoid deadlocks:
Organization -> LeaseRequest -> PoolAccount -> Lease, then the rollup rows
(leasing/services/totals.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Upper

from leasing import ids


class Organization(models.Model):
    """A partner company. Its wallet balance is a cache of the ledger's sum."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    id = models.CharField(
        primary_key=True, max_length=ids.ID_MAX_LENGTH, default=ids.new_organization_id
    )
    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    monthly_price_cents = models.PositiveIntegerField(default=15000)
    balance_cents = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_cents__gte=0), name="organization_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(monthly_price_cents__gt=0), name="organization_price_positive"
            ),
        ]
        permissions = [
            ("view_dashboard", "Can open the ops dashboard"),
            ("manage_wallet", "Can top up and adjust wallets"),
            ("set_price", "Can set a partner's price per account"),
            ("manage_api_keys", "Can issue and revoke API keys"),
            ("export_reports", "Can download CSV reports"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def accounts_covered(self) -> int:
        """How many accounts the wallet can pay for at the current price."""
        return self.balance_cents // self.monthly_price_cents


class Project(models.Model):
    id = models.CharField(
        primary_key=True, max_length=ids.ID_MAX_LENGTH, default=ids.new_project_id
    )
    # No index of its own: project_name_per_org starts with it.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="projects",
        db_index=False,
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="project_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A partner's API key. Only a SHA-256 of the secret part is stored."""

    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        PILOT = "pilot", "Pilot"
        PARTNER = "partner", "Partner"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    # The <keyid> part of lp_live_<keyid>_<secret>: public, used to find the row.
    key_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    display_prefix = models.CharField(max_length=40)
    scopes = models.JSONField(default=list)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.display_prefix}… ({self.organization_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


class PoolAccount(models.Model):
    """A warmed TikTok account in Layers' pool."""

    class Platform(models.TextChoices):
        TIKTOK = "tiktok", "TikTok"

    class State(models.TextChoices):
        WARMING = "warming", "Warming"
        READY = "ready", "Ready"
        LEASED = "leased", "Leased"
        RETIRED = "retired", "Retired"

    id = models.CharField(
        primary_key=True, max_length=ids.ID_MAX_LENGTH, default=ids.new_pool_account_id
    )
    handle = models.CharField(max_length=64)
    platform = models.CharField(max_length=16, choices=Platform.choices, default=Platform.TIKTOK)
    followers = models.PositiveIntegerField(default=0)
    # Lower-cased vertical tags and upper-case ISO country codes, for display and export.
    # PoolAccountTag mirrors them as indexed rows for filtering; services keep both in step.
    verticals = models.JSONField(default=list)
    language = models.CharField(max_length=35, blank=True)
    # Primary subtag of `language` (en for en-US): candidate ranking compares on it.
    language_primary = models.CharField(max_length=8, blank=True, editable=False)
    countries = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WARMING)
    warmed_since = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    retired_reason = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["handle"]
        constraints = [
            models.UniqueConstraint(
                "platform", Lower("handle"), name="pool_account_handle_per_platform"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["warming", "ready", "leased", "retired"]),
                name="pool_account_state_valid",
            ),
        ]
        indexes = [
            # Candidate ranking (best first within a state) and the pool list by state.
            models.Index(
                fields=["state", "-followers", "warmed_since", "id"], name="pool_state_followers"
            ),
            # Candidate ranking for a request that names a language: its speakers first.
            models.Index(
                fields=["state", "language_primary", "-followers", "warmed_since", "id"],
                name="pool_state_language",
            ),
            # The pool list, most followers first, every page; its followers range filter.
            models.Index(fields=["-followers", "id"], name="pool_followers"),
            # The pool list's language filter.
            models.Index(fields=["language_primary", "-followers", "id"], name="pool_language"),
            # The pool list sorted by handle, by newest and by longest warmed.
            models.Index(fields=["handle", "id"], name="pool_handle"),
            models.Index(fields=["-created_at", "-id"], name="pool_newest"),
            models.Index(fields=["warmed_since", "id"], name="pool_warmed"),
            # On PostgreSQL, migration 0004 adds a trigram index on UPPER(handle) for the
            # pool's handle search (pool_handle_trgm) and a byte-order index on
            # LOWER(handle) for the header search's handle prefixes (pool_handle_prefix);
            # migration 0006 a GIN index on countries for candidate ranking by country
            # (pool_countries_gin).
        ]
        permissions = [("manage_pool", "Can change pool account states and import accounts")]

    def __str__(self) -> str:
        return f"@{self.handle}"


class PoolAccountTag(models.Model):
    """Indexed copy of an account's verticals and countries, for filtering at scale."""

    class Kind(models.TextChoices):
        VERTICAL = "vertical", "Vertical"
        COUNTRY = "country", "Country"

    # Indexed by pool_tag_account below, which also covers kind and value.
    account = models.ForeignKey(
        PoolAccount, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=64)

    class Meta:
        constraints = [
            # Doubles as the index for "accounts tagged coffee" (candidates, pool filters).
            models.UniqueConstraint(fields=["kind", "value", "account"], name="pool_tag_unique"),
        ]
        indexes = [
            # "Is this account tagged BR?" while the pool list walks accounts by followers:
            # answered from the index alone. Also an account's own tags (its page, edits).
            models.Index(fields=["account", "kind", "value"], name="pool_tag_account"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class LeaseRequest(models.Model):
    """A partner's request for `count` accounts in a niche."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        IN_PROGRESS = "in_progress", "In progress"
        ASSIGNED = "assigned", "Assigned"
        PARTIAL = "partial", "Partial"
        REJECTED = "rejected", "Rejected"

    OPEN_STATUSES = (Status.REQUESTED, Status.IN_PROGRESS)
    CLOSED_STATUSES = (Status.ASSIGNED, Status.PARTIAL, Status.REJECTED)

    id = models.CharField(
        primary_key=True, max_length=ids.ID_MAX_LENGTH, default=ids.new_lease_request_id
    )
    # No index of its own: request_by_organization starts with it.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="lease_requests",
        db_index=False,
    )
    # No index of its own: request_project_newest starts with it.
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="lease_requests", db_index=False
    )
    # The id the partner sees: their own requestId, or our lreq_ id when they sent none.
    request_key = models.CharField(max_length=64)
    count = models.PositiveSmallIntegerField()
    vertical = models.CharField(max_length=64)
    audience = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=35, blank=True)
    geo = models.JSONField(default=list)
    target = models.CharField(max_length=2000, blank=True)
    partner_note = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    assigned_count = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField()
    first_assigned_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claimed_requests",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A copy of the request's latest note (the first by created_at DESC, id DESC), kept by
    # the services that add notes in the same transaction, so the queue reads two columns
    # instead of searching the notes of every row it shows. "" when there is no note yet.
    latest_note = models.TextField(max_length=2000, blank=True, default="")
    latest_note_visibility = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "request_key"], name="lease_request_key_per_org"
            ),
            models.CheckConstraint(
                condition=Q(count__gte=1, count__lte=50), name="lease_request_count_1_50"
            ),
            models.CheckConstraint(
                condition=Q(assigned_count__lte=F("count")),
                name="lease_request_assigned_within_count",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "in_progress"], closed_at__isnull=True)
                | Q(status__in=["assigned", "partial", "rejected"], closed_at__isnull=False),
                name="lease_request_closed_at_matches_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="assigned") | Q(assigned_count=F("count")),
                name="lease_request_assigned_is_full",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(assigned_count=0),
                name="lease_request_rejected_has_none",
            ),
            models.CheckConstraint(
                condition=~Q(status="partial") | Q(assigned_count__gte=1),
                name="lease_request_partial_has_some",
            ),
            # The latest note's copy is either empty on both columns or a real note.
            models.CheckConstraint(
                condition=Q(latest_note="", latest_note_visibility="")
                | (Q(latest_note_visibility__in=["internal", "partner"]) & ~Q(latest_note="")),
                name="lease_request_latest_note_is_a_note",
            ),
        ]
        indexes = [
            # The ops queue for one status, oldest (or newest) first, any page.
            models.Index(fields=["status", "submitted_at", "id"], name="request_queue"),
            # The queue's landing view: the open requests, oldest first, any page.
            models.Index(
                fields=["submitted_at", "id"],
                condition=Q(status__in=["requested", "in_progress"]),
                name="request_open_queue",
            ),
            # The queue over every status (the "All" tab), by age either way.
            models.Index(fields=["submitted_at", "id"], name="request_time"),
            # The queue sorted by most accounts.
            models.Index(fields=["-count", "submitted_at", "id"], name="request_by_count"),
            # The queue filtered by partner or sorted by partner, and the partner page.
            models.Index(
                fields=["organization", "submitted_at", "id"], name="request_by_organization"
            ),
            # The partner page and the partner list: a partner's open requests.
            models.Index(
                fields=["organization", "project"],
                condition=Q(status__in=["requested", "in_progress"]),
                name="request_open_by_organization",
            ),
            # The queue's vertical filter (case-insensitive).
            models.Index(Upper("vertical"), F("submitted_at"), F("id"), name="request_vertical"),
            # The API's per-project list, newest first.
            models.Index(fields=["project", "-id"], name="request_project_newest"),
            # The supply board's open demand per vertical and language, read from the
            # index alone (INCLUDE is PostgreSQL's; SQLite keeps the partial index).
            models.Index(
                fields=["vertical", "language"],
                include=["count", "assigned_count"],
                condition=Q(status__in=["requested", "in_progress"]),
                name="request_open_demand",
            ),
            # On PostgreSQL, migration 0004 adds the queue's language filter index (a
            # case-insensitive prefix: en matches en-US; request_language) and trigram
            # indexes for its search and country filter (request_key_trgm,
            # request_target_trgm, request_geo_trgm).
        ]
        permissions = [
            ("triage_request", "Can claim, assign, close requests"),
            ("add_internal_note", "Can add internal notes to requests"),
            ("add_partner_note", "Can add partner-visible notes to requests"),
        ]

    def __str__(self) -> str:
        return self.request_key

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def remaining(self) -> int:
        return self.count - self.assigned_count

    @property
    def api_status(self) -> str:
        # Partners see work-in-progress as still requested.
        if self.status == self.Status.IN_PROGRESS:
            return self.Status.REQUESTED.value
        return str(self.status)


class RequestNote(models.Model):
    class Visibility(models.TextChoices):
        INTERNAL = "internal", "Internal"
        PARTNER = "partner", "Partner-visible"

    # No index of its own: note_by_request starts with it.
    request = models.ForeignKey(
        LeaseRequest, on_delete=models.CASCADE, related_name="notes", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField(max_length=2000)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Request page timeline and the API's latest partner-visible note.
            models.Index(fields=["request", "visibility", "-created_at"], name="note_by_request"),
        ]

    def __str__(self) -> str:
        return self.body[:60]


class Lease(models.Model):
    """One pool account assigned to one project, billed monthly until disconnected."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        DISCONNECTED = "disconnected", "Disconnected"

    class Reason(models.TextChoices):
        RELEASED_BY_PARTNER = "released_by_partner", "Released by partner"
        RELEASED_BY_OPS = "released_by_ops", "Released by ops"
        BILLING_EXHAUSTED = "billing_exhausted", "Billing exhausted"
        ACCOUNT_LOST = "account_lost", "Account lost"

    account = models.ForeignKey(PoolAccount, on_delete=models.PROTECT, related_name="leases")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="leases")
    # No index of its own: lease_project_list starts with it.
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="leases", db_index=False
    )
    request = models.ForeignKey(
        LeaseRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="leases"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSIGNED)
    assigned_at = models.DateTimeField()
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    monthly_price_cents = models.PositiveIntegerField()
    # Periods are numbered from 0 (charged at assignment); period n starts at
    # assigned_at + n calendar months, so renewals never drift (Jan 31 -> Feb 28 -> Mar 31).
    periods_charged = models.PositiveIntegerField(default=1)
    next_renewal_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    disconnected_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    disconnected_note = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="assigned"),
                name="one_active_lease_per_account",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        status="assigned",
                        next_renewal_at__isnull=False,
                        disconnected_at__isnull=True,
                        disconnected_reason="",
                    )
                    | Q(
                        status="disconnected",
                        next_renewal_at__isnull=True,
                        disconnected_at__isnull=False,
                    )
                    & ~Q(disconnected_reason="")
                ),
                name="lease_status_fields_consistent",
            ),
            models.CheckConstraint(
                condition=Q(monthly_price_cents__gt=0), name="lease_price_positive"
            ),
        ]
        indexes = [
            # The renewal job: active leases due by now.
            models.Index(
                fields=["next_renewal_at"],
                condition=Q(status="assigned"),
                name="lease_renewal_due",
            ),
            # API list of a project's leased accounts, oldest assignment first.
            models.Index(fields=["project", "status", "assigned_at"], name="lease_project_list"),
            # The partner page's active leases (next renewal first) and renewals by day, and
            # the refresh of an organization's LeaseTotals. The price is a key column so
            # the sums are index-only (SQLite has no INCLUDE).
            models.Index(
                fields=["organization", "next_renewal_at", "id", "monthly_price_cents"],
                condition=Q(status="assigned"),
                name="lease_org_active",
            ),
            # The partner page's ended leases, latest first.
            models.Index(
                fields=["organization", "-disconnected_at", "-id"],
                condition=Q(status="disconnected"),
                name="lease_org_ended",
            ),
            # Renewals page: the latest leases that ended for a reason (billing failures).
            models.Index(
                fields=["disconnected_reason", "-disconnected_at"],
                condition=Q(status="disconnected"),
                name="lease_ended_recent",
            ),
        ]
        permissions = [("release_lease", "Can release leases")]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.project_id} ({self.status})"


class LedgerEntry(models.Model):
    """Append-only wallet ledger. Charges are negative amounts, top-ups positive."""

    class Kind(models.TextChoices):
        TOP_UP = "top_up", "Top-up"
        LEASE_CHARGE = "lease_charge", "Lease charge"
        RENEWAL_CHARGE = "renewal_charge", "Renewal charge"
        ADJUSTMENT = "adjustment", "Adjustment"
        REFUND = "refund", "Refund"

    # No index of its own: ledger_org_time starts with it.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_cents = models.BigIntegerField()
    balance_after_cents = models.BigIntegerField()
    memo = models.CharField(max_length=500)
    lease = models.ForeignKey(
        Lease, null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    # The lease period this entry pays for (0 = the assignment month); charges only.
    period = models.PositiveIntegerField(null=True, blank=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["lease", "period"],
                condition=Q(kind__in=["lease_charge", "renewal_charge"]),
                name="one_charge_per_lease_period",
            ),
            models.CheckConstraint(
                condition=Q(balance_after_cents__gte=0), name="ledger_balance_after_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["top_up", "refund"], amount_cents__gt=0)
                    | Q(
                        kind__in=["lease_charge", "renewal_charge"],
                        amount_cents__lt=0,
                        lease__isnull=False,
                        period__isnull=False,
                    )
                    | (Q(kind="adjustment") & ~Q(amount_cents=0))
                ),
                name="ledger_amount_sign_matches_kind",
            ),
        ]
        indexes = [
            # Partner page ledger and the ledger CSV for a date range.
            models.Index(fields=["organization", "created_at"], name="ledger_org_time"),
            # Ledger CSV for a date range across every partner.
            models.Index(fields=["created_at"], name="ledger_time"),
            # Renewals page (latest renewal charges) and burn month by month (charges in a
            # date range).
            models.Index(fields=["kind", "created_at"], name="ledger_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents}"


class LeaseTotals(models.Model):
    """An organization's active leases summed up: a cache of its Lease rows.

    The partner list sorts and filters thousands of partners by burn, runway and next
    renewal; summing their active leases on every view would read every active lease.
    Every service that starts, renews or ends a lease refreshes this row from the leases
    in the same transaction (`lease_totals_refresh`), and the invariants check it.
    """

    organization = models.OneToOneField(
        Organization, primary_key=True, on_delete=models.CASCADE, related_name="lease_totals"
    )
    active_leases = models.PositiveIntegerField(default=0)
    burn_cents = models.BigIntegerField(default=0)
    # The earliest renewal of an active lease, and what every renewal on that UTC day costs.
    next_renewal_at = models.DateTimeField(null=True, blank=True)
    next_renewal_cents = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "lease totals"

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.active_leases} active"


class LedgerMonth(models.Model):
    """Lease charges per organization and calendar month (UTC): a rollup of the ledger.

    The partner page charts a year of burn; for a big partner that is hundreds of
    thousands of ledger rows. `ledger_post` adds every charge here in the same
    transaction, and the invariants check the rollup against the ledger.
    """

    # No index of its own: ledger_month_unique starts with it.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="ledger_months",
        db_index=False,
    )
    month = models.DateField()  # the first day of the month
    charges = models.PositiveIntegerField(default=0)
    charged_cents = models.BigIntegerField(default=0)  # positive: what was charged

    class Meta:
        constraints = [
            # Doubles as the index for the partner page's burn chart.
            models.UniqueConstraint(fields=["organization", "month"], name="ledger_month_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.month:%Y-%m}: {self.charged_cents}"


class ReadySupply(models.Model):
    """Ready pool accounts per vertical tag and primary language: a rollup of the pool.

    The supply and demand page sets a million accounts' tags against open demand; counting
    them on every view joins every ready account's tags. Every service that makes an
    account ready or takes it out of ready adds it here in the same transaction, and the
    invariants check the rollup against the pool. A row that drops to zero is deleted.
    """

    vertical = models.CharField(max_length=64)
    language = models.CharField(max_length=8, blank=True)  # PoolAccount.language_primary
    accounts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "ready supply"
        constraints = [
            # The services' upsert relies on it; also the order the page reads rows in.
            models.UniqueConstraint(fields=["vertical", "language"], name="ready_supply_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.vertical}/{self.language or '?'}: {self.accounts} ready"


class RenewalDayTotals(models.Model):
    """An organization's active leases renewing on one UTC day: a rollup of its leases.

    The renewals page lists what renews per day and partner; grouping every active lease
    by day on each view reads all of them. The services move a lease's count and price
    here whenever it starts, renews or ends, in the same transaction, and the invariants
    check the rollup against the leases. A row that drops to zero is deleted.
    """

    # No index of its own: renewal_day_unique starts with it.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="renewal_days",
        db_index=False,
    )
    day = models.DateField()
    leases = models.PositiveIntegerField(default=0)
    cents = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "renewal day totals"
        constraints = [
            # The services' upsert relies on it.
            models.UniqueConstraint(fields=["organization", "day"], name="renewal_day_unique"),
        ]
        indexes = [
            # The renewals page: every partner's renewals up to the end of its window.
            models.Index(fields=["day"], name="renewal_day_by_day"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}: {self.leases} renewal(s)"


# How many rows OpenRequestTotals splits each open status's count over (ids.id_shard).
OPEN_REQUEST_SHARDS = 16


class OpenRequestTotals(models.Model):
    """Open lease requests per status, split over a few shard rows: a rollup of the queue.

    The queue's status tabs show how many requests are open in each status on every page
    view; counting them grows with the backlog. Every service that creates a request or
    changes its status moves it here in the same transaction, and the invariants check
    the rollup against the requests. A request always counts on the shard of its id, so
    requests arriving from many partners at once do not queue on one row. A row that
    drops to zero is deleted.
    """

    status = models.CharField(
        max_length=16, choices=[(s.value, s.label) for s in LeaseRequest.OPEN_STATUSES]
    )
    shard = models.SmallIntegerField()
    requests = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "open request totals"
        constraints = [
            # The services' upsert relies on it.
            models.UniqueConstraint(fields=["status", "shard"], name="open_request_totals_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "in_progress"]),
                name="open_request_totals_status_open",
            ),
            models.CheckConstraint(
                condition=Q(shard__gte=0, shard__lt=OPEN_REQUEST_SHARDS),
                name="open_request_totals_shard_in_range",
            ),
            models.CheckConstraint(
                condition=Q(requests__gte=0), name="open_request_totals_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status}/{self.shard}: {self.requests} open"


class AuditEvent(models.Model):
    """Who changed what. Written in the same transaction as the change."""

    class ActorType(models.TextChoices):
        USER = "user", "Staff user"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"

    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # No index of its own: audit_actor starts with it.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    # No index of its own: audit_org starts with it.
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # An object's history (request timeline, account page).
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object"),
            # The partner page and the audit log filtered by partner.
            models.Index(fields=["organization", "-created_at"], name="audit_org"),
            models.Index(fields=["action", "-created_at"], name="audit_action"),
            # The audit log page, newest first, and its date filter.
            models.Index(fields=["-created_at", "-id"], name="audit_time"),
            # The audit log filtered by a staff user.
            models.Index(fields=["actor_user", "-created_at"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class IdempotencyRecord(models.Model):
    """A POST's Idempotency-Key: in flight, or its stored 2xx response for 24 hours."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    # No index of its own: idempotency_key_per_org starts with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_per_org"),
        ]
        # The purge job deletes expired keys.
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expiry")]

    def __str__(self) -> str:
        return self.key


class RateLimitWindow(models.Model):
    """Per-key, per-endpoint-class call count in one fixed one-minute window."""

    # No index of its own: rate_window_unique starts with it.
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+", db_index=False)
    endpoint_class = models.CharField(max_length=16)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "endpoint_class", "window_start"], name="rate_window_unique"
            ),
        ]
        indexes = [models.Index(fields=["window_start"], name="rate_window_purge")]

    def __str__(self) -> str:
        return f"{self.api_key_id}/{self.endpoint_class}@{self.window_start}"


class ApiCallLog(models.Model):
    """One partner API call, kept 30 days so support can answer "why did my call fail"."""

    request_id = models.CharField(max_length=32, unique=True)
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # No index of its own: apicall_org_time starts with it.
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=32, blank=True)
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Partner page: latest calls.
            models.Index(fields=["organization", "-created_at"], name="apicall_org_time"),
            # Retention purge.
            models.Index(fields=["created_at"], name="apicall_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.method} {self.path} {self.status}"


def model_snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """A JSON-safe picture of some fields, for audit before/after."""
    data: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        data[name] = value
    return data

# Indexes for the dashboard at scale (issue 6: a million pool accounts), and two rollups
# the partner list and partner page read instead of every lease and ledger row.
#
# Trigram and pattern indexes exist on PostgreSQL only; on SQLite those operations do
# nothing, so the app still migrates and runs there (its lists are small).

from datetime import UTC, datetime, time, timedelta

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models
from django.db.models import Count, Min, Sum
from django.db.models.functions import TruncMonth


class TrigramExtensionOnPostgres(TrigramExtension):
    """pg_trgm; Django's operation skips other databases going forwards but not back."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class RunSQLOnPostgres(migrations.RunSQL):
    """RunSQL that does nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


# (name, table, definition): the queue's search and country filter, its language prefix
# filter, and the handle search of the pool list and the header search.
POSTGRES_INDEXES = [
    ("pool_handle_trgm", "leasing_poolaccount", "USING gin (UPPER(handle) gin_trgm_ops)"),
    # Header search: handles by prefix, in order (a btree in byte order serves both).
    ("pool_handle_prefix", "leasing_poolaccount", '((LOWER(handle) COLLATE "C"), id)'),
    ("request_key_trgm", "leasing_leaserequest", "USING gin (UPPER(request_key) gin_trgm_ops)"),
    ("request_target_trgm", "leasing_leaserequest", "USING gin (UPPER(target) gin_trgm_ops)"),
    ("request_geo_trgm", "leasing_leaserequest", "USING gin (UPPER(geo::text) gin_trgm_ops)"),
    ("request_language", "leasing_leaserequest", "(UPPER(language) text_pattern_ops)"),
]


def backfill_rollups(apps, schema_editor):
    """LeaseTotals and LedgerMonth for the rows that exist already."""
    Lease = apps.get_model("leasing", "Lease")
    LeaseTotals = apps.get_model("leasing", "LeaseTotals")
    LedgerEntry = apps.get_model("leasing", "LedgerEntry")
    LedgerMonth = apps.get_model("leasing", "LedgerMonth")
    active = Lease.objects.filter(status="assigned")
    totals = []
    for row in active.values("organization").annotate(
        n=Count("*"), burn=Sum("monthly_price_cents"), first=Min("next_renewal_at")
    ):
        start = datetime.combine(row["first"].astimezone(UTC).date(), time.min, tzinfo=UTC)
        day = active.filter(
            organization=row["organization"],
            next_renewal_at__gte=start,
            next_renewal_at__lt=start + timedelta(days=1),
        )
        totals.append(
            LeaseTotals(
                organization_id=row["organization"],
                active_leases=row["n"],
                burn_cents=row["burn"],
                next_renewal_at=row["first"],
                next_renewal_cents=day.aggregate(s=Sum("monthly_price_cents"))["s"] or 0,
            )
        )
    LeaseTotals.objects.bulk_create(totals, batch_size=1000)
    months = (
        LedgerEntry.objects.filter(kind__in=["lease_charge", "renewal_charge"])
        .annotate(month=TruncMonth("created_at", tzinfo=UTC))
        .values("organization", "month")
        .annotate(n=Count("*"), cents=Sum("amount_cents"))
        .order_by()
    )
    LedgerMonth.objects.bulk_create(
        [
            LedgerMonth(
                organization_id=row["organization"],
                month=row["month"].date() if hasattr(row["month"], "date") else row["month"],
                charges=row["n"],
                charged_cents=-row["cents"],
            )
            for row in months
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('leasing', '0003_console_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LeaseTotals',
            fields=[
                ('organization', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='lease_totals', serialize=False, to='leasing.organization')),
                ('active_leases', models.PositiveIntegerField(default=0)),
                ('burn_cents', models.BigIntegerField(default=0)),
                ('next_renewal_at', models.DateTimeField(blank=True, null=True)),
                ('next_renewal_cents', models.BigIntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'lease totals',
            },
        ),
        migrations.CreateModel(
            name='LedgerMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('charges', models.PositiveIntegerField(default=0)),
                ('charged_cents', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='lease',
            name='lease_org_status',
        ),
        migrations.RemoveIndex(
            model_name='leaserequest',
            name='request_queue',
        ),
        migrations.RemoveIndex(
            model_name='poolaccount',
            name='pool_state_followers',
        ),
        migrations.AddIndex(
            model_name='lease',
            index=models.Index(condition=models.Q(('status', 'assigned')), fields=['organization', 'next_renewal_at', 'id', 'monthly_price_cents'], name='lease_org_active'),
        ),
        migrations.AddIndex(
            model_name='lease',
            index=models.Index(condition=models.Q(('status', 'disconnected')), fields=['organization', '-disconnected_at', '-id'], name='lease_org_ended'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(fields=['status', 'submitted_at', 'id'], name='request_queue'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(condition=models.Q(('status__in', ['requested', 'in_progress'])), fields=['submitted_at', 'id'], name='request_open_queue'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(fields=['submitted_at', 'id'], name='request_time'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(fields=['-count', 'submitted_at', 'id'], name='request_by_count'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(fields=['organization', 'submitted_at', 'id'], name='request_by_organization'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(condition=models.Q(('status__in', ['requested', 'in_progress'])), fields=['organization', 'project'], name='request_open_by_organization'),
        ),
        migrations.AddIndex(
            model_name='leaserequest',
            index=models.Index(django.db.models.functions.text.Upper('vertical'), models.F('submitted_at'), models.F('id'), name='request_vertical'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['state', '-followers', 'warmed_since', 'id'], name='pool_state_followers'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['state', 'language_primary', '-followers', 'warmed_since', 'id'], name='pool_state_language'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['-followers', 'id'], name='pool_followers'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['language_primary', '-followers', 'id'], name='pool_language'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['handle', 'id'], name='pool_handle'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['-created_at', '-id'], name='pool_newest'),
        ),
        migrations.AddIndex(
            model_name='poolaccount',
            index=models.Index(fields=['warmed_since', 'id'], name='pool_warmed'),
        ),
        migrations.AddField(
            model_name='ledgermonth',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ledger_months', to='leasing.organization'),
        ),
        migrations.AddConstraint(
            model_name='ledgermonth',
            constraint=models.UniqueConstraint(fields=('organization', 'month'), name='ledger_month_unique'),
        ),
        TrigramExtensionOnPostgres(),
        *[
            RunSQLOnPostgres(
                sql=f"CREATE INDEX {name} ON {table} {definition}",
                reverse_sql=f"DROP INDEX IF EXISTS {name}",
            )
            for name, table, definition in POSTGRES_INDEXES
        ],
        migrations.RunPython(backfill_rollups, migrations.RunPython.noop),
    ]

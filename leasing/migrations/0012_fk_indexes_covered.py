"""Indexes the database kept up for nothing.

- A foreign key whose table has an index (or unique constraint) starting with that key
  needs no index of its own: the longer one answers the same lookups.
- On PostgreSQL, Django gives every indexed text column a second, varchar_pattern_ops
  index for LIKE 'prefix%'. Nothing looks up ids with LIKE (an id typed in any case is
  rewritten to its exact form, leasing.filters.as_public_id), so those copies only cost
  every insert and update, and planning time on every query of their tables (the queue's
  page of rows was planned in 1.1 ms with them and 0.7 ms without).

tests/perf/test_indexes.py keeps both rules for new fields.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column, index): the pattern-ops copies of ids that keep an index of their own.
LIKE_INDEXES = [
    ("leasing_apicalllog", "request_id", "leasing_apicalllog_request_id_e528de1a_like"),
    ("leasing_apikey", "key_id", "leasing_apikey_key_id_c649ee74_like"),
    ("leasing_apikey", "organization_id", "leasing_apikey_organization_id_2f5f5da3_like"),
    ("leasing_lease", "account_id", "leasing_lease_account_id_f94754a1_like"),
    ("leasing_lease", "organization_id", "leasing_lease_organization_id_d2ac37ea_like"),
    ("leasing_lease", "request_id", "leasing_lease_request_id_191e17f8_like"),
    ("leasing_leaserequest", "id", "leasing_leaserequest_id_517ea1f0_like"),
    ("leasing_leasetotals", "organization_id", "leasing_leasetotals_organization_id_c0fce9be_like"),
    ("leasing_organization", "id", "leasing_organization_id_f91d0848_like"),
    ("leasing_poolaccount", "id", "leasing_poolaccount_id_bc02e2e6_like"),
    ("leasing_project", "id", "leasing_project_id_ffa851c6_like"),
]


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, index in LIKE_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(index)}")


def create_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table, column, index in LIKE_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {quote(table)} "
            f"({quote(column)} varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leasing", "0011_lease_request_latest_note"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="apicalllog",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor_user",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="lease",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="leases",
                to="leasing.project",
            ),
        ),
        migrations.AlterField(
            model_name="leaserequest",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lease_requests",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="leaserequest",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lease_requests",
                to="leasing.project",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="ledgermonth",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ledger_months",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="project",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="projects",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="ratelimitwindow",
            name="api_key",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="leasing.apikey",
            ),
        ),
        migrations.AlterField(
            model_name="renewaldaytotals",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="renewal_days",
                to="leasing.organization",
            ),
        ),
        migrations.AlterField(
            model_name="requestnote",
            name="request",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notes",
                to="leasing.leaserequest",
            ),
        ),
        migrations.RunPython(drop_like_indexes, create_like_indexes),
    ]

# Two rollups the services keep in the transaction of each change (issue 6, scale): ready
# accounts per vertical tag and language for the supply and demand page, and active leases
# per organization and UTC renewal day for the renewals page. Filled here from the rows
# that exist, with one INSERT ... SELECT each, so the pages are right straight after
# migrate (about a second for a million pool accounts).

from datetime import UTC

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate


def _insert_from(schema_editor, model, columns, source):
    select, params = source.query.sql_with_params()
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join(quote(c) for c in columns)}) {select}",
            params,
        )


def fill_rollups(apps, schema_editor):
    PoolAccountTag = apps.get_model("leasing", "PoolAccountTag")
    ReadySupply = apps.get_model("leasing", "ReadySupply")
    Lease = apps.get_model("leasing", "Lease")
    RenewalDayTotals = apps.get_model("leasing", "RenewalDayTotals")
    ready = (
        PoolAccountTag.objects.filter(kind="vertical", account__state="ready")
        .values_list("value", "account__language_primary")
        .annotate(n=Count("*"))
        .order_by()
    )
    _insert_from(schema_editor, ReadySupply, ["vertical", "language", "accounts"], ready)
    renewing = (
        Lease.objects.filter(status="assigned")
        .values_list("organization", TruncDate("next_renewal_at", tzinfo=UTC))
        .annotate(n=Count("*"), cents=Sum("monthly_price_cents"))
        .order_by()
    )
    _insert_from(
        schema_editor, RenewalDayTotals, ["organization_id", "day", "leases", "cents"], renewing
    )


class Migration(migrations.Migration):

    dependencies = [
        ('leasing', '0007_pool_tag_account_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReadySupply',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('vertical', models.CharField(max_length=64)),
                ('language', models.CharField(blank=True, max_length=8)),
                ('accounts', models.PositiveIntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'ready supply',
                'constraints': [models.UniqueConstraint(fields=('vertical', 'language'), name='ready_supply_unique')],
            },
        ),
        migrations.CreateModel(
            name='RenewalDayTotals',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('leases', models.PositiveIntegerField(default=0)),
                ('cents', models.BigIntegerField(default=0)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='renewal_days', to='leasing.organization')),
            ],
            options={
                'verbose_name_plural': 'renewal day totals',
                'indexes': [models.Index(fields=['day'], name='renewal_day_by_day')],
                'constraints': [models.UniqueConstraint(fields=('organization', 'day'), name='renewal_day_unique')],
            },
        ),
        migrations.RunPython(fill_rollups, migrations.RunPython.noop, elidable=True),
    ]

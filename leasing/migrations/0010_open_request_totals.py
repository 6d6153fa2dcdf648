# Open lease requests per status, over 16 shard rows each, for the queue's status tabs
# (the GROUP BY over every open request grew with the backlog). The services keep it in
# the transaction of each change; filled here from the requests that exist, so the tabs
# are right straight after migrate. The requests are grouped in the database by status and
# the id's last character (at most 64 groups), which decides the shard: by the services'
# own rule (leasing.ids.id_shard), so the rows filled here are the rows they move.

from collections import Counter

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Right

from leasing.ids import id_shard

SHARDS = 16
OPEN_STATUSES = ["requested", "in_progress"]


def fill_open_request_totals(apps, schema_editor):
    LeaseRequest = apps.get_model("leasing", "LeaseRequest")
    OpenRequestTotals = apps.get_model("leasing", "OpenRequestTotals")
    db = schema_editor.connection.alias
    tails = (
        LeaseRequest.objects.using(db)
        .filter(status__in=OPEN_STATUSES)
        .annotate(tail=Right("id", 1))
        .values_list("status", "tail")
        .annotate(n=Count("*"))
        .order_by()
    )
    counted = Counter()
    for status, tail, n in tails:
        counted[(status, id_shard(tail, SHARDS))] += n
    OpenRequestTotals.objects.using(db).bulk_create(
        OpenRequestTotals(status=status, shard=shard, requests=n)
        for (status, shard), n in sorted(counted.items())
    )


class Migration(migrations.Migration):

    dependencies = [
        ('leasing', '0009_supply_demand_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='OpenRequestTotals',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('requested', 'Requested'), ('in_progress', 'In progress')], max_length=16)),
                ('shard', models.SmallIntegerField()),
                ('requests', models.IntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'open request totals',
                'constraints': [models.UniqueConstraint(fields=('status', 'shard'), name='open_request_totals_unique'), models.CheckConstraint(condition=models.Q(('status__in', ['requested', 'in_progress'])), name='open_request_totals_status_open'), models.CheckConstraint(condition=models.Q(('shard__gte', 0), ('shard__lt', 16)), name='open_request_totals_shard_in_range'), models.CheckConstraint(condition=models.Q(('requests__gte', 0)), name='open_request_totals_not_negative')],
            },
        ),
        # Backwards, the table is dropped by undoing CreateModel: nothing to empty first.
        migrations.RunPython(
            fill_open_request_totals, migrations.RunPython.noop, elidable=True
        ),
    ]

# The pool list's tag filters probe an account's tags while walking accounts by followers:
# one index on (account, kind, value) answers that from the index alone and replaces the
# two plain indexes Django made for the foreign key.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leasing', '0006_pool_countries_gin'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='poolaccounttag',
            index=models.Index(fields=['account', 'kind', 'value'], name='pool_tag_account'),
        ),
        migrations.AlterField(
            model_name='poolaccounttag',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tags', to='leasing.poolaccount'),
        ),
    ]

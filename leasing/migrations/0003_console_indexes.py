# Indexes for the console pages of issue 5 (audit log, renewals, ledger and burn reports).

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leasing', '0002_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['-created_at', '-id'], name='audit_time'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor_user', '-created_at'], name='audit_actor'),
        ),
        migrations.AddIndex(
            model_name='lease',
            index=models.Index(condition=models.Q(('status', 'disconnected')), fields=['disconnected_reason', '-disconnected_at'], name='lease_ended_recent'),
        ),
        migrations.AddIndex(
            model_name='ledgerentry',
            index=models.Index(fields=['created_at'], name='ledger_time'),
        ),
        migrations.AddIndex(
            model_name='ledgerentry',
            index=models.Index(fields=['kind', 'created_at'], name='ledger_kind_time'),
        ),
    ]

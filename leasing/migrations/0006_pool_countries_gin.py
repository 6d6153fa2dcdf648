# Candidate ranking for a request that names countries tests each ready account's own list
# of countries (leasing/services/allocation.py, _shortlist). A GIN index on that list lets
# PostgreSQL find the accounts of a rare country directly instead of walking the ready
# accounts. PostgreSQL only; nothing on SQLite.

from django.db import migrations


class RunSQLOnPostgres(migrations.RunSQL):
    """RunSQL that does nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("leasing", "0005_append_only_history")]

    operations = [
        RunSQLOnPostgres(
            sql=(
                "CREATE INDEX pool_countries_gin ON leasing_poolaccount "
                "USING gin (countries jsonb_path_ops)"
            ),
            reverse_sql="DROP INDEX IF EXISTS pool_countries_gin",
        ),
    ]

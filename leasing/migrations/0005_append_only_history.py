# The ledger and the audit log are append-only: on PostgreSQL a trigger refuses any UPDATE
# or DELETE of their rows, whoever sends it (a bug, a shell, a hand-written query). The
# services only ever insert. TRUNCATE (a test database being flushed) is not a row change
# and still works. A transaction that must rewrite history on purpose (a test setting up
# back-dated entries) says so first with SET LOCAL lease_desk.rewrite_history = 'on'.
#
# SQLite has no such triggers here; there the services and the read-only admin are the
# guard.

from django.db import migrations

TABLES = ("leasing_ledgerentry", "leasing_auditevent")

CREATE = """
CREATE OR REPLACE FUNCTION lease_desk_refuse_history_rewrite() RETURNS trigger AS $$
BEGIN
    IF current_setting('lease_desk.rewrite_history', true) = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""
TRIGGER = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION lease_desk_refuse_history_rewrite();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
DROP = "DROP FUNCTION IF EXISTS lease_desk_refuse_history_rewrite();"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # params=None: the function body's % signs are RAISE placeholders, not query ones.
    schema_editor.execute(CREATE, params=None)
    for table in TABLES:
        schema_editor.execute(TRIGGER.format(table=table), params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(DROP_TRIGGER.format(table=table))
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("leasing", "0004_scale_indexes_and_rollups")]
    operations = [migrations.RunPython(forwards, backwards)]

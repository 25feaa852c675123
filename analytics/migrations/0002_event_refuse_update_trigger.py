"""PostgreSQL refuses UPDATE on analytics_event, whoever issues it (defence in depth behind the ORM).

Deletes stay possible: the retention clean-up and a workspace's deletion remove rows.
SQLite (the `make run` default) gets no trigger.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION analytics_event_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'analytics_event is append-only: UPDATE refused' USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER analytics_event_append_only BEFORE UPDATE ON analytics_event
    FOR EACH ROW EXECUTE FUNCTION analytics_event_refuse_update();
"""

DROP = """
DROP TRIGGER IF EXISTS analytics_event_append_only ON analytics_event;
DROP FUNCTION IF EXISTS analytics_event_refuse_update();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]

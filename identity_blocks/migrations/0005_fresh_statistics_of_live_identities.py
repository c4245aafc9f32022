"""Statistics of the assignments table taken again after every thousand changes.

The hot lookups (a holder's live identity, the identity an IMPU names) run as prepared
statements with one generic plan (portal.prepared), which PostgreSQL makes from the table's
statistics. Taken while few identities were live (a quiet hour), they made every lookup read
all live assignments through an index of live rows once the desk got busy again (121 rows a
message with 121 live, in a test). autovacuum analyzes a table after 10 % of its rows change:
with years of released assignments behind it, the busy hours would be over first.
"""

from django.db import migrations

TABLE = "identity_blocks_identityassignment"


def analyze_often(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000)"
        )


def as_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [("identity_blocks", "0004_case_insensitive_identity_lookups")]

    operations = [migrations.RunPython(analyze_often, as_default)]

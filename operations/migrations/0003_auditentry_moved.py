"""AuditEntry now belongs to the audit app (audit 0001 took over its table); only state changes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0002_ops_group"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]

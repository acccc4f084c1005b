"""Alert now belongs to alerts, ManagedJob and JobRun to scheduler (their 0001 took over the
tables); only Django's state changes here, no table is touched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("queueops", "0002_action_permissions"),
        ("alerts", "0001_initial"),
        ("scheduler", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Alert"),
                migrations.DeleteModel(name="ManagedJob"),
                migrations.DeleteModel(name="JobRun"),
            ],
            database_operations=[],
        ),
    ]

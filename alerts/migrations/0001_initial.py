"""Alert moves from queueops to alerts: the table stays (queueops_alert), only Django's state moves,
so no row is copied and nothing is lost (as audit 0001 did for AuditEntry)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("queueops", "0002_action_permissions"),  # the table is created by queueops 0001
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "key",
                            models.CharField(
                                db_index=True, help_text="What the alert is about.", max_length=200
                            ),
                        ),
                        (
                            "open_key",
                            models.CharField(
                                blank=True, editable=False, max_length=200, null=True, unique=True
                            ),
                        ),
                        ("source", models.CharField(blank=True, max_length=100)),
                        (
                            "severity",
                            models.CharField(
                                choices=[("warning", "warning"), ("critical", "critical")],
                                default="critical",
                                max_length=20,
                            ),
                        ),
                        ("summary", models.CharField(max_length=500)),
                        ("detail", models.TextField(blank=True)),
                        (
                            "opened_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                        ),
                        ("last_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_notified_at", models.DateTimeField(blank=True, null=True)),
                        ("reminders", models.PositiveIntegerField(default=0)),
                        ("resolved_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                    ],
                    options={
                        "db_table": "queueops_alert",
                        "ordering": ["-opened_at", "-id"],
                        "permissions": [("resolve_alert", "Can resolve alerts by hand")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

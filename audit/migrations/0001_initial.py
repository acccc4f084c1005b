"""AuditEntry moves from operations to audit: the table stays (operations_auditentry), only Django's
state moves, so no row is copied and nothing is lost."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("operations", "0002_ops_group"),  # the table is created by operations 0001
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("username", models.CharField(max_length=150)),
                        ("action", models.CharField(db_index=True, max_length=100)),
                        ("target", models.CharField(blank=True, max_length=300)),
                        ("detail", models.JSONField(blank=True, default=dict)),
                        (
                            "channel",
                            models.CharField(
                                choices=[
                                    ("api", "API"),
                                    ("dashboard", "dashboard"),
                                    ("admin", "admin"),
                                    ("command", "command"),
                                ],
                                default="api",
                                max_length=20,
                            ),
                        ),
                        (
                            "outcome",
                            models.CharField(
                                choices=[("ok", "ok"), ("failed", "failed")], default="ok", max_length=10
                            ),
                        ),
                        ("remote_addr", models.GenericIPAddressField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "audit entries",
                        "db_table": "operations_auditentry",
                        "ordering": ["-at", "-id"],
                        "permissions": [("view_operations", "Can read operations data (dashboard, ops API)")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

"""ManagedJob and JobRun move from queueops to scheduler: the tables (queueops_managedjob,
queueops_jobrun) and their indexes stay, only Django's state moves, so nothing is copied or lost."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("queueops", "0002_action_permissions"),  # the tables are created by queueops 0001
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ManagedJob",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200, unique=True)),
                        ("task", models.CharField(max_length=200)),
                        (
                            "schedule",
                            models.CharField(
                                help_text="human-readable schedule, as declared", max_length=200
                            ),
                        ),
                        (
                            "period_seconds",
                            models.PositiveIntegerField(help_text="gap between two runs, for lateness"),
                        ),
                        ("critical", models.BooleanField(default=False)),
                        ("grace_seconds", models.PositiveIntegerField()),
                        ("in_code", models.BooleanField(default=True)),
                        ("removed_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("synced_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "queueops_managedjob",
                        "ordering": ["name"],
                        "permissions": [
                            ("run_managedjob", "Can run periodic jobs now"),
                            ("pause_managedjob", "Can pause and resume periodic jobs"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="JobRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("job", models.CharField(max_length=200)),
                        ("task_id", models.CharField(max_length=255, unique=True)),
                        ("slot", models.CharField(blank=True, max_length=255)),
                        ("started_at", models.DateTimeField()),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("running", "running"),
                                    ("success", "success"),
                                    ("failure", "failure"),
                                    ("retry", "retry"),
                                ],
                                default="running",
                                max_length=10,
                            ),
                        ),
                        ("duration_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("worker", models.CharField(blank=True, max_length=255)),
                        ("error", models.TextField(blank=True)),
                    ],
                    options={
                        "db_table": "queueops_jobrun",
                        "ordering": ["-started_at"],
                        "indexes": [
                            models.Index(fields=["job", "-started_at"], name="queueops_jo_job_c5c971_idx"),
                            models.Index(
                                fields=["outcome", "finished_at"], name="queueops_jo_outcome_208786_idx"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

"""backup_maintenance: show or switch the maintenance flag (after a failed live restore)."""

from backups import maintenance, workers
from backups.management.base import BackupCommand


class Command(BackupCommand):
    help = (
        "Show or switch the maintenance flag that makes the web answer 503 during a live restore. "
        "'off --resume-workers' also tells every worker to consume its default queue again."
    )

    def audit_action_for(self, options) -> str:
        return "" if options["action"] == "status" else f"backup.maintenance_{options['action']}"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "on", "off"])
        parser.add_argument("--reason", default="manual maintenance")
        parser.add_argument(
            "--resume-workers", action="store_true", help="with off: add_consumer('celery') everywhere"
        )

    def handle(self, *args, **options):
        if options["action"] == "on":
            maintenance.enable(options["reason"])
        elif options["action"] == "off":
            if options["resume_workers"]:
                from celery import current_app as app

                app.control.add_consumer("celery")  # broadcast; no replies to wait for
                workers.resume({})
            maintenance.disable()
        state = maintenance.state()
        self.stdout.write(
            f"maintenance is ON since {state['since']}: {state['reason']}" if state else "maintenance is off"
        )

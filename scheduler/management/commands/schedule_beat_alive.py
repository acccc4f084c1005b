"""`manage.py schedule_beat_alive`: the beat container's healthcheck (leader or standby alive)."""

from django.core.management.base import BaseCommand, CommandError

from scheduler.leadership import beat_name, coordinator, is_fresh


class Command(BaseCommand):
    help = (
        "Exit 0 when this host's beat (BEAT_NAME, else the host name) has published a heartbeat "
        "within BEAT_HEARTBEAT_MAX_AGE seconds, as leader or standby; exit 1 otherwise, with the "
        "reason on one line. Meant for a container healthcheck: it takes well under 2 s."
    )

    # A healthcheck runs every few seconds; Django's system checks (URL imports) would double
    # its cost and say nothing about the beat.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--name", help="the beat to ask about (default: this host's beat)")
        parser.add_argument("--max-age", type=float, help="seconds a heartbeat stays fresh")

    def handle(self, *args, name=None, max_age=None, **options):
        name = name or beat_name()
        if max_age is not None and max_age <= 0:
            raise CommandError("--max-age must be a positive number of seconds", returncode=2)
        try:
            state = coordinator().members().get(name)
        except Exception as exc:
            self.stderr.write(f"beat {name}: heartbeat store unreachable ({type(exc).__name__})")
            raise SystemExit(1) from exc
        if state is None:
            self.stderr.write(f"beat {name}: no heartbeat published")
            raise SystemExit(1)
        if not is_fresh(state, max_age):
            self.stderr.write(f"beat {name}: {state['role']}, last heartbeat {state['age']:.1f}s ago")
            raise SystemExit(1)
        self.stdout.write(f"beat {name}: alive ({state['role']}, heartbeat {state['age']:.1f}s ago)")

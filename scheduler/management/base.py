"""What the schedule_* commands share: a bad usage is one line on stderr and exit 2."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from audit.commands import AuditedCommand


class _OneLineParser(CommandParser):
    def error(self, message):
        if self.called_from_command_line:
            # argparse would print the whole usage first; one line says it, --help says the rest.
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
        raise CommandError(f"Error: {message}", returncode=2)


class ScheduleCommand(AuditedCommand):
    """A schedule_* command: one-line usage errors (exit 2); set `audit_action` if it acts."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _OneLineParser
        return parser


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=2)

"""AuditedCommand: a management command whose every run writes one audit entry (door "command"),
and whose bad usage, when it sets `one_line_usage`, is one line on stderr and exit 2."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.log import run_of


class _OneLineParser(CommandParser):
    def error(self, message):
        if self.called_from_command_line:
            # argparse would print the whole usage first; one line says it, --help says the rest.
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
        raise CommandError(f"Error: {message}", returncode=2)


class AuditedCommand(BaseCommand):
    """Set `audit_action` (or override `audit_action_for`) and every run is audited: the command,
    its arguments without secrets, the OS user and how it ended. Read-only commands leave it empty."""

    audit_action = ""
    audit_target = ""  # the option naming what a run acts on (its audit entry's target)
    one_line_usage = False

    def audit_action_for(self, options: dict) -> str:
        return self.audit_action

    def audit_target_for(self, options: dict) -> str:
        return options.get(self.audit_target) or ""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.one_line_usage:
            parser.__class__ = _OneLineParser
        if self.audit_action or type(self).audit_action_for is not AuditedCommand.audit_action_for:
            parser.epilog = (
                "Each run that changes something is written to the audit log (door 'command': the "
                "command, its arguments with secrets masked, the OS user, how it ended)."
            )
        return parser

    def execute(self, *args, **options):
        action = self.audit_action_for(options)
        if not action:
            return super().execute(*args, **options)
        name = self.__module__.rsplit(".", 1)[-1]
        with run_of(name, action, options, self.audit_target_for(options)) as detail:
            self.audit_detail = detail  # handle() may add what it did (counts, ids)
            return super().execute(*args, **options)

"""What every backup_* command shares: exit codes, one-line errors, JSON output, the TTY."""

from __future__ import annotations

import json
import sys

from audit.commands import AuditedCommand
from backups.errors import BackupError, UsageError


class BackupCommand(AuditedCommand):
    """Exit 0 on success, 1 when the operation failed, 2 on bad usage; never a traceback."""

    def add_json_argument(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")

    def execute(self, *args, **options):
        # A progress bar would mix into what a program reads: --json keeps the terminal quiet.
        self.quiet = bool(options.get("json"))
        try:
            return super().execute(*args, **options)
        except UsageError as error:
            self._fail(str(error), 2)
        except BackupError as error:
            self._fail(str(error), 1)
        except KeyboardInterrupt:
            self._fail("interrupted", 1)

    def _fail(self, message: str, code: int) -> None:
        self.stderr.write(f"{self.__module__.rsplit('.', 1)[-1]}: error: {message}")
        sys.exit(code)

    def tty(self):
        """stderr when it is a terminal and no --json was asked for (progress bars), else None."""
        return sys.stderr if sys.stderr.isatty() and not getattr(self, "quiet", False) else None

    def emit_json(self, data) -> None:
        self.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str))

"""`manage.py mail_suppressions list|add|remove|import`: the suppression list from the command line."""

from __future__ import annotations

import json
import sys

from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from mailops import importing, mailgun
from mailops.models import Suppression
from mailops.sending import InvalidRecipient, clean_addresses
from mailops.suppression import suppress, unsuppress

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _address(text: str) -> str:
    try:
        return clean_addresses([text])[0]
    except InvalidRecipient as error:
        raise CommandError(str(error), returncode=EXIT_USAGE) from None


class Command(AuditedCommand):
    help = (
        "Show and change the suppression list (addresses mail is never sent to). "
        "`import` pulls Mailgun's bounces, complaints and unsubscribes. Exit 0 ok, 1 failed "
        "(address not listed, Mailgun error), 2 bad usage."
    )
    audit_target = "address"

    def audit_action_for(self, options) -> str:
        # Listing and a dry run change nothing; every other run is audited (AuditedCommand).
        if options["action"] == "list" or options.get("dry_run"):
            return ""
        return {"add": "suppression.add", "remove": "suppression.remove"}.get(
            options["action"], "suppression.import"
        )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = actions.add_parser("list", help="print suppressed addresses, newest first")
        listing.add_argument("--reason", choices=Suppression.Reason.values, help="only this reason")
        listing.add_argument("--search", help="only addresses containing this text")
        listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100; 0: all)")
        listing.add_argument("--json", action="store_true", help="print JSON lines")
        add = actions.add_parser("add", help="suppress an address")
        add.add_argument("address")
        add.add_argument("--reason", choices=Suppression.Reason.values, default=Suppression.Reason.MANUAL)
        add.add_argument("--detail", default="", help="why, for the next operator")
        remove = actions.add_parser("remove", help="allow mail to an address again")
        remove.add_argument("address")
        pull = actions.add_parser("import", help="pull Mailgun's suppression lists (paginated)")
        only = "only this list (repeatable; default all three)"
        pull.add_argument("--list", dest="lists", action="append", choices=mailgun.LISTS, help=only)
        pull.add_argument("--dry-run", action="store_true", help="count, do not store")
        pull.add_argument("--json", action="store_true", help="print the counts as JSON")

    def handle(self, *args, **options):
        sys.exit(getattr(self, f"_{options['action']}")(options))

    def _list(self, options) -> int:
        rows = Suppression.objects.all()
        if options["reason"]:
            rows = rows.filter(reason=options["reason"])
        if options["search"]:
            rows = rows.filter(address_key__contains=options["search"].strip().lower())
        if options["limit"] < 0:
            raise CommandError("--limit must be 0 or more", returncode=EXIT_USAGE)
        if options["limit"]:
            rows = rows[: options["limit"]]
        for row in rows.iterator():
            if options["json"]:
                record = {name: getattr(row, name) for name in ("address", "reason", "source", "detail")}
                self.stdout.write(json.dumps({**record, "created_at": row.created_at.isoformat()}))
            else:
                when = row.created_at.strftime("%Y-%m-%d %H:%M")
                self.stdout.write(f"{row.address:40} {row.reason:13} {row.source:9} {when}")
        return EXIT_OK

    def _add(self, options) -> int:
        address, operator = _address(options["address"]), Suppression.Source.OPERATOR
        try:
            row, created = suppress(address, options["reason"], operator, detail=options["detail"])
        except ValueError as error:
            raise CommandError(str(error), returncode=EXIT_USAGE) from None
        state = "suppressed" if created else "already suppressed"
        self.stdout.write(f"{row.address}: {state} ({row.reason})")
        return EXIT_OK

    def _remove(self, options) -> int:
        address = _address(options["address"])
        if unsuppress(address):
            self.stdout.write(f"{address}: removed; mail will be sent to it again")
            return EXIT_OK
        self.stderr.write(f"{address} is not on the suppression list")
        return EXIT_FAIL

    def _import(self, options) -> int:
        tty = sys.stderr.isatty() and not options["json"]

        def progress(state: importing.Imported) -> None:
            if tty:
                sys.stderr.write(f"\r{state.list}: {state.seen} read, {state.added} new")
                sys.stderr.flush()

        results, error = [], None
        for kind in options["lists"] or mailgun.LISTS:
            try:
                results.append(importing.import_list(kind, dry_run=options["dry_run"], progress=progress))
            except mailgun.MailgunError as failure:
                error = str(failure)
                break
            finally:
                if tty:
                    sys.stderr.write("\n")
        if options["json"]:
            document = {
                "dry_run": options["dry_run"],
                "lists": {
                    r.list: {"read": r.seen, "added": r.added, "skipped": len(r.skipped)} for r in results
                },
                "error": error,
            }
            self.stdout.write(json.dumps(document))
        else:
            verb = "would add" if options["dry_run"] else "added"
            for r in results:
                skipped = f", {len(r.skipped)} without an address skipped" if r.skipped else ""
                self.stdout.write(f"{r.list}: {r.seen} read, {verb} {r.added}{skipped}")
            if error:
                self.stderr.write(f"import stopped: {error}")
        return EXIT_FAIL if error else EXIT_OK

"""`journalist-console`: the investigator console's command line.

Every command takes --home DIR and --passphrase-file FILE (without it, the passphrase is asked on
the terminal) and --user NAME (who is acting; default: the console's only or first investigator,
so a single-investigator console never needs it). Expected failures print one line starting with
"error:" and exit with status 1; usage mistakes exit with 2 (argparse); nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlcipher3

from journalist_console import (
    accounts,
    archive,
    dates,
    exporter,
    files,
    importer,
    render,
    retention,
)
from journalist_console.console import RETENTION_MODES, Console
from journalist_console.errors import ConsoleError
from journalist_console.home import DEFAULT_USER, Home, HomeLock, init_home
from keys.errors import CryptoFormatError, KeyFileError, WrongPassphrase
from keys.keyfiles import PublicKey, read_public_key
from keys.records import CATEGORIES, STATUSES

MAX_PASSPHRASE_FILE_BYTES = 4096
EXIT_ERROR = 1
EXIT_INTERNAL = 70


def _out(text: str) -> None:
    print(text)


def _err(text: str) -> None:
    print(f"error: {render.safe(text, keep_newlines=False)}", file=sys.stderr)


def read_passphrase(args: argparse.Namespace, prompt: str = "Passphrase: ") -> bytes:
    if args.passphrase_file is not None:
        path = Path(args.passphrase_file)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_PASSPHRASE_FILE_BYTES + 1)
        except OSError as exc:
            raise ConsoleError(f"cannot read the passphrase file {path}: {exc.strerror}") from None
        if len(data) > MAX_PASSPHRASE_FILE_BYTES:
            raise ConsoleError(f"{path} is too large to be a passphrase file")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        if not data:
            raise ConsoleError(f"the passphrase file {path} is empty")
        return data
    try:
        text = getpass.getpass(prompt)
    except EOFError:
        raise ConsoleError("no passphrase given") from None
    if not text:
        raise ConsoleError("no passphrase given")
    return text.encode("utf-8")


def read_new_passphrase(args: argparse.Namespace, whose: str = "") -> bytes:
    """A new passphrase from --new-passphrase-file, else asked twice on the terminal."""
    source = argparse.Namespace(passphrase_file=args.new_passphrase_file)
    new = read_passphrase(source, f"New passphrase{whose}: ")
    if args.new_passphrase_file is None:
        if read_passphrase(source, f"Repeat the new passphrase{whose}: ") != new:
            raise ConsoleError("the two passphrases differ; nothing changed")
    return new


@contextmanager
def unlocked(args: argparse.Namespace, prompt: str = "Passphrase: ") -> Iterator[Console]:
    """Lock the home first (a second instance is refused before any prompt), then unlock."""
    home = Home(Path(args.home))
    home.require_initialised()
    with HomeLock(home) as lock:
        user = home.resolve_user(getattr(args, "user", None))
        passphrase = read_passphrase(args, prompt)
        try:
            console = Console.open(home, passphrase, user, lock=lock)
        except WrongPassphrase:
            if getattr(args, "user", None) is None and len(home.box_names()) > 1:
                raise ConsoleError(
                    f"wrong passphrase for {user!r} (several investigators use this console: "
                    "say who you are with --user NAME)"
                ) from None
            raise
        try:
            yield console
        finally:
            console.close()


# -- commands -------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(args, "New passphrase: ")
    if args.passphrase_file is None:
        again = read_passphrase(args, "Repeat the passphrase: ")
        if again != passphrase:
            raise ConsoleError("the two passphrases differ; nothing was created")
    user = args.user or DEFAULT_USER
    result = init_home(Path(args.home), passphrase, due_days=args.due_days, user=user)
    home = Home(Path(args.home))
    _out(f"Console created in {home.root}")
    _out(f"  first investigator and administrator: {user}")
    _out(f"  inspectorate recipient key: {home.inspectorate_pub}")
    _out(f"    fingerprint {result.recipient.fingerprint}")
    _out(f"  console verify key:         {home.console_pub}")
    _out(f"    fingerprint {result.verify.fingerprint}")
    _out("Give both .pub files to the operator and compare the fingerprints aloud.")
    return 0


def _tty_confirm(signer: PublicKey) -> bool:
    print(f"Server signing key fingerprint: {signer.fingerprint}", file=sys.stderr)
    print("Compare it with the fingerprint the operator reads from the server.", file=sys.stderr)
    answer = input("Trust this server key from now on? [y/N] ")
    return answer.strip().lower() in ("y", "yes", "ya")


def cmd_import(args: argparse.Namespace) -> int:
    server_key = None
    if args.server_key is not None:
        server_key = read_public_key(Path(args.server_key), "verify")
    with unlocked(args) as console:
        confirm = _tty_confirm if (server_key is None and sys.stdin.isatty()) else None
        result = importer.import_bundle(console, Path(args.file), server_key, confirm)
    if result.pinned:
        _out(f"Pinned the server key {result.pinned}; only this key is trusted from now on.")
    if result.already_imported:
        _out(f"Bundle {result.sequence} was imported before; nothing changed.")
        return 0
    _out(
        f"Imported bundle {result.sequence}: {result.new_reports} new reports, "
        f"{result.new_entries} new entries"
        + (f", {result.held_entries} already held" if result.held_entries else "")
        + "."
    )
    if result.gap:
        first, last = result.gap
        missing = str(first) if first == last else f"{first} to {last}"
        _out(f"warning: bundle(s) {missing} from this server were never imported here.")
    for regno in result.unreadable:
        _out(f"warning: {regno} holds an envelope this console cannot decrypt (kept as is).")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        summaries = console.list_reports(args.status, args.category, mine=args.mine)
    if args.json:
        _out(json.dumps([s.as_json() for s in summaries], indent=1))
    else:
        _out(render.report_list(summaries))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        view = console.view(args.regno)
        console.mark_viewed(view.summary.regno)
    _out(render.report_view(view))
    return 0


def cmd_reply(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        console.reply(args.regno, args.message)
        regno = console.resolve(args.regno)
    _out(f"Reply to {regno} recorded; it leaves with the next export.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        console.set_status(args.regno, args.status, args.note or "")
        regno = console.resolve(args.regno)
    _out(f"{regno} is now {render.status_label(args.status)}; it leaves with the next export.")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        console.add_note(args.regno, args.text)
        regno = console.resolve(args.regno)
    _out(f"Internal note added to {regno} (never exported).")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        saved = files.save_files(console, args.regno, Path(args.out), args.file)
    failed = 0
    for item in saved:
        if item.path is not None:
            _out(f"saved {render.safe(str(item.path), False)}")
        if item.stripped is not None:
            _out(f"  without metadata: {render.safe(str(item.stripped), False)}")
        if item.problem:
            failed += item.path is None
            _out(f"  [{item.entry_id}] {item.problem}")
    return EXIT_ERROR if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        result = exporter.export_bundle(console, Path(args.out))
    if result.completed_interrupted:
        _out(
            f"Completed the interrupted export {result.sequence} into {result.path}; "
            "run export again for anything newer."
        )
    elif result.empty:
        _out(f"Nothing new to export; wrote an empty bundle {result.sequence} to {result.path}.")
    else:
        _out(
            f"Wrote bundle {result.sequence} to {result.path}: {result.responses} responses, "
            f"{result.acks} acknowledgements."
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from journalist_console import web  # Flask is only loaded for the web interface

    if args.passphrase_file is not None:
        _out("note: serve asks for the passphrase in the browser; --passphrase-file is ignored")
    web.serve(Home(Path(args.home)), args.host, args.port, user=args.user)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        if args.audit_command == "show":
            for entry in reversed(console.audit_entries(args.limit)):
                _out(
                    f"{entry.seq:>6} {entry.at} {entry.actor} {entry.action} "
                    f"{entry.regno or '-'} {render.safe(entry.detail, False)}"
                )
            return 0
        result = console.audit_verify()
    if result.ok:
        _out(f"Audit log intact: {result.count} entries; head {result.head}")
        return 0
    _err(f"audit log damaged: {result.problem}")
    return EXIT_ERROR


def cmd_stats(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        stats = console.stats()
    if args.json:
        _out(json.dumps(stats.__dict__, indent=1, sort_keys=True))
    else:
        _out(render.stats_text(stats))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        console.configure(
            args.due_days,
            args.author,
            retention_days=args.retention_days,
            retention_mode=args.retention_mode,
            archive_dir=args.archive_dir,
        )
        _out(f"due days: {console.due_days}")
        _out(f"reply author name: {console.author_name}")
        _out(f"retention: {render.retention_text(console.retention_days, console.retention_mode)}")
        _out(f"archive folder: {console.archive_dir or '(none)'}")
        pinned = console.pinned_server_key
        _out(f"server key: {pinned.fingerprint if pinned else '(none pinned yet)'}")
        _out(f"server instance: {console.instance or '(none yet)'}")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    as_of = None if args.as_of is None else retention.parse_day(args.as_of)
    with unlocked(args) as console:
        result = retention.run(console, as_of, dry_run=args.dry_run, archive_dir=args.archive_dir)
    plan = result.plan
    if plan.off:
        _out("Retention is off (config --retention-days 0): nothing is ever removed.")
        return 0
    _out(
        f"Retention: finished reports whose last event is on or before {plan.cutoff} "
        f"({plan.days} days before {plan.as_of}); mode {plan.mode}"
        + (f", archives into {plan.archive_dir}" if plan.mode == "archive" else "")
        + "."
    )
    if plan.waiting:
        _out(
            f"{plan.waiting} more past the limit wait for the next export (a response not yet "
            "exported or an entry not yet acknowledged to the server)."
        )
    if result.dry_run:
        verb = "archive and remove" if plan.mode == "archive" else "remove"
        _out(f"Dry run: would {verb} {len(plan.due)} reports ({plan.envelopes} envelopes).")
        return 0
    if plan.mode == "archive":
        _out(f"Archived {len(result.archives)} reports into {plan.archive_dir}.")
    _out(f"Removed {result.removed} reports; {result.wiped} files overwritten and deleted.")
    if result.leftovers:
        _out(f"warning: {result.leftovers} files could not be deleted now; the next unlock will.")
    for regno, why in result.not_archived:
        _err(f"{regno} was not archived, so it stays on the console: {why}")
    return EXIT_ERROR if result.not_archived else 0


def cmd_archive(args: argparse.Namespace) -> int:
    out = None if args.archive_command == "show" else Path(args.out)
    with unlocked(args) as console:
        opened = archive.open_archive(console, Path(args.file), out)
    if opened.folder is None:
        _out(archive.render_text(opened.document).rstrip("\n"))
    else:
        regno = render.safe(str(opened.document["regno"]), False)
        _out(f"Extracted {regno} into {render.safe(str(opened.folder), False)}")
        for path in opened.written:
            _out(f"  {render.safe(path.name, False)}")
    return 0


def cmd_passphrase(args: argparse.Namespace) -> int:
    """The acting investigator's own passphrase (`user passphrase NAME` resets another's)."""
    with unlocked(args, "Current passphrase: ") as console:
        new = read_new_passphrase(args)
        accounts.set_passphrase(console, console.user, new)
    _out("Passphrase changed.")
    return 0


def cmd_recipient(args: argparse.Namespace) -> int:
    key = read_public_key(Path(args.pubfile), "recipient")
    with unlocked(args) as console:
        console.add_recipient(key, args.label or "")
    _out(f"Responses are now also sealed to {key.fingerprint}.")
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    command = args.user_command
    with unlocked(args) as console:
        if command == "list":
            listed = accounts.all_accounts(console.conn)
            if args.json:
                _out(json.dumps([account.as_json() for account in listed], indent=1))
            else:
                _out(render.account_list(listed))
            return 0
        if command == "add":
            accounts.require_admin(console, "add investigators")
            new = read_new_passphrase(args, f" for {args.name}")
            account = accounts.add_user(
                console, args.name, new, admin=args.admin, display_name=args.display_name
            )
            shown = account.display_name or f"{console.author_name} (the console's author name)"
            _out(f"Added {account.role} {account.name}; their replies are signed {shown!r}.")
            return 0
        if command == "remove":
            unassigned = accounts.remove_user(console, args.name)
            _out(f"Removed {args.name}: their passphrase no longer unlocks this console.")
            if unassigned:
                _out(f"No longer assigned to anyone: {', '.join(unassigned)}")
            return 0
        if command == "passphrase":
            name = args.name or console.user
            if name != console.user:
                accounts.require_admin(console, "reset another investigator's passphrase")
            new = read_new_passphrase(args, "" if name == console.user else f" for {name}")
            accounts.set_passphrase(console, name, new)
            _out("Passphrase changed." if name == console.user else f"Passphrase of {name} reset.")
            return 0
        # edit
        role = None if args.admin is None else (accounts.ADMIN if args.admin else "investigator")
        account = accounts.edit_user(
            console,
            args.name,
            role=role,
            display_name=args.display_name,
            clear_display_name=args.default_display_name,
        )
    shown = account.display_name or "(the console's author name)"
    _out(f"{account.name}: {account.role}; replies signed {shown}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    name = args.to or args.name
    if args.to and args.name and args.to != args.name:
        raise ConsoleError("give the investigator once: NAME or --to NAME")
    if not name:
        raise ConsoleError("say whom to assign it to: assign REGNO NAME (or --to NAME)")
    with unlocked(args) as console:
        regno = accounts.assign(console, args.regno, name)
    _out(f"{regno} is assigned to {name}.")
    return 0


def cmd_unassign(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        previous = accounts.unassign(console, args.regno)
        regno = console.resolve(args.regno)
    _out(
        f"{regno} is no longer assigned to {previous}."
        if previous
        else f"{regno} was not assigned."
    )
    return 0


def cmd_recuse(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        regno = accounts.recuse(console, args.regno, args.reason or "")
        user = console.user
    _out(
        f"{user} is recused from {regno}: from now on this console keeps {user} out of it. "
        "Only another administrator can lift a recusal."
    )
    return 0


def cmd_unrecuse(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        regno = accounts.lift_recusal(console, args.regno, args.name)
    _out(f"The recusal of {args.name} from {regno} is lifted.")
    return 0


def cmd_recusals(args: argparse.Namespace) -> int:
    with unlocked(args) as console:
        listed = accounts.recusals(console, include_lifted=args.all)
    if args.json:
        _out(json.dumps([recusal.as_json() for recusal in listed], indent=1))
    else:
        _out(render.recusal_list(listed))
    return 0


# -- parser ---------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("not a TCP port")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", required=True, metavar="DIR", help="the console's home")
    common.add_argument(
        "--passphrase-file", metavar="FILE", help="read the passphrase from FILE (else: prompt)"
    )
    common.add_argument(
        "--user",
        metavar="NAME",
        help="the investigator acting (default: the console's only or first investigator)",
    )
    parser = argparse.ArgumentParser(
        prog="journalist-console",
        description="The WBS investigator console (offline). Run `init` once, then `import`.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=[common], help=text, description=text)
        command.set_defaults(handler=handler)
        return command

    p = add("init", cmd_init, "create the console: keys, vault and database")
    p.add_argument("--due-days", type=_positive_int, default=dates.DEFAULT_DUE_DAYS)
    p = add("import", cmd_import, "verify and import a bundle from the server")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--server-key", metavar="PUBFILE", help="the server's verify key (first import)")
    p = add("list", cmd_list, "the queue, most urgent first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--mine", action="store_true", help="only reports assigned to you")
    p.add_argument("--status", choices=list(STATUSES))
    p.add_argument("--category", choices=list(CATEGORIES))
    p = add("show", cmd_show, "show a decrypted report")
    p.add_argument("regno", metavar="REGNO")
    p = add("reply", cmd_reply, "reply to the reporter (sent with the next export)")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("--message", required=True, metavar="TEXT")
    p = add("status", cmd_status, f"change a report's status ({', '.join(STATUSES)})")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("status", metavar="STATUS")
    p.add_argument("--note", metavar="TEXT", help="a note to the reporter with the status")
    p = add("note", cmd_note, "add an internal note (never exported)")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("text", metavar="TEXT")
    p = add("save", cmd_save, "save a report's files, decrypted, into a directory")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--file", action="append", metavar="ENTRY_ID", help="only this file")
    p = add("export", cmd_export, "write the response bundle for the server")
    p.add_argument("--out", required=True, metavar="FILE")
    p = add("serve", cmd_serve, "the local web interface (127.0.0.1 only)")
    p.add_argument("--port", type=_port, default=8081)
    p.add_argument("--host", default="127.0.0.1", help="must be 127.0.0.1")
    p = add("audit", cmd_audit, "check or show the audit log")
    p.add_argument("audit_command", choices=["verify", "show"])
    p.add_argument("--limit", type=_positive_int, default=50)
    p = add("stats", cmd_stats, "counts, medians and overdue reports")
    p.add_argument("--json", action="store_true")
    p = add("config", cmd_config, "show or change settings")
    p.add_argument("--due-days", type=_positive_int)
    p.add_argument("--author", metavar="NAME", help="the name replies are signed with")
    p.add_argument(
        "--retention-days",
        type=_whole_number,
        metavar="N",
        help=(
            f"remove finished reports N days after their last event (default "
            f"{dates.DEFAULT_RETENTION_DAYS}; 0 = keep forever; administrators)"
        ),
    )
    p.add_argument(
        "--retention-mode",
        choices=list(RETENTION_MODES),
        help="delete them, or archive each into an encrypted file first",
    )
    p.add_argument("--archive-dir", metavar="DIR", help="where archive mode writes its archives")
    p = add("retention", cmd_retention, "remove finished reports past the retention limit")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument("--archive-dir", metavar="DIR", help="archive folder for this run")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help=argparse.SUPPRESS)
    p = add("passphrase", cmd_passphrase, "change the investigator's passphrase")
    p.add_argument("--new-passphrase-file", metavar="FILE", help="else: prompt twice")
    p = add("recipient", cmd_recipient, "also seal responses to another inspectorate key")
    p.add_argument("pubfile", metavar="PUBFILE")
    p.add_argument("--label")

    text = "read a retention archive (administrators): show it, or extract it into a folder"
    archives = sub.add_parser("archive", help=text, description=text)
    archives.set_defaults(handler=cmd_archive)
    archive_sub = archives.add_subparsers(dest="archive_command", required=True, metavar="ACTION")
    p = archive_sub.add_parser(
        "show", parents=[common], help="print an archived report (files are not written)"
    )
    p.add_argument("file", metavar="FILE")
    p = archive_sub.add_parser(
        "extract", parents=[common], help="write an archived report and its files into a folder"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--out", required=True, metavar="DIR")

    text = "investigators' accounts (add, remove, passphrase, list, edit)"
    users = sub.add_parser("user", help=text, description=text)
    users.set_defaults(handler=cmd_user)
    user_sub = users.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    def add_user_action(name: str, text: str) -> argparse.ArgumentParser:
        return user_sub.add_parser(name, parents=[common], help=text, description=text)

    p = add_user_action("add", "add an investigator (administrators only)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--admin", action="store_true", help="make them an administrator")
    p.add_argument("--display-name", metavar="TEXT", help="what reporters see on their replies")
    p.add_argument("--new-passphrase-file", metavar="FILE", help="else: prompt twice")
    p = add_user_action("remove", "remove an investigator: their passphrase stops working")
    p.add_argument("name", metavar="NAME")
    p = add_user_action("passphrase", "change your passphrase, or reset another's (admin)")
    p.add_argument("name", metavar="NAME", nargs="?")
    p.add_argument("--new-passphrase-file", metavar="FILE", help="else: prompt twice")
    p = add_user_action("list", "the investigators, with roles and reply display names")
    p.add_argument("--json", action="store_true")
    p = add_user_action("edit", "change a role or reply display name (administrators only)")
    p.add_argument("name", metavar="NAME")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--admin", dest="admin", action="store_const", const=True, default=None)
    role.add_argument("--no-admin", dest="admin", action="store_const", const=False)
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--display-name", metavar="TEXT")
    shown.add_argument(
        "--default-display-name",
        action="store_true",
        help="sign their replies with the console's author name again",
    )

    p = add("assign", cmd_assign, "assign a report to an investigator")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("name", metavar="NAME", nargs="?")
    p.add_argument("--to", metavar="NAME")
    p = add("unassign", cmd_unassign, "end a report's assignment")
    p.add_argument("regno", metavar="REGNO")
    p = add("recuse", cmd_recuse, "declare a conflict of interest: you are kept out of the report")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("--reason", metavar="TEXT", help="kept for administrators, not in the audit")
    p = add("unrecuse", cmd_unrecuse, "lift another investigator's recusal (administrators)")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("name", metavar="NAME")
    p = add("recusals", cmd_recusals, "recusals (administrators: everyone's; others: their own)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include lifted recusals")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except WrongPassphrase:
        _err("wrong passphrase")
    except (ConsoleError, KeyFileError, CryptoFormatError) as exc:
        _err(str(exc))
    except sqlcipher3.Error as exc:
        _err(f"console database error: {exc}")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        _err(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

"""`journalist-console`: the investigator console's command line (the parser and `main`).

Every command takes --home DIR and --passphrase-file FILE (without it, the passphrase is asked on
the terminal) and --user NAME (who is acting; default: the console's only or first investigator,
so a single-investigator console never needs it). Expected failures print one line starting with
"error:" and exit with status 1; usage mistakes exit with 2 (argparse); nothing prints a traceback.
The commands themselves are journalist_console/commands.py.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlcipher3

from journalist_console import dates
from journalist_console.commands import (
    EXIT_ERROR,
    cmd_archive,
    cmd_assign,
    cmd_audit,
    cmd_config,
    cmd_export,
    cmd_import,
    cmd_init,
    cmd_list,
    cmd_note,
    cmd_passphrase,
    cmd_recipient,
    cmd_recusals,
    cmd_recuse,
    cmd_reply,
    cmd_retention,
    cmd_save,
    cmd_serve,
    cmd_show,
    cmd_stats,
    cmd_status,
    cmd_unassign,
    cmd_unrecuse,
    cmd_user,
)
from journalist_console.desk_commands import cmd_respond, cmd_texts
from journalist_console.errors import ConsoleError
from journalist_console.keycommands import cmd_keys
from journalist_console.settings import RETENTION_MODES
from journalist_console.standard_texts import LANGUAGES, NAMES
from journalist_console.terminal import err
from keys.errors import CryptoFormatError, KeyFileError, WrongPassphrase
from keys.records import CATEGORIES, STATUSES

EXIT_INTERNAL = 70


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
    shows = p.add_mutually_exclusive_group()
    for show, text in (
        ("open", "only reports without a final status"),
        ("unanswered", "only reports whose first answer has not left in an export"),
        ("overdue", "only reports unanswered past the due day"),
    ):
        shows.add_argument(f"--{show}", dest="show", action="store_const", const=show, help=text)
    p.add_argument("--search", metavar="REGNO", help="a register number, or a part of one")
    p = add("show", cmd_show, "show a decrypted report")
    p.add_argument("regno", metavar="REGNO")
    p = add("reply", cmd_reply, "reply to the reporter (sent with the next export)")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("--message", required=True, metavar="TEXT")
    p = add("status", cmd_status, f"change a report's status ({', '.join(STATUSES)})")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("status", metavar="STATUS")
    p.add_argument("--note", metavar="TEXT", help="a note to the reporter with the status")
    p = add("respond", cmd_respond, "a new status and/or a message to the reporter, in one step")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("--status", choices=list(STATUSES), help="the new status")
    p.add_argument("--message", metavar="TEXT", help="sent as a reply, after --text if given")
    p.add_argument("--text", choices=list(NAMES), help="start from this standard text")
    p = add("note", cmd_note, "add an internal note (never exported)")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("text", metavar="TEXT")
    p = add("save", cmd_save, "save a report's files and their safe copies into a directory")
    p.add_argument("regno", metavar="REGNO")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--file", action="append", metavar="ENTRY_ID", help="only this file")
    p.add_argument(
        "--safe-only", action="store_true", help="only the safe copies, not the original files"
    )
    p = add("export", cmd_export, "write the response bundle for the server")
    p.add_argument("--out", required=True, metavar="FILE")
    p = add("serve", cmd_serve, "the local web interface (127.0.0.1 only)")
    p.add_argument("--port", type=_port, default=8081)
    p.add_argument("--host", default="127.0.0.1", help="must be 127.0.0.1")
    # Rehearsals and the browser tests lock sooner than the 15 minutes of a working day.
    p.add_argument("--idle-seconds", type=_positive_int, help=argparse.SUPPRESS)
    p = add("audit", cmd_audit, "check or show the audit log")
    p.add_argument("audit_command", choices=["verify", "show"])
    p.add_argument("--limit", type=_positive_int, default=50)
    p = add("stats", cmd_stats, "counts, medians, overdue reports and the 30-day figures")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", action="store_true", help="the figures per month and category, as CSV")
    p.add_argument("--out", metavar="FILE", help="write the CSV into FILE (else: print it)")
    p = add("config", cmd_config, "show or change settings")
    p.add_argument("--due-days", type=_positive_int)
    p.add_argument(
        "--warn-day",
        type=_positive_int,
        metavar="N",
        help=f"mark unanswered reports from day N on (default {dates.DEFAULT_WARN_DAY})",
    )
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
    p.add_argument(
        "--ocr",
        choices=["on", "off"],
        help="recognise the text of safe copies made from now on (tesseract, in the sandbox)",
    )
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

    text = "the standard texts replies start from (administrators change them)"
    texts = sub.add_parser("texts", help=text, description=text)
    texts.set_defaults(handler=cmd_texts)
    texts_sub = texts.add_subparsers(dest="texts_command", required=True, metavar="ACTION")
    p = texts_sub.add_parser("list", parents=[common], help="every text in both languages")
    p.add_argument("--json", action="store_true")
    for action, text in (("set", "replace a text"), ("reset", "back to the built-in text")):
        p = texts_sub.add_parser(action, parents=[common], help=text)
        p.add_argument("name", choices=list(NAMES))
        p.add_argument("language", choices=list(LANGUAGES))
        if action == "set":
            given = p.add_mutually_exclusive_group(required=True)
            given.add_argument("--body", metavar="TEXT")
            given.add_argument("--file", metavar="FILE", help="read the text from FILE")

    text = "the console's keys: show, rotate, re-pin the server, re-key the vault"
    keys = sub.add_parser("keys", help=text, description=text)
    keys.set_defaults(handler=cmd_keys)
    key_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    key_sub.add_parser("show", parents=[common], help="every key and fingerprint")
    key_sub.add_parser(
        "rotate-recipient",
        parents=[common],
        help="a new inspectorate key; the old one is kept to read (administrators)",
    )
    key_sub.add_parser(
        "rotate-signing",
        parents=[common],
        help="a new signing key, announced by the next export (administrators)",
    )
    p = key_sub.add_parser(
        "repin-server",
        parents=[common],
        help="trust a rebuilt server's key instead of the pinned one (administrators)",
    )
    p.add_argument("--server-key", required=True, metavar="PUBFILE", help="the new server.pub")
    p.add_argument(
        "--fingerprint", metavar="TEXT", help="the new key's fingerprint as the operator read it"
    )
    key_sub.add_parser(
        "rekey-vault",
        parents=[common],
        help="new vault and database keys, every box re-sealed (administrators)",
    )

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
        err("wrong passphrase")
    except (ConsoleError, KeyFileError, CryptoFormatError) as exc:
        err(str(exc))
    except sqlcipher3.Error as exc:
        err(f"console database error: {exc}")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        err(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        err(f"unexpected {type(exc).__name__} ({_where(exc)}): {exc}")
        return EXIT_INTERNAL
    return EXIT_ERROR


def _where(exc: BaseException) -> str:
    """Where an unexpected error was raised (the innermost file and line, in the project's own
    code when it passed through it): enough for a bug report, without a traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [
        frame
        for frame in frames
        if "/journalist_console/" in frame.filename or "/keys/" in frame.filename
    ]
    candidates = ours or list(frames)
    if not candidates:
        return "unknown place"
    frame = candidates[-1]
    parts = Path(frame.filename).parts
    return f"{'/'.join(parts[-2:])}:{frame.lineno}"


if __name__ == "__main__":
    sys.exit(main())

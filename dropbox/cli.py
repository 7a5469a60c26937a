"""`dropbox`: the operator's command line (init, serve, export, import, check, maintain, keys,
onion).

Every expected failure is one line on stderr and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dropbox import instance as instance_module
from dropbox.db import DatabaseError
from dropbox.exchange import ExchangeError, export_bundle, import_bundle
from dropbox.instance import InstanceError
from dropbox.maintenance import check, maintain
from dropbox.serve import ServeError, default_spill_dir, serve
from dropbox.service import DropBox
from keys.errors import CryptoFormatError
from keys.keyfiles import read_public_key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dropbox", description="WBS drop box server")
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="create a new instance in an empty data directory")
    init.add_argument("--data", type=Path, required=True)
    init.add_argument(
        "--recipient",
        type=Path,
        action="append",
        required=True,
        help="an inspectorate recipient public-key file (repeatable)",
    )
    init.add_argument(
        "--console-key",
        type=Path,
        action="append",
        required=True,
        help="the console's verify-key file (repeatable)",
    )
    init.add_argument(
        "--upload-limit-mib",
        type=int,
        default=instance_module.DEFAULT_UPLOAD_LIMIT // (1024 * 1024),
    )

    run = commands.add_parser("serve", help="run the source site on waitress")
    run.add_argument("--data", type=Path, required=True)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument(
        "--spill-dir",
        type=Path,
        default=None,
        help="RAM-backed directory for request bodies (default: /run/wbs-dropbox/"
        "spill or /dev/shm)",
    )
    run.add_argument(
        "--allow-persistent-spill",
        action="store_true",
        help="local demo only: accept a spill directory on a persistent disk",
    )
    run.add_argument(
        "--allow-public-bind",
        action="store_true",
        help="listen on a non-loopback address (not for onion deployments)",
    )
    run.add_argument("--threads", type=int, default=8)
    run.add_argument(
        "--connection-limit",
        type=int,
        default=100,
        help="most simultaneous connections (each slow upload holds one)",
    )

    export = commands.add_parser("export", help="write a signed bundle for the console")
    export.add_argument("--data", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--all", action="store_true", help="re-export everything still stored")

    importer = commands.add_parser("import", help="apply a signed response bundle")
    importer.add_argument("--data", type=Path, required=True)
    importer.add_argument("file", type=Path)

    health = commands.add_parser("check", help="the operator's health check")
    health.add_argument("--data", type=Path, required=True)
    health.add_argument("--spill-dir", type=Path, default=None)
    health.add_argument("--torrc", type=Path, default=Path("/etc/tor/torrc"))

    key_admin = commands.add_parser("keys", help="list, add or remove recipient/console keys")
    key_admin.add_argument("--data", type=Path, required=True)
    key_action = key_admin.add_mutually_exclusive_group()
    key_action.add_argument("--add-recipient", type=Path, metavar="PUBFILE")
    key_action.add_argument("--remove-recipient", metavar="FINGERPRINT")
    key_action.add_argument("--add-console-key", type=Path, metavar="VERIFYFILE")
    key_action.add_argument("--remove-console-key", metavar="FINGERPRINT")

    onion = commands.add_parser("onion", help="list, add or remove the site's onion address")
    onion.add_argument("--data", type=Path, required=True)
    onion_action = onion.add_mutually_exclusive_group()
    onion_action.add_argument("--add", metavar="NAME.onion")
    onion_action.add_argument("--remove", metavar="NAME.onion")

    daily = commands.add_parser("maintain", help="daily retention job")
    daily.add_argument("--data", type=Path, required=True)
    # Simulating later days (tests, rehearsals); the real job always runs on today.
    daily.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help=argparse.SUPPRESS)
    return parser


def _init(args: argparse.Namespace) -> int:
    recipients = [read_public_key(path, "recipient") for path in args.recipient]
    console_keys = [read_public_key(path, "verify") for path in args.console_key]
    if args.upload_limit_mib < 1:
        raise InstanceError("--upload-limit-mib must be at least 1")
    created = instance_module.create(
        args.data, recipients, console_keys, args.upload_limit_mib * 1024 * 1024
    )
    DropBox(created).setup()
    print(f"Instance created in {args.data}")
    for key in created.recipients:
        print(f"  recipient key   {key.fingerprint}")
    for key in created.console_keys:
        print(f"  console key     {key.fingerprint}")
    print(
        f"  server key      {created.server_public_key.fingerprint}  "
        f"({args.data / instance_module.SERVER_PUB_FILE}: give it to the console)"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    loaded = instance_module.load(args.data)
    spill_dir = args.spill_dir or default_spill_dir(loaded)
    print(f"Serving the source site on http://{args.host}:{args.port}/", flush=True)
    serve(
        loaded,
        args.host,
        args.port,
        spill_dir,
        args.allow_persistent_spill,
        args.allow_public_bind,
        args.threads,
        args.connection_limit,
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    box = DropBox(instance_module.load(args.data))
    summary = export_bundle(box, args.out, everything=args.all)
    if summary.entries == 0:
        print(
            f"Nothing new to export; wrote an empty bundle {summary.path} "
            f"(sequence {summary.sequence})."
        )
    else:
        print(
            f"Exported {summary.reports} report(s), {summary.entries} item(s) from "
            f"{summary.sources} source(s) to {summary.path} (sequence {summary.sequence})."
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    box = DropBox(instance_module.load(args.data))
    summary = import_bundle(box, args.file)
    print(
        f"Applied response bundle {summary.sequence}: {summary.replies} reply(ies), "
        f"{summary.statuses} status change(s), {summary.acks} acknowledged item(s) deleted "
        "from this server."
    )
    if summary.refused_acks:
        print(
            f"  ignored {summary.refused_acks} acknowledgement(s) that match nothing exported "
            "from this server"
        )
    for regno in summary.skipped:
        print(f"  skipped a response for {regno}: that report is no longer on this server")
    if summary.key_changes:
        # The console signed this change; the fingerprints are still read aloud with the
        # investigator, as at the key ceremony (docs/operator.md, 10).
        print("The console changed its keys (compare the fingerprints aloud with the console):")
        for line in summary.key_changes:
            print(f"  {line}")
        if any(line.startswith("recipient") for line in summary.key_changes):
            print("Restart the server (systemctl restart wbs-dropbox) to seal to the new key.")
    return 0


def _check(args: argparse.Namespace) -> int:
    loaded = instance_module.load(args.data)
    spill_dir = args.spill_dir or default_spill_dir(loaded)
    report = check(loaded, spill_dir, args.torrc)
    for note in report.notes:
        print(f"  {note}")
    for problem in report.problems:
        print(f"  PROBLEM: {problem}")
    print("OK" if not report.problems else f"{len(report.problems)} problem(s) found")
    return 0 if not report.problems else 1


def _keys(args: argparse.Namespace) -> int:
    data = args.data
    if args.add_recipient:
        changed = instance_module.change_keys(
            data, "recipients", add=read_public_key(args.add_recipient, "recipient")
        )
    elif args.remove_recipient:
        changed = instance_module.change_keys(
            data, "recipients", remove_fingerprint=args.remove_recipient
        )
    elif args.add_console_key:
        changed = instance_module.change_keys(
            data, "console_keys", add=read_public_key(args.add_console_key, "verify")
        )
    elif args.remove_console_key:
        changed = instance_module.change_keys(
            data, "console_keys", remove_fingerprint=args.remove_console_key
        )
    else:
        changed = instance_module.load(data)
    for key in changed.recipients:
        print(f"  recipient key   {key.fingerprint}")
    for key in changed.console_keys:
        print(f"  console key     {key.fingerprint}")
    for key, day in changed.retired_recipients:
        print(f"  retired recipient key  {key.fingerprint}  (since {day})")
    for key, day in changed.retired_console_keys:
        print(f"  retired console key    {key.fingerprint}  (since {day}: refused)")
    if any(
        (args.add_recipient, args.remove_recipient, args.add_console_key, args.remove_console_key)
    ):
        print("Saved. Restart the server (systemctl restart wbs-dropbox) to use the change.")
    return 0


def _onion(args: argparse.Namespace) -> int:
    changed = instance_module.change_onion_names(args.data, args.add, args.remove)
    for name in changed.onion_names:
        print(f"  onion address   {name}")
    if not changed.onion_names:
        print("  no onion address: the site answers on the loopback only")
    if args.add or args.remove:
        print("Saved. Restart the server (systemctl restart wbs-dropbox) to use the change.")
    return 0


def _maintain(args: argparse.Namespace) -> int:
    box = DropBox(instance_module.load(args.data))
    summary = maintain(box, args.as_of)
    print(
        f"Forgot {summary.forgotten_sources} unused source(s), deleted "
        f"{summary.deleted_reports} expired report(s), purged {summary.purged_items} item(s)."
    )
    return 0


HANDLED = (InstanceError, ExchangeError, ServeError, DatabaseError, CryptoFormatError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    # Everything the server writes is for its own user only, whatever the caller's umask.
    os.umask(0o077)
    args = _parser().parse_args(argv)
    handlers = {
        "init": _init,
        "serve": _serve,
        "export": _export,
        "import": _import,
        "check": _check,
        "maintain": _maintain,
        "keys": _keys,
        "onion": _onion,
    }
    try:
        return handlers[args.command](args)
    except HANDLED as error:
        message = str(error) or type(error).__name__
        if isinstance(error, OSError) and error.strerror:
            message = f"{error.filename or ''}: {error.strerror}".lstrip(": ")
        print(f"dropbox {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if args.command not in ("init", "serve") and (args.data / "config.json").exists():
            # Every read this command made of the data directory keeps day-only times.
            instance_module.hide_times_of_day(args.data)


if __name__ == "__main__":
    sys.exit(main())

"""The `journalist-console` commands: each unlocks, calls the operations, and prints the outcome.

One function per command (the parser is journalist_console/cli.py). A command decides nothing
itself: permissions, checks and every change are the operations' (reports, responses, staff,
settings, importer, exporter, files, retention, archive_reading); what is left here is reading
the arguments and the terminal, and the English the command line prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from journalist_console import (
    accounts,
    archive_reading,
    compliance,
    exporter,
    files,
    importer,
    render,
    reports,
    responses,
    retention,
    settings,
    staff,
    statistics,
    worklist,
)
from journalist_console.errors import ConsoleError
from journalist_console.home import DEFAULT_USER, Home
from journalist_console.terminal import (
    confirm_server_key,
    err,
    out,
    read_new_passphrase,
    read_passphrase,
    unlocked,
)
from journalist_console.vault import init_home
from keys.keyfiles import parse_public_key, read_public_key

EXIT_ERROR = 1


def cmd_init(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(args, "New passphrase: ")
    if args.passphrase_file is None:
        again = read_passphrase(args, "Repeat the passphrase: ")
        if again != passphrase:
            raise ConsoleError("the two passphrases differ; nothing was created")
    user = args.user or DEFAULT_USER
    result = init_home(Path(args.home), passphrase, due_days=args.due_days, user=user)
    home = Home(Path(args.home))
    out(f"Console created in {home.root}")
    out(f"  first investigator and administrator: {user}")
    out(f"  inspectorate recipient key: {home.inspectorate_pub}")
    out(f"    fingerprint {result.recipient.fingerprint}")
    out(f"  console verify key:         {home.console_pub}")
    out(f"    fingerprint {result.verify.fingerprint}")
    out("Give both .pub files to the operator and compare the fingerprints aloud.")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    server_key = None
    if args.server_key is not None:
        server_key = read_public_key(Path(args.server_key), "verify")
    with unlocked(args) as session:
        confirm = confirm_server_key if (server_key is None and sys.stdin.isatty()) else None
        result = importer.import_bundle(session, Path(args.file), server_key, confirm)
        arrived = worklist.arrivals(session, result.sequence)
    if result.pinned:
        out(f"Pinned the server key {result.pinned}; only this key is trusted from now on.")
    if result.already_imported:
        out(f"Bundle {result.sequence} was imported before; nothing changed.")
        return 0
    out(
        f"Imported bundle {result.sequence}: {result.new_reports} new reports, "
        f"{result.new_entries} new entries"
        + (f", {result.held_entries} already held" if result.held_entries else "")
        + "."
    )
    if arrived.new:
        out(f"New reports: {', '.join(arrived.new)}")
    if arrived.updated:
        out(f"Something new on: {', '.join(arrived.updated)}")
    if result.gap:
        first, last = result.gap
        missing = str(first) if first == last else f"{first} to {last}"
        out(f"warning: bundle(s) {missing} from this server were never imported here.")
    for regno in result.unreadable:
        out(f"warning: {regno} holds an envelope this console cannot decrypt (kept as is).")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        summaries = worklist.queue(
            session, args.status, args.category, args.mine, args.show, args.search
        )
    if args.json:
        out(json.dumps([s.as_json() for s in summaries], indent=1))
    else:
        out(render.report_list(summaries))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        view = reports.view(session, args.regno)
        reports.mark_viewed(session, view.summary.regno)
    out(render.report_view(view))
    return 0


def cmd_reply(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        responses.reply(session, args.regno, args.message)
        regno = reports.resolve(session, args.regno)
    out(f"Reply to {regno} recorded; it leaves with the next export.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        responses.set_status(session, args.regno, args.status, args.note or "")
        regno = reports.resolve(session, args.regno)
    out(f"{regno} is now {render.status_label(args.status)}; it leaves with the next export.")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        regno = responses.add_note(session, args.regno, args.text)
    out(f"Internal note added to {regno} (never exported).")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        saved = files.save_files(
            session, args.regno, Path(args.out), args.file, safe_only=args.safe_only
        )
    failed = 0
    for item in saved:
        if item.path is not None:
            out(f"saved {render.safe(str(item.path), False)}")
        for path in item.safe:
            out(f"  safe copy: {render.safe(str(path), False)}")
        if item.problem:
            failed += item.path is None and not args.safe_only
            out(f"  [{item.entry_id}] {item.problem}")
    return EXIT_ERROR if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        result = exporter.export_bundle(session, Path(args.out))
    if result.completed_interrupted:
        out(
            f"Completed the interrupted export {result.sequence} into {result.path}; "
            "run export again for anything newer."
        )
    elif result.empty:
        out(f"Nothing new to export; wrote an empty bundle {result.sequence} to {result.path}.")
    else:
        out(
            f"Wrote bundle {result.sequence} to {result.path}: {result.responses} responses, "
            f"{result.acks} acknowledgements."
        )
    change = result.key_change or {}
    if "new_recipient" in change:
        key = parse_public_key(change["new_recipient"], "recipient")
        out(f"It announces the new inspectorate key {key.fingerprint} to the server.")
    if "new_console_key" in change:
        key = parse_public_key(change["new_console_key"], "verify")
        out(f"It announces the new signing key {key.fingerprint}, which signs from now on.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from journalist_console import web  # Flask is only loaded for the web interface

    if args.passphrase_file is not None:
        out("note: serve asks for the passphrase in the browser; --passphrase-file is ignored")
    idle = {} if args.idle_seconds is None else {"idle_seconds": args.idle_seconds}
    web.serve(Home(Path(args.home)), args.host, args.port, user=args.user, **idle)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        if args.audit_command == "show":
            for entry in reversed(staff.audit_entries(session, args.limit)):
                out(
                    f"{entry.seq:>6} {entry.at} {entry.actor} {entry.action} "
                    f"{entry.regno or '-'} {render.safe(entry.detail, False)}"
                )
            return 0
        result = staff.verify_audit(session)
    if result.ok:
        out(f"Audit log intact: {result.count} entries; head {result.head}")
        if result.anchored:
            out(f"Entries 1 to {result.anchored} are as the server last confirmed them.")
        return 0
    err(f"audit log damaged: {result.problem}")
    return EXIT_ERROR


def cmd_stats(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        stats = statistics.stats(session)
        figures = compliance.figures(session)
    if args.csv:
        if args.out is None:
            compliance.write_csv(sys.stdout, figures, category_label=render.category_label)
        else:
            with Path(args.out).open("x", encoding="utf-8", newline="") as handle:
                compliance.write_csv(handle, figures, category_label=render.category_label)
            out(f"Wrote the figures of {len(figures.rows)} months and categories to {args.out}.")
        if figures.recused_left_out:
            err(f"note: {figures.recused_left_out} report(s) you recused from are not counted")
        return 0
    if args.json:
        document = stats.__dict__ | {"compliance": render.compliance_json(figures)}
        out(json.dumps(document, indent=1, sort_keys=True))
    else:
        out(render.stats_text(stats))
        out(render.compliance_text(figures))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        settings.configure(
            session,
            args.due_days,
            args.author,
            retention_days=args.retention_days,
            retention_mode=args.retention_mode,
            archive_dir=args.archive_dir,
            warn_day=args.warn_day,
            ocr=None if args.ocr is None else args.ocr == "on",
        )
        conn = session.conn
        mode = render.retention_text(settings.retention_days(conn), settings.retention_mode(conn))
        pinned = settings.pinned_server_key(conn)
        out(f"due days: {settings.due_days(conn)}")
        out(f"warning from day: {settings.warn_day(conn)}")
        out(f"reply author name: {settings.author_name(conn)}")
        out(f"retention: {mode}")
        out(f"archive folder: {settings.archive_folder(conn) or '(none)'}")
        out(f"OCR of safe copies: {'on' if settings.ocr_enabled(conn) else 'off'}")
        out(f"server key: {pinned.fingerprint if pinned else '(none pinned yet)'}")
        out(f"server instance: {settings.instance(conn) or '(none yet)'}")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    as_of = None if args.as_of is None else retention.parse_day(args.as_of)
    with unlocked(args) as session:
        result = retention.run(session, as_of, dry_run=args.dry_run, archive_dir=args.archive_dir)
    plan = result.plan
    if plan.off:
        out("Retention is off (config --retention-days 0): nothing is ever removed.")
        return 0
    out(
        f"Retention: finished reports whose last event is on or before {plan.cutoff} "
        f"({plan.days} days before {plan.as_of}); mode {plan.mode}"
        + (f", archives into {plan.archive_dir}" if plan.mode == "archive" else "")
        + "."
    )
    if plan.waiting:
        out(
            f"{plan.waiting} more past the limit wait for the next export (a response not yet "
            "exported or an entry not yet acknowledged to the server)."
        )
    if result.dry_run:
        verb = "archive and remove" if plan.mode == "archive" else "remove"
        out(f"Dry run: would {verb} {len(plan.due)} reports ({plan.envelopes} envelopes).")
        return 0
    if plan.mode == "archive":
        out(f"Archived {len(result.archives)} reports into {plan.archive_dir}.")
    out(f"Removed {result.removed} reports; {result.wiped} files overwritten and deleted.")
    if result.leftovers:
        out(f"warning: {result.leftovers} files could not be deleted now; the next unlock will.")
    for regno, why in result.not_archived:
        err(f"{regno} was not archived, so it stays on the console: {why}")
    return EXIT_ERROR if result.not_archived else 0


def cmd_archive(args: argparse.Namespace) -> int:
    folder = None if args.archive_command == "show" else Path(args.out)
    with unlocked(args) as session:
        opened = archive_reading.open_archive(session, Path(args.file), folder)
    if opened.folder is None:
        out(archive_reading.render_text(opened.document).rstrip("\n"))
    else:
        regno = render.safe(str(opened.document["regno"]), False)
        out(f"Extracted {regno} into {render.safe(str(opened.folder), False)}")
        for path in opened.written:
            out(f"  {render.safe(path.name, False)}")
    return 0


def cmd_passphrase(args: argparse.Namespace) -> int:
    """The acting investigator's own passphrase (`user passphrase NAME` resets another's)."""
    with unlocked(args, "Current passphrase: ") as session:
        staff.set_passphrase(session, session.investigator, lambda: read_new_passphrase(args))
    out("Passphrase changed.")
    return 0


def cmd_recipient(args: argparse.Namespace) -> int:
    key = read_public_key(Path(args.pubfile), "recipient")
    with unlocked(args) as session:
        settings.add_recipient(session, key, args.label or "")
    out(f"Responses are now also sealed to {key.fingerprint}.")
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    command = args.user_command
    with unlocked(args) as session:
        if command == "list":
            listed = accounts.all_accounts(session.conn)
            if args.json:
                out(json.dumps([account.as_json() for account in listed], indent=1))
            else:
                out(render.account_list(listed))
            return 0
        if command == "add":
            account = staff.add_user(
                session,
                args.name,
                lambda: read_new_passphrase(args, f" for {args.name}"),
                admin=args.admin,
                display_name=args.display_name,
            )
            author = settings.author_name(session.conn)
            shown = account.display_name or f"{author} (the console's author name)"
            out(f"Added {account.role} {account.name}; their replies are signed {shown!r}.")
            return 0
        if command == "remove":
            unassigned = staff.remove_user(session, args.name)
            out(f"Removed {args.name}: their passphrase no longer unlocks this console.")
            if unassigned:
                out(f"No longer assigned to anyone: {', '.join(unassigned)}")
            out("If they may have kept the vault key or a copy of their box: keys rekey-vault,")
            out("then keys rotate-recipient and keys rotate-signing (docs/operator.md, 10).")
            return 0
        if command == "passphrase":
            name = args.name or session.investigator
            whose = "" if name == session.investigator else f" for {name}"
            staff.set_passphrase(session, name, lambda: read_new_passphrase(args, whose))
            own = name == session.investigator
            out("Passphrase changed." if own else f"Passphrase of {name} reset.")
            return 0
        # edit
        role = None if args.admin is None else (accounts.ADMIN if args.admin else "investigator")
        account = staff.edit_user(
            session,
            args.name,
            role=role,
            display_name=args.display_name,
            clear_display_name=args.default_display_name,
        )
    shown = account.display_name or "(the console's author name)"
    out(f"{account.name}: {account.role}; replies signed {shown}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    name = args.to or args.name
    if args.to and args.name and args.to != args.name:
        raise ConsoleError("give the investigator once: NAME or --to NAME")
    if not name:
        raise ConsoleError("say whom to assign it to: assign REGNO NAME (or --to NAME)")
    with unlocked(args) as session:
        regno = staff.assign(session, args.regno, name)
    out(f"{regno} is assigned to {name}.")
    return 0


def cmd_unassign(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        previous = staff.unassign(session, args.regno)
        regno = reports.resolve(session, args.regno)
    out(
        f"{regno} is no longer assigned to {previous}."
        if previous
        else f"{regno} was not assigned."
    )
    return 0


def cmd_recuse(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        regno = staff.recuse(session, args.regno, args.reason or "")
        user = session.investigator
    out(
        f"{user} is recused from {regno}: from now on this console keeps {user} out of it. "
        "Only another administrator can lift a recusal."
    )
    return 0


def cmd_unrecuse(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        regno = staff.lift_recusal(session, args.regno, args.name)
    out(f"The recusal of {args.name} from {regno} is lifted.")
    return 0


def cmd_recusals(args: argparse.Namespace) -> int:
    with unlocked(args) as session:
        listed = staff.recusals(session, include_lifted=args.all)
    if args.json:
        out(json.dumps([recusal.as_json() for recusal in listed], indent=1))
    else:
        out(render.recusal_list(listed))
    return 0

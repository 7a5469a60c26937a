"""`retention`: remove finished reports the retention limit has passed (the console's side).

The policy lives in the settings table (`config --retention-days N --retention-mode delete|archive
--archive-dir DIR`, administrators only): a report whose status is final (closed, rejected or
forwarded: reports.closed_day is set) is removed `retention_days` (default 365; 0 = keep forever)
after its last event: the day it got its final status, or anything later (a follow-up from the
reporter, sent or imported later, or a reply written after closing). A report is never removed
while one of its responses has not left in a written export or one of its entries has not been
acknowledged to the server in one: it waits for the next export.

A run (administrators only; `retention [--dry-run]`, or the web page):

1. plans: which reports are due, and how many more are past the limit but wait for an export;
2. in archive mode writes and verifies one archive per report (journalist_console/archive.py);
   a report whose archive cannot be written stays on the console;
3. one transaction keeps each report's part of the compliance figures as counts without its
   register number (compliance.fold), deletes the reports' rows (entries, responses, notes,
   drafts, assignment, recusals, the report, and the source when it has no report left) and
   appends ONE audit entry
   "retention" with the mode and the number of reports removed, nothing that names a report;
4. after the commit, overwrites and unlinks the reports' envelopes in the store, and the response
   bundles in exports/ (the web interface's copies, which hold response envelopes too) written
   on or before the same cutoff day. If the process dies before that, the envelopes are orphans
   without rows that the next unlock overwrites and deletes (Session.cleanup), and old bundles go
   at the next run. If the transaction fails, the archives just written are deleted again.

The audit log is a hash chain: older entries (viewed, replied, status_changed, ...) keep naming the
register numbers of removed reports, because rewriting them would break the chain that proves the
log was not edited. See docs/console-design.md, "Retention".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journalist_console import (
    accounts,
    archive,
    audit,
    compliance,
    dates,
    exporter,
    schema,
    settings,
)
from journalist_console.archive_format import ArchiveError
from journalist_console.errors import InvalidInput
from journalist_console.session import Session
from keys.disk import wipe_file

# Per finished report: the days of everything that happened to it, and how many of its envelopes
# have not yet left in a written export (responses) or been acknowledged in one (entries).
_CANDIDATES = """
WITH ent AS (
    SELECT e.regno,
           max(e.day) AS entry_day,
           max(i.imported_day) AS imported_day,
           sum(CASE WHEN e.ack_seq IS NULL OR x.state IS NOT 'written' THEN 1 ELSE 0 END)
               AS waiting,
           count(*) AS envelopes
    FROM entries e
    LEFT JOIN imports i ON i.sequence = e.import_seq
        AND i.instance = (SELECT value FROM settings WHERE name = 'server_instance')
    LEFT JOIN exports x ON x.sequence = e.ack_seq
    GROUP BY e.regno
), res AS (
    SELECT p.regno,
           max(p.day) AS response_day,
           sum(CASE WHEN p.export_seq IS NULL OR x.state IS NOT 'written' THEN 1 ELSE 0 END)
               AS waiting,
           count(*) AS envelopes
    FROM responses p
    LEFT JOIN exports x ON x.sequence = p.export_seq
    GROUP BY p.regno
)
SELECT r.regno, r.closed_day,
       ent.entry_day, ent.imported_day, res.response_day,
       coalesce(ent.waiting, 0) + coalesce(res.waiting, 0) AS waiting,
       coalesce(ent.envelopes, 0) + coalesce(res.envelopes, 0) AS envelopes
FROM reports r
LEFT JOIN ent ON ent.regno = r.regno
LEFT JOIN res ON res.regno = r.regno
WHERE r.closed_day IS NOT NULL
ORDER BY r.regno
"""


# Every row of a report, children first (foreign keys are on).
_DELETE_REPORT = (
    # Kept: the ids of its entries (acknowledged already), so a copy sent again stays away.
    "INSERT OR IGNORE INTO retained(entry_id, sha256, ack_seq) "
    "SELECT entry_id, sha256, ack_seq FROM entries WHERE regno = ?",
    "DELETE FROM entries WHERE regno = ?",
    "DELETE FROM responses WHERE regno = ?",
    "DELETE FROM notes WHERE regno = ?",
    "DELETE FROM drafts WHERE regno = ?",
    "DELETE FROM assignments WHERE regno = ?",
    "DELETE FROM recusals WHERE regno = ?",
    "DELETE FROM reports WHERE regno = ?",
)


@dataclass(frozen=True)
class Plan:
    """What a run on `as_of` would do. `due` names reports: it is never written anywhere."""

    as_of: dt.date
    days: int
    mode: str
    archive_dir: str | None
    cutoff: dt.date | None  # a report whose last event is on or before this day is due
    due: tuple[str, ...] = ()
    envelopes: int = 0  # envelope files of the due reports
    waiting: int = 0  # past the limit, but something of theirs has not left in an export yet
    bundles: tuple[Path, ...] = ()  # exports/ bundles written on or before the cutoff

    @property
    def off(self) -> bool:
        return self.days == 0


@dataclass
class Result:
    plan: Plan
    dry_run: bool
    removed: int = 0
    archives: list[Path] = field(default_factory=list)
    not_archived: list[tuple[str, str]] = field(default_factory=list)  # (regno, why)
    wiped: int = 0  # files overwritten and unlinked after the commit
    leftovers: int = 0  # files that could not be wiped now (the next unlock removes them)


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text[:20]!r} is not a day (YYYY-MM-DD)") from None


def plan(session: Session, as_of: dt.date | None = None) -> Plan:
    """Which finished reports are past the retention limit on `as_of` (default: today)."""
    as_of = as_of or dates.today()
    days = settings.retention_days(session.conn)
    mode = settings.retention_mode(session.conn)
    folder = settings.archive_folder(session.conn)
    if days == 0:
        return Plan(as_of, 0, mode, folder, None)
    cutoff = as_of - dt.timedelta(days=days)
    due: list[str] = []
    envelopes = 0
    waiting = 0
    for row in session.conn.execute(_CANDIDATES).fetchall():
        events = [
            row["closed_day"],
            row["entry_day"],
            row["imported_day"],
            row["response_day"],
        ]
        last = max(day for day in events if day is not None)
        if dates.parse_day(last) > cutoff:
            continue
        if row["waiting"]:
            waiting += 1
            continue
        due.append(row["regno"])
        envelopes += int(row["envelopes"])
    return Plan(
        as_of,
        days,
        mode,
        folder,
        cutoff,
        tuple(due),
        envelopes,
        waiting,
        _old_bundles(session, cutoff),
    )


def _old_bundles(session: Session, cutoff: dt.date) -> tuple[Path, ...]:
    """The web interface's bundle files (exports/) of exports created on or before `cutoff`."""
    created = {
        int(row[0]): str(row[1])
        for row in session.conn.execute("SELECT sequence, created_day FROM exports")
    }
    old = []
    for path in sorted(exporter.bundle_files(session.home)):
        match = exporter.BUNDLE_NAME.match(path.name)
        day = created.get(int(match.group(1))) if match else None
        if day is not None and dates.parse_day(day) <= cutoff:
            old.append(path)
    return tuple(old)


def run(
    session: Session,
    as_of: dt.date | None = None,
    dry_run: bool = False,
    archive_dir: str | None = None,
    confirm: Callable[[], None] | None = None,
) -> Result:
    """Apply the retention policy (administrators only); `dry_run` changes nothing.

    `confirm` (the web page's confirmation box and passphrase) is asked once the acting
    investigator is known to be an administrator.
    """
    accounts.require_admin(session.conn, session.investigator, "run retention")
    if confirm is not None:
        confirm()
    rehearsal = as_of is not None and as_of != dates.today()
    planned = plan(session, as_of)
    if archive_dir and planned.mode != "archive":
        raise InvalidInput(
            "an archive folder was given but the retention mode is delete "
            "(config --retention-mode archive)"
        )
    folder: Path | None = None
    if planned.mode == "archive" and not planned.off:
        chosen = archive_dir or planned.archive_dir
        if not chosen:
            raise settings.archive_folder_needed()
        folder = settings.check_archive_dir(session.home, chosen)
        planned = dataclasses.replace(planned, archive_dir=str(folder))
    result = Result(planned, dry_run)
    if planned.off or dry_run:
        return result
    removing: list[str] = []
    try:
        if folder is not None:
            archive.remove_partials(folder)
            recipients = settings.recipients(session)
            for regno in planned.due:
                try:
                    written = archive.write_archive(session, regno, folder, recipients)
                except ArchiveError as exc:
                    result.not_archived.append((regno, str(exc)))
                    continue
                result.archives.append(written.path)
                removing.append(regno)
        else:
            removing = list(planned.due)
        detail: dict[str, Any] = {"mode": planned.mode, "reports": len(removing)}
        if rehearsal:
            detail["as_of"] = planned.as_of.isoformat()
        if result.not_archived:
            detail["not_archived"] = len(result.not_archived)
        paths = _delete(session, removing, detail)
    except BaseException:
        for path in result.archives:
            wipe_file(path)
        result.archives.clear()
        raise
    result.removed = len(removing)
    for path in [*paths, *planned.bundles]:
        try:
            if wipe_file(path):
                result.wiped += 1
        except OSError:
            result.leftovers += 1
    return result


def _delete(session: Session, regnos: list[str], detail: dict[str, Any]) -> list[Path]:
    """One transaction: the reports' rows and the audit entry; returns the files to wipe after."""
    conn = session.conn
    home = session.home
    paths: list[Path] = []
    with schema.transaction(conn):
        for regno in regnos:
            for row in conn.execute(
                "SELECT entry_id FROM entries WHERE regno = ?", (regno,)
            ).fetchall():
                paths.append(home.entry_path(row["entry_id"]))
                paths.extend(home.rendition_files(row["entry_id"]))  # its row goes by cascade
            for row in conn.execute(
                "SELECT response_id FROM responses WHERE regno = ?", (regno,)
            ).fetchall():
                paths.append(home.response_path(row["response_id"]))
            source = conn.execute(
                "SELECT source_id FROM reports WHERE regno = ?", (regno,)
            ).fetchone()
            # Its part of the compliance figures stays, as counts (see compliance.py).
            compliance.fold(conn, regno)
            for statement in _DELETE_REPORT:
                conn.execute(statement, (regno,))
            if source is not None:
                conn.execute(
                    "DELETE FROM sources WHERE source_id = ? "
                    "AND NOT EXISTS (SELECT 1 FROM reports WHERE source_id = ?)",
                    (source[0], source[0]),
                )
        audit.append(conn, session.investigator, "retention", None, detail)
    return paths


def overview(session: Session) -> dict[str, Any]:
    """The setting and a dry-run preview in counts only (no register number), for a page."""
    preview = plan(session)
    return {
        "days": preview.days,
        "mode": preview.mode,
        "archive_dir": preview.archive_dir,
        "due": len(preview.due),
        "waiting": preview.waiting,
        "cutoff": preview.cutoff.isoformat() if preview.cutoff else None,
    }

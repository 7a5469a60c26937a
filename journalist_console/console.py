"""The unlocked console: the investigator's operations on reports, shared by the CLI and the web UI.

A Console exists only after an unlock (the vault's keys are in memory) and while the home's lock is
held by this process. Every change is one database transaction that also appends its audit entry;
a response's envelope is written (and fsynced) into the store before the transaction that records
it commits, and an envelope the database does not know is an orphan removed at the next start-up,
so a crash at any point leaves the console as it was before the action or as it is after it.

Decryption happens in memory (report text, follow-ups, replies) or into a file the investigator
chose (`save`); the store and the database never hold plaintext outside SQLCipher.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import statistics
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from journalist_console import accounts, audit, dates, schema
from journalist_console.errors import ConsoleError, InvalidInput, UnknownReport, Unreadable
from journalist_console.home import (
    Home,
    HomeLock,
    VaultSecrets,
    cleanup_boxes,
    unlock_vault,
)
from keys import envelope, keyfiles, payload
from keys.disk import wipe_file
from keys.documents import (
    DocumentError,
    FollowupDocument,
    ReplyDocument,
    ReportDocument,
    StatusDocument,
)
from keys.errors import EnvelopeError, KeyFileError
from keys.keytypes import RecipientIdentity, RecipientKey
from keys.records import CATEGORIES, FINAL_STATUSES, STATUSES, new_id, normalize_regno

MAX_REPLY_CHARS = 10_000
MAX_NOTE_CHARS = 10_000
MAX_STATUS_NOTE_CHARS = 2_000
MAX_AUTHOR_CHARS = 60
MAX_DOCUMENT_BYTES = 1024 * 1024  # a report, follow-up or response document
CRITERIA = ("what", "who", "where", "when", "how")
RETENTION_MODES = ("delete", "archive")


def clean_text(text: str) -> str:
    """Normalise what an investigator typed: newlines to \\n, no control characters but \\n/\\t."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


@dataclass(frozen=True)
class ReportSummary:
    regno: str
    category: str | None
    received_day: str
    due_day: str
    days_left: int
    overdue: bool
    status: str
    status_day: str
    final: bool
    unread: int
    readable: bool
    assignee: str | None = None
    recused: bool = False  # the acting investigator recused themselves: show nothing else

    def as_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "regno": self.regno,
            "category": self.category,
            "received_day": self.received_day,
            "due_day": self.due_day,
            "days_left": self.days_left,
            "overdue": self.overdue,
            "status": self.status,
            "status_day": self.status_day,
            "unread": self.unread,
            "readable": self.readable,
            "assignee": self.assignee,
            "recused": self.recused,
        }
        if self.recused:
            # Same keys, nothing but the register number: a recused investigator learns nothing.
            row = {key: None for key in row} | {"regno": self.regno, "recused": True}
        return row


@dataclass(frozen=True)
class FileInfo:
    entry_id: str
    day: str
    parent: str | None
    readable: bool
    name: str | None
    media_type: str | None
    size: int | None


@dataclass(frozen=True)
class StatusEvent:
    day: str
    status: str
    note: str
    automatic: bool
    exported: bool | None  # None: arrived with the report (the server set it)
    problem: str | None = None
    actor: str = ""  # the investigator who changed it ("" for the server's automatic status)


@dataclass(frozen=True)
class Message:
    day: str
    sender: str  # "reporter" or "inspectorate"
    kind: str  # report | followup | reply
    text: str
    author: str = ""
    exported: bool | None = None
    problem: str | None = None
    files: tuple[FileInfo, ...] = ()
    unread: bool = False
    actor: str = ""  # for a reply: the investigator who wrote it (author is what the reporter sees)


@dataclass(frozen=True)
class Note:
    day: str
    author: str
    text: str


@dataclass
class ReportView:
    summary: ReportSummary
    designation: str
    fields: ReportDocument | None
    problem: str | None
    files: list[FileInfo] = field(default_factory=list)
    history: list[StatusEvent] = field(default_factory=list)
    conversation: list[Message] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    acknowledged_day: str | None = None
    first_response_day: str | None = None
    closed_day: str | None = None
    assignee: str | None = None
    assigned_day: str | None = None
    assigned_by: str | None = None
    # Who is recused from this report: filled only for administrators (see accounts.py).
    recusals: list[accounts.Recusal] = field(default_factory=list)


@dataclass(frozen=True)
class Stats:
    total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    overdue: int
    unread: int
    median_days_to_acknowledge: float | None
    median_days_to_first_response: float | None
    median_days_to_close: float | None
    pending_responses: int
    pending_acks: int


class _Discard:
    def write(self, data: bytes, /) -> int:
        return len(data)


class Console:
    """An unlocked console home. Use as a context manager, or call close()."""

    def __init__(
        self,
        home: Home,
        vault: VaultSecrets,
        conn: schema.Connection,
        user: str,
        lock: HomeLock,
        vault_key: bytes = b"",
    ) -> None:
        self.home = home
        self.vault = vault
        self.conn = conn
        self.user = user  # the authenticated investigator: the actor of every audit entry
        self.vault_key = vault_key  # to seal a box for a new investigator or a new passphrase
        self._lock = lock
        # One operation at a time, whatever thread the web server runs a request on.
        self.mutex = threading.RLock()

    @classmethod
    def open(
        cls,
        home: Home,
        passphrase: bytes,
        user: str | None = None,
        lock: HomeLock | None = None,
    ) -> Console:
        """Lock the home (unless the caller holds `lock`), unlock the vault, open the database.

        `user` (default: the home's default investigator) must have an active account.
        """
        home.require_initialised()
        own_lock = lock is None
        held = lock or HomeLock(home)
        if own_lock:
            held.acquire()
        try:
            name = home.resolve_user(user)
            vault_key, vault = unlock_vault(home, passphrase, name)
            conn = schema.connect(home.database, vault.db_key)
        except BaseException:
            if own_lock:
                held.release()
            raise
        console = cls(home, vault, conn, name, held if own_lock else HomeLock(home), vault_key)
        try:
            accounts.admit(conn, home, name)
            console.cleanup()
        except BaseException:
            console.close()
            raise
        return console

    def close(self) -> None:
        self.conn.close()
        self._lock.release()

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- housekeeping -------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Remove what an interrupted import or response left behind (never anything recorded)."""
        staging = self.home.staging_dir
        staging.mkdir(mode=0o700, exist_ok=True)
        for leftover in staging.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        known_entries = {r[0] for r in self.conn.execute("SELECT entry_id FROM entries")}
        known_responses = {r[0] for r in self.conn.execute("SELECT response_id FROM responses")}
        for directory, known in (
            (self.home.entries_dir, known_entries),
            (self.home.responses_dir, known_responses),
        ):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            for path in directory.iterdir():
                stem = path.name.removesuffix(".env")
                if not path.name.endswith(".env") or stem not in known:
                    # Overwritten, not just unlinked: an envelope whose row is gone may be what a
                    # retention run removed just before the process died (see retention.py).
                    wipe_file(path)
        cleanup_boxes(self.home)
        accounts.wipe_removed_boxes(self)

    # -- who is acting ------------------------------------------------------------------------

    @property
    def account(self) -> accounts.Account:
        account = accounts.get(self.conn, self.user)
        if account is None or not account.active:  # removed while unlocked: never by itself
            raise ConsoleError(f"the investigator {self.user!r} no longer has an account")
        return account

    @property
    def is_admin(self) -> bool:
        return self.account.is_admin

    @property
    def reply_author(self) -> str:
        """The name the reporter sees on this investigator's replies."""
        return accounts.display_name_for(self, self.user)

    # -- settings -----------------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        return schema.get_setting(self.conn, name)

    @property
    def due_days(self) -> int:
        return int(self.setting("due_days") or dates.DEFAULT_DUE_DAYS)

    @property
    def author_name(self) -> str:
        return self.setting("author_name") or "Inspektorat"

    @property
    def instance(self) -> str | None:
        return self.setting("server_instance")

    @property
    def pinned_server_key(self) -> keyfiles.PublicKey | None:
        line = self.setting("server_key")
        return None if line is None else keyfiles.parse_public_key(line, "verify")

    @property
    def retention_days(self) -> int:
        """Days after a finished report's last event until `retention` removes it; 0: never."""
        value = self.setting("retention_days")
        return dates.DEFAULT_RETENTION_DAYS if value is None else int(value)

    @property
    def retention_mode(self) -> str:
        """What retention does with a due report: delete it, or archive it first, then delete."""
        return self.setting("retention_mode") or RETENTION_MODES[0]

    @property
    def archive_dir(self) -> str | None:
        """The folder retention writes archives into (mode "archive")."""
        return self.setting("retention_archive_dir")

    def check_archive_dir(self, folder: str) -> Path:
        """An absolute path of an existing folder outside the console's home."""
        path = Path(folder)
        if not folder or "\x00" in folder or not path.is_absolute():
            raise InvalidInput(
                "give the archive folder as a full path (it must exist)", "archive_dir_absolute"
            )
        if not path.is_dir():
            raise InvalidInput(
                f"the archive folder {folder} does not exist (or is not a folder)",
                "archive_dir_missing",
                folder=folder,
            )
        resolved, home = path.resolve(), self.home.root.resolve()
        if resolved == home or home in resolved.parents:
            raise InvalidInput(
                "the archive folder must be outside the console's home: an archive there would "
                "keep what retention removes",
                "archive_dir_in_home",
            )
        return path

    def configure(
        self,
        due_days: int | None = None,
        author: str | None = None,
        retention_days: int | None = None,
        retention_mode: str | None = None,
        archive_dir: str | None = None,
    ) -> None:
        given = (due_days, author, retention_days, retention_mode, archive_dir)
        if any(value is not None for value in given):
            accounts.require_admin(self, "change the console's settings")
        changes: dict[str, Any] = {}
        if due_days is not None:
            if not 1 <= due_days <= dates.MAX_DUE_DAYS:
                raise InvalidInput(f"due days must be between 1 and {dates.MAX_DUE_DAYS}")
            changes["due_days"] = due_days
        if author is not None:
            author = clean_text(author).strip()
            if not author or len(author) > MAX_AUTHOR_CHARS or "\n" in author:
                raise InvalidInput(f"the author name must be one line of 1 to {MAX_AUTHOR_CHARS}")
            changes["author_name"] = author
        if retention_days is not None:
            if retention_days != 0 and not (
                dates.MIN_RETENTION_DAYS <= retention_days <= dates.MAX_RETENTION_DAYS
            ):
                raise InvalidInput(
                    f"retention days must be 0 (keep forever) or between "
                    f"{dates.MIN_RETENTION_DAYS} and {dates.MAX_RETENTION_DAYS}",
                    "retention_days_range",
                    low=dates.MIN_RETENTION_DAYS,
                    high=dates.MAX_RETENTION_DAYS,
                )
            changes["retention_days"] = retention_days
        if archive_dir is not None:
            changes["retention_archive_dir"] = str(self.check_archive_dir(archive_dir))
        if retention_mode is not None:
            if retention_mode not in RETENTION_MODES:
                raise InvalidInput(
                    f"the retention mode is one of: {', '.join(RETENTION_MODES)}",
                    "retention_mode_unknown",
                )
            if retention_mode == "archive" and not (
                changes.get("retention_archive_dir") or self.archive_dir
            ):
                raise InvalidInput(
                    "archive mode needs an archive folder (--archive-dir DIR)",
                    "archive_dir_needed",
                )
            changes["retention_mode"] = retention_mode
        if not changes:
            return
        with schema.transaction(self.conn):
            for name, value in changes.items():
                schema.set_setting(self.conn, name, str(value))
            audit.append(self.conn, self.user, "configured", None, changes)

    def inspectorate_recipients(self) -> list[RecipientKey]:
        """This console's own key first, then any extra inspectorate keys configured."""
        keys = [self.vault.identity.public_key]
        for row in self.conn.execute("SELECT public_key FROM recipients ORDER BY added_day"):
            keys.append(keyfiles.parse_public_key(row[0], "recipient").as_recipient())
        return keys

    def add_recipient(self, key: keyfiles.PublicKey, label: str) -> None:
        accounts.require_admin(self, "add an inspectorate recipient key")
        if key.kind != "recipient":
            raise InvalidInput("not a recipient key")
        if key.as_recipient() == self.vault.identity.public_key:
            raise InvalidInput("that is this console's own key")
        label = clean_text(label).strip()[:60] or key.fingerprint
        with schema.transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO recipients(public_key, label, added_day) VALUES (?, ?, ?)",
                (key.to_line(), label, dates.today().isoformat()),
            )
            audit.append(
                self.conn, self.user, "recipient_added", None, {"fingerprint": key.fingerprint}
            )

    # -- reading envelopes ----------------------------------------------------------------------

    def identities(self) -> list[RecipientIdentity]:
        return [self.vault.identity]

    def open_document(self, path: Path) -> tuple[dict[str, Any], bytes]:
        """Decrypt a small envelope (report, follow-up, response) in memory."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise Unreadable("its envelope is missing from the console's store") from None
        except OSError as exc:
            raise Unreadable(f"its envelope cannot be read ({exc.strerror})") from None
        try:
            return payload.open_bytes(data, self.identities(), max_content=MAX_DOCUMENT_BYTES)
        except EnvelopeError as exc:
            raise Unreadable(f"it cannot be decrypted with this console's key ({exc})") from None

    def decrypt_file(self, entry_id: str, sink: envelope.Writable) -> tuple[dict[str, Any], int]:
        """Stream a file entry's content into `sink`; a partial write must be discarded on error."""
        path = self.home.entry_path(entry_id)
        try:
            source: BinaryIO = path.open("rb")
        except FileNotFoundError:
            raise Unreadable("the file's envelope is missing from the console's store") from None
        except OSError as exc:
            raise Unreadable(f"the file's envelope cannot be read ({exc.strerror})") from None
        with source:
            try:
                return payload.read_payload(source, self.identities(), sink)
            except EnvelopeError as exc:
                raise Unreadable(f"the file cannot be decrypted ({exc})") from None

    def read_file_bytes(self, regno: str, entry_id: str, max_bytes: int) -> tuple[FileInfo, bytes]:
        info = self.file_info(regno, entry_id)
        if info.size is not None and info.size > max_bytes:
            raise InvalidInput(
                "the file is too large to open here; save it to a folder instead", "file_too_large"
            )
        out = io.BytesIO()
        self.decrypt_file(entry_id, out)
        return info, out.getvalue()

    def probe_file(self, path: Path) -> tuple[dict[str, Any], int]:
        """Decrypt a staged file envelope to nowhere: checks it whole and returns (meta, size)."""
        with path.open("rb") as source:
            return payload.read_payload(source, self.identities(), _Discard())

    # -- queries ------------------------------------------------------------------------------

    def resolve(self, regno_text: str) -> str:
        """The canonical register number of a report the acting investigator may open.

        UnknownReport if there is no such report; Recused if they recused themselves from it.
        Every operation that opens or changes a report goes through here.
        """
        regno = self.resolve_any(regno_text)
        accounts.require_not_recused(self, regno)
        return regno

    def resolve_any(self, regno_text: str) -> str:
        """The canonical register number, without the recusal check (recusal bookkeeping only)."""
        regno = normalize_regno(regno_text)
        if regno is None:
            raise UnknownReport(
                f"{regno_text[:40]!r} is not a valid register number", "invalid_regno"
            )
        row = self.conn.execute("SELECT 1 FROM reports WHERE regno = ?", (regno,)).fetchone()
        if row is None:
            raise UnknownReport(
                f"no report {regno} is held by this console", "unknown_report", regno=regno
            )
        return regno

    def _summary(self, row: Any, today: dt.date) -> ReportSummary:
        recused = row["recused_day"] is not None
        due = dates.due_day(dates.parse_day(row["received_day"]), self.due_days)
        left = dates.days_left(due, today)
        final = row["status"] in FINAL_STATUSES
        return ReportSummary(
            regno=row["regno"],
            category=row["category"],
            received_day=row["received_day"],
            due_day=due.isoformat(),
            days_left=left,
            overdue=(not final) and left < 0,
            status=row["status"],
            status_day=row["status_day"],
            final=final,
            unread=int(row["unread"]),
            readable=bool(row["readable"]),
            assignee=None if recused else row["assignee"],
            recused=recused,
        )

    _SUMMARY_SQL = """
        SELECT r.regno, r.category, r.received_day, r.status, r.status_day,
               (SELECT count(*) FROM entries e WHERE e.regno = r.regno AND e.seen = 0) AS unread,
               (SELECT count(*) FROM entries e
                 WHERE e.regno = r.regno AND e.kind = 'report' AND e.readable = 1) AS readable,
               a.assignee AS assignee,
               (SELECT c.day FROM recusals c WHERE c.regno = r.regno AND c.investigator = :me
                  AND c.lifted_day IS NULL) AS recused_day
        FROM reports r LEFT JOIN assignments a ON a.regno = r.regno
    """

    def list_reports(
        self, status: str | None = None, category: str | None = None, mine: bool = False
    ) -> list[ReportSummary]:
        """Reports by urgency: open ones by days left (most overdue first), then finished ones.

        Reports the acting investigator recused themselves from come last, by register number,
        with nothing but that number (and only when no filter is given: a filter would tell).
        `mine`: only the reports assigned to the acting investigator.
        """
        if status and status not in STATUSES:
            raise InvalidInput(f"unknown status {status!r}; valid: {', '.join(STATUSES)}")
        if category and category not in CATEGORIES:
            raise InvalidInput(f"unknown category {category!r}; valid: {', '.join(CATEGORIES)}")
        today = dates.today()
        rows = self.conn.execute(self._SUMMARY_SQL, {"me": self.user}).fetchall()
        everything = [self._summary(row, today) for row in rows]
        summaries = [s for s in everything if not s.recused]
        recused = sorted((s for s in everything if s.recused), key=lambda s: s.regno)
        if status:
            summaries = [s for s in summaries if s.status == status]
        if category:
            summaries = [s for s in summaries if s.category == category]
        if mine:
            summaries = [s for s in summaries if s.assignee == self.user]
        open_ = sorted(
            (s for s in summaries if not s.final), key=lambda s: (s.days_left, -s.unread, s.regno)
        )
        done = sorted(
            (s for s in summaries if s.final), key=lambda s: (s.status_day, s.regno), reverse=True
        )
        hidden = [] if (status or category or mine) else recused
        return open_ + done + hidden

    def summary(self, regno: str) -> ReportSummary:
        row = self.conn.execute(
            self._SUMMARY_SQL + " WHERE r.regno = :regno", {"me": self.user, "regno": regno}
        ).fetchone()
        if row is None:
            raise UnknownReport(f"no report {regno} is held by this console")
        return self._summary(row, dates.today())

    def file_info(self, regno: str, entry_id: str) -> FileInfo:
        accounts.require_not_recused(self, regno)
        row = self.conn.execute(
            "SELECT * FROM entries WHERE entry_id = ? AND regno = ? AND kind = 'file'",
            (entry_id, regno),
        ).fetchone()
        if row is None:
            raise InvalidInput(f"report {regno} has no file {entry_id[:40]!r}")
        return _file_info(row)

    def files(self, regno: str) -> list[FileInfo]:
        accounts.require_not_recused(self, regno)
        rows = self.conn.execute(
            "SELECT * FROM entries WHERE regno = ? AND kind = 'file' ORDER BY import_seq, rowid",
            (regno,),
        ).fetchall()
        return [_file_info(row) for row in rows]

    def view(self, regno_text: str) -> ReportView:
        """The decrypted report (no side effects: see mark_viewed)."""
        regno = self.resolve(regno_text)
        summary = self.summary(regno)
        report = self.conn.execute(
            "SELECT r.*, s.designation FROM reports r JOIN sources s USING (source_id) "
            "WHERE r.regno = ?",
            (regno,),
        ).fetchone()
        entries = self.conn.execute(
            "SELECT * FROM entries WHERE regno = ? ORDER BY import_seq, rowid", (regno,)
        ).fetchall()
        files = [_file_info(row) for row in entries if row["kind"] == "file"]
        by_parent: dict[str | None, list[FileInfo]] = {}
        for info in files:
            by_parent.setdefault(info.parent, []).append(info)
        fields: ReportDocument | None = None
        problem: str | None = "the report itself has not arrived yet"
        conversation: list[tuple[str, int, Message]] = []
        for order, row in enumerate(entries):
            if row["kind"] == "file":
                continue
            attached = tuple(by_parent.get(row["entry_id"], []))
            unread = not row["seen"]
            try:
                _meta, content = self.open_document(self.home.entry_path(row["entry_id"]))
                if row["kind"] == "report":
                    fields = ReportDocument.from_bytes(content)
                    problem = None
                    text = fields.message
                else:
                    text = FollowupDocument.from_bytes(content).message
                conversation.append(
                    (
                        row["day"],
                        order,
                        Message(
                            row["day"],
                            "reporter",
                            row["kind"],
                            text,
                            "",
                            None,
                            None,
                            attached,
                            unread,
                        ),
                    )
                )
            except (Unreadable, DocumentError) as exc:
                reason = str(exc) if isinstance(exc, Unreadable) else "its content is malformed"
                if row["kind"] == "report":
                    problem = f"the report is unreadable: {reason}"
                conversation.append(
                    (
                        row["day"],
                        order,
                        Message(
                            row["day"],
                            "reporter",
                            row["kind"],
                            "",
                            "",
                            None,
                            reason,
                            attached,
                            unread,
                        ),
                    )
                )
        history = [StatusEvent(report["received_day"], "received", "", True, None)]
        responses = self.conn.execute(
            "SELECT * FROM responses WHERE regno = ? ORDER BY position", (regno,)
        ).fetchall()
        base = len(entries)
        for row in responses:
            exported = row["export_seq"] is not None and self._export_written(row["export_seq"])
            text, problem_r = "", None
            try:
                _meta, content = self.open_document(self.home.response_path(row["response_id"]))
                if row["kind"] == "status":
                    text = StatusDocument.from_bytes(content).note
                else:
                    text = ReplyDocument.from_bytes(content).message
            except (Unreadable, DocumentError) as exc:
                problem_r = str(exc) if isinstance(exc, Unreadable) else "malformed"
            if row["kind"] == "status":
                history.append(
                    StatusEvent(
                        row["day"],
                        row["status"],
                        text,
                        False,
                        exported,
                        problem_r,
                        row["actor"] or "",
                    )
                )
            else:
                conversation.append(
                    (
                        row["day"],
                        base + int(row["position"]),
                        Message(
                            row["day"],
                            "inspectorate",
                            "reply",
                            text,
                            row["author"],
                            exported,
                            problem_r,
                            actor=row["actor"] or "",
                        ),
                    )
                )
        conversation.sort(key=lambda item: (item[0], item[1]))
        notes = [
            Note(row["day"], row["author"], row["text"])
            for row in self.conn.execute(
                "SELECT * FROM notes WHERE regno = ? ORDER BY note_id", (regno,)
            )
        ]
        assigned = accounts.assignment(self.conn, regno)
        return ReportView(
            assignee=assigned[0] if assigned else None,
            assigned_day=assigned[1] if assigned else None,
            assigned_by=assigned[2] if assigned else None,
            recusals=accounts.recusals(self, regno) if self.is_admin else [],
            summary=summary,
            designation=report["designation"],
            fields=fields,
            problem=problem,
            files=files,
            history=history,
            conversation=[message for _day, _order, message in conversation],
            notes=notes,
            acknowledged_day=report["acknowledged_day"],
            first_response_day=report["first_response_day"],
            closed_day=report["closed_day"],
        )

    def _export_written(self, sequence: int) -> bool:
        row = self.conn.execute(
            "SELECT state FROM exports WHERE sequence = ?", (sequence,)
        ).fetchone()
        return row is not None and row[0] == "written"

    def mark_viewed(self, regno: str) -> None:
        accounts.require_not_recused(self, regno)
        today = dates.today().isoformat()
        with schema.transaction(self.conn):
            self.conn.execute("UPDATE entries SET seen = 1 WHERE regno = ?", (regno,))
            self.conn.execute(
                "UPDATE reports SET acknowledged_day = ? "
                "WHERE regno = ? AND acknowledged_day IS NULL",
                (today, regno),
            )
            audit.append(self.conn, self.user, "viewed", regno)

    # -- actions ------------------------------------------------------------------------------

    def _source_key(self, regno: str) -> RecipientKey:
        row = self.conn.execute(
            "SELECT s.public_key FROM reports r JOIN sources s USING (source_id) WHERE r.regno = ?",
            (regno,),
        ).fetchone()
        try:
            return keyfiles.parse_public_key(row[0], "recipient").as_recipient()
        except KeyFileError as exc:
            raise ConsoleError(f"the reporter's key for {regno} is damaged ({exc})") from None

    def _write_response(
        self,
        regno: str,
        document: ReplyDocument | StatusDocument,
        audit_detail: dict[str, Any],
    ) -> str:
        kind = document.KIND
        status = document.status if isinstance(document, StatusDocument) else None
        closes = status in FINAL_STATUSES
        author = document.author if isinstance(document, ReplyDocument) else self.reply_author
        recipients = [self._source_key(regno), *self.inspectorate_recipients()]
        sealed = payload.seal_bytes({"kind": kind}, document.to_bytes(), recipients)
        response_id = new_id()
        target = self.home.response_path(response_id)
        temporary = target.with_name(target.name + ".partial")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        today = dates.today().isoformat()
        try:
            with schema.transaction(self.conn):
                position = self.conn.execute(
                    "SELECT coalesce(max(position), 0) + 1 FROM responses"
                ).fetchone()[0]
                self.conn.execute(
                    "INSERT INTO responses(response_id, position, regno, kind, day, status, "
                    "closes_report, author, export_seq, actor) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (
                        response_id,
                        position,
                        regno,
                        kind,
                        today,
                        status,
                        int(closes),
                        author,
                        self.user,
                    ),
                )
                self.conn.execute(
                    "UPDATE reports SET first_response_day = ? "
                    "WHERE regno = ? AND first_response_day IS NULL",
                    (today, regno),
                )
                if status is not None:
                    self.conn.execute(
                        "UPDATE reports SET status = ?, status_day = ?, closed_day = ? "
                        "WHERE regno = ?",
                        (status, today, today if status in FINAL_STATUSES else None, regno),
                    )
                audit.append(
                    self.conn,
                    self.user,
                    "replied" if kind == "reply" else "status_changed",
                    regno,
                    audit_detail | {"response_id": response_id},
                )
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return response_id

    def reply(self, regno_text: str, message: str) -> str:
        regno = self.resolve(regno_text)
        text = clean_text(message)
        if not text.strip():
            raise InvalidInput("the reply is empty", "reply_empty")
        if len(text) > MAX_REPLY_CHARS:
            raise InvalidInput(
                f"the reply is {len(text)} characters long; the limit is {MAX_REPLY_CHARS}",
                "reply_too_long",
                n=MAX_REPLY_CHARS,
            )
        document = ReplyDocument(text, self.reply_author)
        return self._write_response(regno, document, {"chars": len(text)})

    def set_status(self, regno_text: str, status: str, note: str = "") -> str:
        regno = self.resolve(regno_text)
        if status not in STATUSES:
            raise InvalidInput(
                f"unknown status {status[:40]!r}; valid: {', '.join(STATUSES)}", "status_unknown"
            )
        text = clean_text(note).strip()
        if len(text) > MAX_STATUS_NOTE_CHARS:
            raise InvalidInput(
                f"the status note is {len(text)} characters long; "
                f"the limit is {MAX_STATUS_NOTE_CHARS}",
                "status_note_too_long",
                n=MAX_STATUS_NOTE_CHARS,
            )
        return self._write_response(regno, StatusDocument(status, text), {"status": status})

    def add_note(self, regno_text: str, text: str) -> None:
        regno = self.resolve(regno_text)
        body = clean_text(text).strip()
        if not body:
            raise InvalidInput("the note is empty", "note_empty")
        if len(body) > MAX_NOTE_CHARS:
            raise InvalidInput(
                f"the note is longer than {MAX_NOTE_CHARS} characters",
                "note_too_long",
                n=MAX_NOTE_CHARS,
            )
        with schema.transaction(self.conn):
            self.conn.execute(
                "INSERT INTO notes(regno, day, author, text) VALUES (?, ?, ?, ?)",
                (regno, dates.today().isoformat(), self.user, body),
            )
            audit.append(self.conn, self.user, "note_added", regno, {"chars": len(body)})

    def record_saved(self, regno: str, saved: list[str], out_dir: Path) -> None:
        with schema.transaction(self.conn):
            audit.append(
                self.conn,
                self.user,
                "files_saved",
                regno,
                {"count": len(saved), "directory": str(out_dir)},
            )

    def record_download(self, regno: str, entry_id: str, stripped: bool) -> None:
        with schema.transaction(self.conn):
            audit.append(
                self.conn,
                self.user,
                "file_opened",
                regno,
                {"entry_id": entry_id, "stripped_copy": stripped},
            )

    # -- statistics ---------------------------------------------------------------------------

    def stats(self) -> Stats:
        summaries = self.list_reports()
        rows = self.conn.execute(
            "SELECT received_day, acknowledged_day, first_response_day, closed_day FROM reports"
        ).fetchall()

        def median(pairs: list[tuple[str, str | None]]) -> float | None:
            spans = [dates.days_between(a, b) for a, b in pairs if b is not None]
            return float(statistics.median(spans)) if spans else None

        pending = self.conn.execute(
            "SELECT count(*) FROM responses r LEFT JOIN exports x ON x.sequence = r.export_seq "
            "WHERE r.export_seq IS NULL OR x.state != 'written'"
        ).fetchone()[0]
        acks = self.conn.execute(
            "SELECT count(*) FROM entries e LEFT JOIN exports x ON x.sequence = e.ack_seq "
            "WHERE e.ack_seq IS NULL OR x.state != 'written'"
        ).fetchone()[0]
        return Stats(
            total=len(summaries),
            by_status=dict(Counter(s.status for s in summaries)),
            by_category=dict(Counter(s.category or "unreadable" for s in summaries)),
            overdue=sum(1 for s in summaries if s.overdue),
            unread=sum(1 for s in summaries if s.unread),
            median_days_to_acknowledge=median(
                [(r["received_day"], r["acknowledged_day"]) for r in rows]
            ),
            median_days_to_first_response=median(
                [(r["received_day"], r["first_response_day"]) for r in rows]
            ),
            median_days_to_close=median([(r["received_day"], r["closed_day"]) for r in rows]),
            pending_responses=int(pending),
            pending_acks=int(acks),
        )

    def audit_verify(self) -> audit.VerifyResult:
        return audit.verify(self.conn)

    def audit_entries(self, limit: int = 200) -> list[audit.AuditEntry]:
        """The newest entries first, as the acting investigator may see them.

        Entries by others about a report this investigator recused from show only that something
        happened (who, what and the details are withheld); `audit verify` checks the full log.
        """
        hidden = accounts.recused_regnos(self.conn, self.user)
        shown = []
        for entry in audit.entries(self.conn, limit):
            if entry.regno in hidden and entry.actor != self.user:
                entry = audit.AuditEntry(entry.seq, entry.at, "-", "(recused)", entry.regno, "{}")
            shown.append(entry)
        return shown

    def record(self, action: str, regno: str | None, detail: dict[str, Any]) -> None:
        with schema.transaction(self.conn):
            audit.append(self.conn, self.user, action, regno, detail)


def _file_info(row: Any) -> FileInfo:
    return FileInfo(
        entry_id=row["entry_id"],
        day=row["day"],
        parent=row["parent"],
        readable=bool(row["readable"]),
        name=row["name"],
        media_type=row["media_type"],
        size=row["size"],
    )

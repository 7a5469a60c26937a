"""Reading reports: one report decrypted for reading, its files (the queue is worklist.py).

Everything here is as the acting investigator may see it: a report they recused themselves from
is refused (`resolve` raises Recused) and shows in their queue by register number only. Report
text, follow-ups and replies are decrypted in memory when shown (journalist_console/envelopes.py);
the database caches only what the queue needs (category, file metadata). Reading changes nothing
except `mark_viewed`, which records that the investigator opened the report (audited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from journalist_console import accounts, audit, dates, schema
from journalist_console.envelopes import open_document
from journalist_console.errors import InvalidInput, UnknownReport, Unreadable
from journalist_console.session import Session
from journalist_console.texts import Text
from journalist_console.worklist import ReportSummary, summary
from keys.documents import (
    DocumentError,
    FollowupDocument,
    ReplyDocument,
    ReportDocument,
    StatusDocument,
)
from keys.records import normalize_regno


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


# -- which report -------------------------------------------------------------------------------


def resolve(session: Session, regno_text: str) -> str:
    """The canonical register number of a report the acting investigator may open.

    UnknownReport if there is no such report; Recused if they recused themselves from it.
    Every operation that opens or changes a report goes through here.
    """
    regno = resolve_any(session, regno_text)
    accounts.require_not_recused(session.conn, session.investigator, regno)
    return regno


def resolve_any(session: Session, regno_text: str) -> str:
    """The canonical register number, without the recusal check (recusal bookkeeping only)."""
    regno = normalize_regno(regno_text)
    if regno is None:
        raise UnknownReport(
            Text("Not a valid register number."),
            f"{regno_text[:40]!r} is not a valid register number",
        )
    row = session.conn.execute("SELECT 1 FROM reports WHERE regno = ?", (regno,)).fetchone()
    if row is None:
        raise UnknownReport(Text("No report %(regno)s is held by this console.", regno=regno))
    return regno


# -- files --------------------------------------------------------------------------------------


def _file_info(row: Any) -> FileInfo:
    readable = bool(row["readable"])
    name, media_type, size = row["name"], row["media_type"], row["size"]
    return FileInfo(row["entry_id"], row["day"], row["parent"], readable, name, media_type, size)


def file_info(session: Session, regno: str, entry_id: str) -> FileInfo:
    accounts.require_not_recused(session.conn, session.investigator, regno)
    row = session.conn.execute(
        "SELECT * FROM entries WHERE entry_id = ? AND regno = ? AND kind = 'file'",
        (entry_id, regno),
    ).fetchone()
    if row is None:
        raise InvalidInput(f"report {regno} has no file {entry_id[:40]!r}")
    return _file_info(row)


def files(session: Session, regno: str) -> list[FileInfo]:
    accounts.require_not_recused(session.conn, session.investigator, regno)
    rows = session.conn.execute(
        "SELECT * FROM entries WHERE regno = ? AND kind = 'file' ORDER BY import_seq, rowid",
        (regno,),
    ).fetchall()
    return [_file_info(row) for row in rows]


# -- one report ---------------------------------------------------------------------------------


def report_row(conn: schema.Connection, regno: str) -> Any:
    """A report's row with its reporter's designation, or None (no recusal check: callers)."""
    return conn.execute(
        "SELECT r.*, s.designation FROM reports r JOIN sources s USING (source_id) "
        "WHERE r.regno = ?",
        (regno,),
    ).fetchone()


def entry_rows(conn: schema.Connection, regno: str) -> list[Any]:
    """A report's entries in the order they arrived (no recusal check: callers)."""
    return list(
        conn.execute(
            "SELECT * FROM entries WHERE regno = ? ORDER BY import_seq, rowid", (regno,)
        ).fetchall()
    )


def view(session: Session, regno_text: str) -> ReportView:
    """The decrypted report (no side effects: see mark_viewed)."""
    regno = resolve(session, regno_text)
    conn = session.conn
    report = report_row(conn, regno)
    entries = entry_rows(conn, regno)
    files = [_file_info(row) for row in entries if row["kind"] == "file"]
    result = ReportView(
        summary=summary(session, regno),
        designation=report["designation"],
        fields=None,
        problem="the report itself has not arrived yet",
        files=files,
        history=[StatusEvent(report["received_day"], "received", "", True, None)],
        acknowledged_day=report["acknowledged_day"],
        first_response_day=report["first_response_day"],
        closed_day=report["closed_day"],
    )
    conversation = _reporter_messages(session, result, entries)
    conversation += _responses(session, result, regno, base=len(entries))
    conversation.sort(key=lambda item: (item[0], item[1]))
    result.conversation = [message for _day, _order, message in conversation]
    result.notes = [
        Note(row["day"], row["author"], row["text"])
        for row in conn.execute("SELECT * FROM notes WHERE regno = ? ORDER BY note_id", (regno,))
    ]
    assigned = accounts.assignment(conn, regno)
    if assigned:
        result.assignee, result.assigned_day, result.assigned_by = assigned
    if accounts.is_admin(conn, session.investigator):
        result.recusals = accounts.recusals(conn, session.investigator, regno)
    return result


Ordered = list[tuple[str, int, Message]]  # (day, order within the day, message)


def _reporter_messages(session: Session, result: ReportView, entries: list[Any]) -> Ordered:
    """The report and the follow-ups, each with its files; fills in the report's fields."""
    by_parent: dict[str | None, list[FileInfo]] = {}
    for info in result.files:
        by_parent.setdefault(info.parent, []).append(info)
    messages: Ordered = []
    for order, row in enumerate(entries):
        if row["kind"] == "file":
            continue
        text, problem = "", None
        try:
            _meta, content = open_document(session, session.home.entry_path(row["entry_id"]))
            if row["kind"] == "report":
                result.fields = ReportDocument.from_bytes(content)
                result.problem = None
                text = result.fields.message
            else:
                text = FollowupDocument.from_bytes(content).message
        except (Unreadable, DocumentError) as exc:
            problem = str(exc) if isinstance(exc, Unreadable) else "its content is malformed"
            if row["kind"] == "report":
                result.problem = f"the report is unreadable: {problem}"
        attached = tuple(by_parent.get(row["entry_id"], []))
        message = Message(
            row["day"], "reporter", row["kind"], text, "", None, problem, attached, not row["seen"]
        )
        messages.append((row["day"], order, message))
    return messages


def _responses(session: Session, result: ReportView, regno: str, base: int) -> Ordered:
    """The inspectorate's replies (returned) and status changes (added to the history)."""
    messages: Ordered = []
    for row in session.conn.execute(
        "SELECT p.*, x.state AS export_state FROM responses p "
        "LEFT JOIN exports x ON x.sequence = p.export_seq WHERE p.regno = ? ORDER BY p.position",
        (regno,),
    ).fetchall():
        exported = row["export_state"] == "written"
        text, problem = "", None
        try:
            path = session.home.response_path(row["response_id"])
            _meta, content = open_document(session, path)
            if row["kind"] == "status":
                text = StatusDocument.from_bytes(content).note
            else:
                text = ReplyDocument.from_bytes(content).message
        except (Unreadable, DocumentError) as exc:
            problem = str(exc) if isinstance(exc, Unreadable) else "malformed"
        actor = row["actor"] or ""
        if row["kind"] == "status":
            event = StatusEvent(row["day"], row["status"], text, False, exported, problem, actor)
            result.history.append(event)
            continue
        message = Message(
            row["day"], "inspectorate", "reply", text, row["author"], exported, problem, actor=actor
        )
        messages.append((row["day"], base + int(row["position"]), message))
    return messages


def mark_viewed(session: Session, regno: str) -> None:
    """Record that the acting investigator opened the report: its entries are seen, the first
    view is the report's acknowledged day (the statistics' time to first view)."""
    conn = session.conn
    accounts.require_not_recused(conn, session.investigator, regno)
    today = dates.today().isoformat()
    with schema.transaction(conn):
        conn.execute("UPDATE entries SET seen = 1 WHERE regno = ?", (regno,))
        conn.execute(
            "UPDATE reports SET acknowledged_day = ? WHERE regno = ? AND acknowledged_day IS NULL",
            (today, regno),
        )
        audit.append(conn, session.investigator, "viewed", regno)

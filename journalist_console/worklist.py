"""The queue: which reports the acting investigator works on, in which order, with their clock.

One row per report (`ReportSummary`), counted by the ministry's rule (journalist_console/
deadlines.py): answered or not, days left to the first answer, a warning from the warning day,
overdue only when unanswered past the due day, and the age of the case. The first words of the
report's "what" are decrypted in memory for the row, never stored. A report the acting
investigator recused themselves from shows by register number only, last, and not at all when
the list is filtered (a filter would tell its status). The command line's `list` and the web
queue both call `queue`; the report page's "save and open the next report" calls `next_after`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from journalist_console import dates, deadlines, settings
from journalist_console.envelopes import open_document
from journalist_console.errors import InvalidInput, UnknownReport, Unreadable
from journalist_console.session import Session
from keys.documents import DocumentError, ReportDocument
from keys.records import CATEGORIES, FINAL_STATUSES, STATUSES, compact_regno

# The quick filters of the queue: still open (no final status), not yet answered, overdue.
SHOWS = ("open", "unanswered", "overdue")
SNIPPET_WORDS = 12
SNIPPET_CHARS = 90


@dataclass(frozen=True)
class ReportSummary:
    """One row of the queue."""

    regno: str
    category: str | None
    received_day: str
    due_day: str
    days_left: int | None  # to the first answer: 0 due today, negative overdue; None: answered
    overdue: bool
    status: str
    status_day: str
    final: bool
    unread: int
    readable: bool
    assignee: str | None = None
    recused: bool = False  # the acting investigator recused themselves: show nothing else
    answered_day: str | None = None  # the first answer left in a written export
    answered_late: bool = False
    waiting_export: bool = False  # an answer is written but has not left the console yet
    warning: bool = False  # unanswered, from the warning day on
    age: int = 0  # days since receipt
    what: str = ""  # the first words of the report's "what" ("" while unreadable)
    draft: bool = False  # the acting investigator has kept unsent text on it

    def as_json(self) -> dict[str, Any]:
        row = {name: value for name, value in dataclasses.asdict(self).items() if name != "final"}
        if self.recused:
            # Same keys, nothing but the register number: a recused investigator learns nothing.
            row = {key: None for key in row} | {"regno": self.regno, "recused": True}
        return row


_SUMMARY_SQL = """
    SELECT r.regno, r.category, r.received_day, r.status, r.status_day,
           r.answered_day, r.first_response_day,
           (SELECT count(*) FROM entries e WHERE e.regno = r.regno AND e.seen = 0) AS unread,
           (SELECT e.entry_id FROM entries e
             WHERE e.regno = r.regno AND e.kind = 'report' AND e.readable = 1) AS report_entry,
           a.assignee AS assignee,
           (SELECT c.day FROM recusals c WHERE c.regno = r.regno AND c.investigator = :me
              AND c.lifted_day IS NULL) AS recused_day,
           (SELECT count(*) FROM drafts d WHERE d.regno = r.regno AND d.investigator = :me)
              AS drafts
    FROM reports r LEFT JOIN assignments a ON a.regno = r.regno
"""


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dates.parse_day(text)


def _summary(
    session: Session, row: Any, today: dt.date, due_days: int, warn_day: int, what: bool = True
) -> ReportSummary:
    recused = row["recused_day"] is not None
    timer = deadlines.clock(
        dates.parse_day(row["received_day"]),
        _day(row["answered_day"]),
        _day(row["first_response_day"]),
        today,
        due_days,
        warn_day,
    )
    entry = row["report_entry"]
    return ReportSummary(
        regno=row["regno"],
        category=row["category"],
        received_day=row["received_day"],
        due_day=timer.due_day.isoformat(),
        days_left=timer.days_left,
        overdue=timer.overdue,
        status=row["status"],
        status_day=row["status_day"],
        final=row["status"] in FINAL_STATUSES,
        unread=int(row["unread"]),
        readable=entry is not None,
        assignee=None if recused else row["assignee"],
        recused=recused,
        answered_day=row["answered_day"],
        answered_late=timer.answered_late,
        waiting_export=timer.waiting_export,
        warning=timer.warning,
        age=timer.age,
        what="" if recused or entry is None or not what else _what(session, entry),
        draft=bool(row["drafts"]),
    )


def _what(session: Session, entry_id: str) -> str:
    """The first words of a report's "what", on one line."""
    try:
        _meta, content = open_document(session, session.home.entry_path(entry_id))
        words = ReportDocument.from_bytes(content).what.split()
    except (Unreadable, DocumentError):
        return ""
    text = " ".join(words[:SNIPPET_WORDS])
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return text + ("…" if text != " ".join(words) else "")


def _urgency(summary: ReportSummary) -> tuple[Any, ...]:
    """Unanswered open reports by days left (most overdue first), then answered open ones
    oldest first, then finished ones, most recently finished first."""
    if summary.final:
        return (2, "", 0, 0, "")
    if summary.days_left is not None:
        return (0, "", summary.days_left, -summary.unread, summary.regno)
    return (1, summary.received_day, 0, -summary.unread, summary.regno)


def shown(summary: ReportSummary, show: str | None) -> bool:
    """Whether a row belongs to one of the quick filters (SHOWS; None: all)."""
    if show == "open":
        return not summary.final
    if show == "unanswered":
        return summary.answered_day is None
    if show == "overdue":
        return summary.overdue
    return True


def queue(
    session: Session,
    status: str | None = None,
    category: str | None = None,
    mine: bool = False,
    show: str | None = None,
    search: str | None = None,
    what: bool = True,
) -> list[ReportSummary]:
    """Reports by urgency (see `_urgency`), filtered.

    `show`: one of SHOWS; `mine`: only reports assigned to the acting investigator; `search`: a
    register number or a part of one, as typed. Reports the acting investigator recused
    themselves from come last, by register number, with nothing but that number (and only
    when no filter is given). `what=False` leaves the first words of "what" out (figures need
    no report decrypted).
    """
    if status and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; valid: {', '.join(STATUSES)}")
    if category and category not in CATEGORIES:
        raise InvalidInput(f"unknown category {category!r}; valid: {', '.join(CATEGORIES)}")
    if show and show not in SHOWS:
        raise InvalidInput(f"unknown filter {show!r}; valid: {', '.join(SHOWS)}")
    wanted = compact_regno(search or "")
    conn = session.conn
    today, due_days, warn_day = dates.today(), settings.due_days(conn), settings.warn_day(conn)
    rows = conn.execute(_SUMMARY_SQL, {"me": session.investigator}).fetchall()
    everything = [_summary(session, row, today, due_days, warn_day, what) for row in rows]
    summaries = [
        s
        for s in everything
        if not s.recused
        and (not status or s.status == status)
        and (not category or s.category == category)
        and (not mine or s.assignee == session.investigator)
        and shown(s, show)
        and wanted in compact_regno(s.regno)
    ]
    open_ = sorted((s for s in summaries if not s.final), key=_urgency)
    done = sorted(
        (s for s in summaries if s.final), key=lambda s: (s.status_day, s.regno), reverse=True
    )
    filtered = status or category or mine or show or wanted
    hidden = [] if filtered else sorted((s for s in everything if s.recused), key=lambda s: s.regno)
    return open_ + done + hidden


def summary(session: Session, regno: str) -> ReportSummary:
    conn = session.conn
    row = conn.execute(
        _SUMMARY_SQL + " WHERE r.regno = :regno", {"me": session.investigator, "regno": regno}
    ).fetchone()
    if row is None:
        raise UnknownReport(f"no report {regno} is held by this console")
    return _summary(session, row, dates.today(), settings.due_days(conn), settings.warn_day(conn))


def next_after(session: Session, regno: str, show: str | None = "open") -> str | None:
    """The report after `regno` in the queue filtered by `show` (the first one when `regno` is
    no longer in it), never `regno` itself nor one the acting investigator recused from."""
    listed = [s.regno for s in queue(session, show=show, what=False) if not s.recused]
    if regno in listed:
        later = listed[listed.index(regno) + 1 :]
        return later[0] if later else None
    return listed[0] if listed else None


@dataclass(frozen=True)
class Arrivals:
    """What one imported bundle brought, for links to the reports."""

    new: list[str]  # reports that arrived with it
    updated: list[str]  # reports held before, with something new (a follow-up, a file)


def arrivals(session: Session, sequence: int) -> Arrivals:
    """The reports bundle `sequence` brought, except those the acting investigator recused from
    (which their queue shows by number only anyway)."""
    rows = session.conn.execute(
        "SELECT e.regno, (SELECT min(x.import_seq) FROM entries x WHERE x.regno = e.regno) "
        "AS first FROM entries e WHERE e.import_seq = ? "
        "AND NOT EXISTS (SELECT 1 FROM recusals c WHERE c.regno = e.regno "
        "AND c.investigator = ? AND c.lifted_day IS NULL) "
        "GROUP BY e.regno ORDER BY e.regno",
        (sequence, session.investigator),
    ).fetchall()
    new = [row["regno"] for row in rows if row["first"] == sequence]
    return Arrivals(new, [row["regno"] for row in rows if row["first"] != sequence])

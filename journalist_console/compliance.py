"""The compliance figures: how the inspectorate kept the 30-day rule, per month and category.

Per month of receipt and category: reports received, answered within the limit, answered late,
still unanswered, the median days from receipt to the first answer, and those with a final
status, in total and per final status: the figures ISO 37002 asks a whistleblowing system to
evaluate itself by, and that the ministry reports. Counted by the rule of
journalist_console/answers.py and deadlines.py (an answer counts on the day it is exported).

The figures must outlive the reports: retention removes finished reports, the ministry's report
covers the year. So they have two sources that never overlap:

* a report the console holds is counted from its own rows;
* a report retention removed is counted from `compliance_removed`, counts without a register
  number (month, category, final status, days to the answer). `fold` adds a report there in the
  very transaction that deletes its rows, so it is always counted exactly once.

Only reports whose report itself arrived are counted: a shell that a late follow-up created for a
register number retention had already removed (docs/console-design.md, "Late follow-ups") would
otherwise count a second time. Reports the acting investigator recused themselves from are left
out while the console holds them (their month and category would tell what the recusal keeps
from them; the figures say how many); once removed, their recusal goes with them.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from journalist_console import dates, deadlines, schema, settings
from journalist_console.session import Session
from journalist_console.texts import Text
from keys.records import CATEGORIES, FINAL_STATUSES, STATUSES

UNREADABLE = "unreadable"  # the category of a report that could not be read
FINALS = tuple(status for status in STATUSES if status in FINAL_STATUSES)


@dataclass
class Row:
    """The figures of one month and category (or of everything: `month` "")."""

    month: str
    category: str
    received: int = 0
    answered_on_time: int = 0
    answered_late: int = 0
    unanswered: int = 0
    finished: int = 0  # with a final status
    by_final_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINALS, 0))
    response_days: list[int] = field(default_factory=list, repr=False)

    @property
    def median_days(self) -> float | None:
        """Median days from receipt to the first answer, over the answered reports."""
        return float(statistics.median(self.response_days)) if self.response_days else None

    def add(self, status: str, days: int | None, due_days: int, count: int = 1) -> None:
        self.received += count
        if days is None:
            self.unanswered += count
        elif deadlines.on_time(days, due_days):
            self.answered_on_time += count
        else:
            self.answered_late += count
        if days is not None:
            self.response_days.extend([days] * count)
        if status in FINAL_STATUSES:
            self.finished += count
            self.by_final_status[status] += count


@dataclass(frozen=True)
class Compliance:
    due_days: int
    rows: list[Row]  # by month, then category in the protocol's order
    total: Row
    removed: int  # reports counted from what retention kept of them
    recused_left_out: int


# Held reports that count: their report arrived. recused: the acting investigator's recusal.
_HELD = """
SELECT r.received_day, r.category, r.status, r.answered_day,
       EXISTS (SELECT 1 FROM recusals c WHERE c.regno = r.regno AND c.investigator = ?
               AND c.lifted_day IS NULL) AS recused
FROM reports r
WHERE EXISTS (SELECT 1 FROM entries e WHERE e.regno = r.regno AND e.kind = 'report')
"""


def figures(session: Session) -> Compliance:
    """The figures as the acting investigator may see them (see the module's note)."""
    conn = session.conn
    due_days = settings.due_days(conn)
    rows: dict[tuple[str, str], Row] = {}
    total = Row("", "")

    def count(month: str, category: str, status: str, days: int | None, times: int = 1) -> None:
        key = (month, category or UNREADABLE)
        rows.setdefault(key, Row(*key)).add(status, days, due_days, times)
        total.add(status, days, due_days, times)

    left_out = 0
    for row in conn.execute(_HELD, (session.investigator,)).fetchall():
        if row["recused"]:
            left_out += 1
            continue
        received = dates.parse_day(row["received_day"])
        answered = row["answered_day"]
        days = (
            None
            if answered is None
            else deadlines.response_days(received, dates.parse_day(answered))
        )
        count(row["received_day"][:7], row["category"], row["status"], days)
    removed = 0
    for row in conn.execute(
        "SELECT month, category, final_status, response_days, reports FROM compliance_removed"
    ).fetchall():
        removed += int(row["reports"])
        count(
            row["month"],
            row["category"],
            row["final_status"],
            row["response_days"],
            int(row["reports"]),
        )
    order = {name: index for index, name in enumerate((*CATEGORIES, UNREADABLE))}
    ordered = sorted(rows.values(), key=lambda r: (r.month, order.get(r.category, len(order))))
    return Compliance(due_days, ordered, total, removed, left_out)


def fold(conn: schema.Connection, regno: str) -> None:
    """Keep a report's contribution to the figures before retention deletes its rows (call it
    inside that transaction, so the report is counted exactly once: held, or folded)."""
    row = conn.execute(
        "SELECT received_day, category, status, answered_day FROM reports r WHERE regno = ? "
        "AND EXISTS (SELECT 1 FROM entries e WHERE e.regno = r.regno AND e.kind = 'report')",
        (regno,),
    ).fetchone()
    if row is None:
        return
    answered = row["answered_day"]
    days = (
        None
        if answered is None
        else deadlines.response_days(
            dates.parse_day(row["received_day"]), dates.parse_day(answered)
        )
    )
    key = (row["received_day"][:7], row["category"] or "", row["status"], days)
    updated = conn.execute(
        "UPDATE compliance_removed SET reports = reports + 1 WHERE month = ? AND category = ? "
        "AND final_status = ? AND response_days IS ?",
        key,
    ).rowcount
    if not updated:
        conn.execute(
            "INSERT INTO compliance_removed(month, category, final_status, response_days, "
            "reports) VALUES (?, ?, ?, ?, 1)",
            key,
        )


# -- the spreadsheet ------------------------------------------------------------------------


def header(due_days: int, status_label: Callable[[str], str] = str) -> list[Text]:
    """The columns, for the CSV and the statistics page alike."""
    return [
        Text("Month"),
        Text("Category"),
        Text("Received"),
        Text("Answered within %(n)s days", n=due_days),
        Text("Answered late"),
        Text("Still unanswered"),
        Text("Median days to the first answer"),
        Text("With a final status"),
        *(Text("Final status: %(status)s", status=status_label(status)) for status in FINALS),
    ]


def write_csv(
    out: IO[str],
    result: Compliance,
    say: Callable[[Text], str] = str,
    category_label: Callable[[str | None], str] = str,
    status_label: Callable[[str], str] = str,
) -> None:
    """The figures as CSV (a header row, then one row per month and category), in the
    language `say` renders; numbers plain, as a spreadsheet reads them."""
    writer = csv.writer(out)
    writer.writerow([say(label) for label in header(result.due_days, status_label)])
    writer.writerows(_cells(row, category_label) for row in result.rows)


def _cells(row: Row, category_label: Callable[[str | None], str]) -> Iterable[str]:
    median = row.median_days
    return [
        row.month,
        category_label(None if row.category == UNREADABLE else row.category),
        str(row.received),
        str(row.answered_on_time),
        str(row.answered_late),
        str(row.unanswered),
        "" if median is None else f"{median:g}",
        str(row.finished),
        *(str(row.by_final_status[status]) for status in FINALS),
    ]

"""Statistics of the reports, as the acting investigator may see them.

A report the acting investigator recused themselves from is left out of every figure they see
(CLI, web page, the figures shown with an export): its status and category would otherwise tell
them what the recusal keeps from them. The figures say how many were left out.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from journalist_console import dates
from journalist_console.session import Session
from journalist_console.worklist import queue


@dataclass(frozen=True)
class Stats:
    total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    overdue: int  # unanswered past the due day (journalist_console/deadlines.py)
    unanswered: int
    warning: int  # unanswered, from the warning day on, not yet overdue
    unread: int
    median_days_to_acknowledge: float | None
    median_days_to_first_response: float | None
    median_days_to_close: float | None
    pending_responses: int
    pending_acks: int
    recused_left_out: int = 0  # reports the acting investigator recused from, not counted


def stats(session: Session) -> Stats:
    """Counts by status and category, overdue and unread reports, medians, what waits to export:
    over the reports the acting investigator has not recused themselves from. The time to the
    first response is the ministry's: to the day the first answer left in an export. The
    figures by month and category, which outlive retention, are compliance.py's."""
    conn = session.conn
    everything = queue(session, what=False)
    summaries = [s for s in everything if not s.recused]
    rows = conn.execute(
        "SELECT received_day, acknowledged_day, answered_day, closed_day FROM reports r "
        "WHERE NOT EXISTS (SELECT 1 FROM recusals c WHERE c.regno = r.regno "
        "AND c.investigator = ? AND c.lifted_day IS NULL)",
        (session.investigator,),
    ).fetchall()

    def median(pairs: list[tuple[str, str | None]]) -> float | None:
        spans = [dates.days_between(a, b) for a, b in pairs if b is not None]
        return float(statistics.median(spans)) if spans else None

    waiting_responses, waiting_acks = pending(session)
    return Stats(
        total=len(summaries),
        by_status=dict(Counter(s.status for s in summaries)),
        by_category=dict(Counter(s.category or "unreadable" for s in summaries)),
        overdue=sum(1 for s in summaries if s.overdue),
        unanswered=sum(1 for s in summaries if s.answered_day is None),
        warning=sum(1 for s in summaries if s.warning),
        unread=sum(1 for s in summaries if s.unread),
        median_days_to_acknowledge=median(
            [(r["received_day"], r["acknowledged_day"]) for r in rows]
        ),
        median_days_to_first_response=median(
            [(r["received_day"], r["answered_day"]) for r in rows]
        ),
        median_days_to_close=median([(r["received_day"], r["closed_day"]) for r in rows]),
        pending_responses=waiting_responses,
        pending_acks=waiting_acks,
        recused_left_out=len(everything) - len(summaries),
    )


def pending(session: Session) -> tuple[int, int]:
    """What the next export will carry: (responses, acknowledgements)."""
    conn = session.conn
    responses = conn.execute(
        "SELECT count(*) FROM responses r LEFT JOIN exports x ON x.sequence = r.export_seq "
        "WHERE r.export_seq IS NULL OR x.state != 'written'"
    ).fetchone()[0]
    acks = conn.execute(
        "SELECT count(*) FROM entries e LEFT JOIN exports x ON x.sequence = e.ack_seq "
        "WHERE e.ack_seq IS NULL OR x.state != 'written'"
    ).fetchone()[0]
    return int(responses), int(acks)

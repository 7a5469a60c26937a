"""Plain-text rendering for the terminal.

Everything a reporter wrote is untrusted: before it reaches a terminal, control characters (which
could move the cursor, rewrite earlier lines or change the window title) are shown as visible
escapes, and bidirectional overrides are neutralised the same way. Only newline and tab remain.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from journalist_console.accounts import Account, Recusal
from journalist_console.compliance import FINALS, Compliance, Row
from journalist_console.compliance import UNREADABLE as UNREADABLE_CATEGORY
from journalist_console.labels import CATEGORY_LABELS, RELATION_LABELS, STATUS_LABELS
from journalist_console.reports import FileInfo, ReportView
from journalist_console.statistics import Stats
from journalist_console.worklist import ReportSummary
from keys.records import STATUSES


def safe(text: str | None, keep_newlines: bool = True) -> str:
    out = []
    for ch in text or "":
        if ch == "\n" and keep_newlines or ch == "\t":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return f"{status} ({label})" if label else status


def category_label(category: str | None) -> str:
    if category is None:
        return "(unreadable)"
    label = CATEGORY_LABELS.get(category)
    return str(label) if label else category


def due_text(summary: ReportSummary) -> str:
    """Where the report stands with the 30-day rule (journalist_console/deadlines.py)."""
    if summary.answered_day is not None:
        return "answered late" if summary.answered_late else "answered"
    if summary.days_left is None:
        return "-"
    if summary.days_left < 0:
        text = f"OVERDUE {-summary.days_left}d"
    elif summary.days_left == 0:
        text = "due today"
    else:
        text = f"{summary.days_left}d left" + (" !" if summary.warning else "")
    return text + (" (not exported)" if summary.waiting_export else "")


def report_list(summaries: list[ReportSummary]) -> str:
    if not summaries:
        return "No reports."
    header = (
        f"{'REGISTER NO.':<17} {'CATEGORY':<28} {'RECEIVED':<10} {'DUE':<10} "
        f"{'FIRST ANSWER':<26} {'AGE':>4} {'STATUS':<13} UNREAD {'WHAT':<40} ASSIGNED TO"
    )
    lines = [header]
    for s in summaries:
        if s.recused:
            lines.append(f"{s.regno:<17} (recused: you declared a conflict of interest)")
            continue
        age = "" if s.final else f"{s.age}d"
        lines.append(
            f"{s.regno:<17} {category_label(s.category)[:28]:<28} {s.received_day:<10} "
            f"{s.due_day:<10} {due_text(s):<26} {age:>4} {s.status:<13} {s.unread or '':<6} "
            f"{safe(s.what, False)[:40]:<40} {s.assignee or '-'}"
        )
    return "\n".join(lines)


def size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB ({size} bytes)"
    return f"{size / 1024 / 1024:.1f} MiB ({size} bytes)"


def file_line(info: FileInfo) -> str:
    if not info.readable:
        return f"[{info.entry_id}] (unreadable file)"
    return (
        f"[{info.entry_id}] {safe(info.name, False)}  "
        f"({safe(info.media_type, False) or 'unknown type'}, {size_text(info.size)})"
    )


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in safe(text).split("\n"))


def report_view(view: ReportView) -> str:
    s = view.summary
    lines = [
        f"{s.regno}   status: {status_label(s.status)} since {s.status_day}",
        f"Received {s.received_day}, first answer due {s.due_day} ({due_text(s)}); "
        f"reporter: {safe(view.designation, False)}",
        f"First answer written {view.first_response_day or '-'}, exported {s.answered_day or '-'}",
    ]
    if view.assignee:
        lines.append(
            f"Assigned to: {view.assignee} (since {view.assigned_day}, by {view.assigned_by})"
        )
    else:
        lines.append("Assigned to: nobody")
    for recusal in view.recusals:
        reason = f": {safe(recusal.reason, False)}" if recusal.reason else ""
        lines.append(f"Recused: {recusal.investigator} (since {recusal.day}){reason}")
    if view.problem:
        lines.append(f"!! {view.problem}")
    if view.fields is not None:
        f = view.fields.members()
        label = RELATION_LABELS.get(f["relation"])
        relation = str(label) if label else f["relation"] or "not given"
        lines.append(f"Category: {category_label(f['category'])}   Relation: {relation}")
        for name in ("what", "who", "where", "when", "how"):
            lines.append(f"{name.capitalize()}:")
            lines.append(_indent(f[name]) if f[name].strip() else "    (not given)")
        lines.append("Message:")
        lines.append(_indent(f["message"]) if f["message"].strip() else "    (none)")
        lines.append(f"Pseudonym: {safe(f['pseudonym'], False) or '(none)'}")
        lines.append(f"Contact: {safe(f['contact'], False) or '(none)'}")
    lines.append("Files:")
    lines.extend(f"  {file_line(info)}" for info in view.files)
    if not view.files:
        lines.append("  (none)")
    lines.append("Status history:")
    for event in view.history:
        state = (
            "automatic"
            if event.automatic
            else ("exported" if event.exported else "waiting for export")
        )
        by = f"  by {event.actor}" if event.actor else ""
        lines.append(f"  {event.day}  {status_label(event.status)}  [{state}]{by}")
        if event.note:
            lines.append(_indent(event.note, "      "))
        if event.problem:
            lines.append(f"      !! {event.problem}")
    lines.append("Conversation:")
    for message in view.conversation:
        if message.sender == "reporter":
            who = "reporter" + (" (follow-up)" if message.kind == "followup" else " (report)")
        else:
            state = "exported" if message.exported else "waiting for export"
            by = f" by {message.actor}" if message.actor else ""
            who = f"{safe(message.author, False)} (reply{by}, {state})"
        new = "  [new]" if message.unread else ""
        lines.append(f"  {message.day}  {who}{new}")
        if message.problem:
            lines.append(f"      !! unreadable: {message.problem}")
        elif message.kind != "report":
            lines.append(_indent(message.text, "      "))
        for info in message.files:
            lines.append(f"      file {file_line(info)}")
    lines.append("Internal notes (never exported):")
    lines.extend(
        f"  {n.day}  {safe(n.author, False)}:\n{_indent(n.text, '      ')}" for n in view.notes
    )
    if not view.notes:
        lines.append("  (none)")
    return "\n".join(lines)


def stats_text(stats: Stats) -> str:
    def days(value: float | None) -> str:
        return "n/a" if value is None else f"{value:g} days"

    lines = [
        f"Reports: {stats.total}   unanswered: {stats.unanswered} (from the warning day: "
        f"{stats.warning}, overdue: {stats.overdue})   with unread entries: {stats.unread}",
        "By status:",
    ]
    lines.extend(f"  {status:<14} {stats.by_status.get(status, 0)}" for status in STATUSES)
    lines.append("By category:")
    for category, count in sorted(stats.by_category.items()):
        lines.append(
            f"  {category_label(category if category != 'unreadable' else None):<34} {count}"
        )
    lines.append(f"Median days to acknowledge:      {days(stats.median_days_to_acknowledge)}")
    lines.append(f"Median days to first answer:     {days(stats.median_days_to_first_response)}")
    lines.append(f"Median days to close:            {days(stats.median_days_to_close)}")
    lines.append(
        f"Waiting for export: {stats.pending_responses} responses, "
        f"{stats.pending_acks} acknowledgements"
    )
    if stats.recused_left_out:
        lines.append(f"Not counted: {stats.recused_left_out} report(s) you recused yourself from.")
    return "\n".join(lines)


def compliance_text(figures: Compliance) -> str:
    """The 30-day figures per month and category, as a table for the terminal."""
    lines = [
        f"The {figures.due_days}-day rule by month of receipt (answered = first answer exported):",
        f"  {'MONTH':<8} {'CATEGORY':<28} {'RECEIVED':>8} {'ON TIME':>7} {'LATE':>5} "
        f"{'OPEN Q':>6} {'MEDIAN':>6} {'FINAL':>5}  "
        + " ".join(f"{status.upper():>9}" for status in FINALS),
    ]
    for row in [*figures.rows, figures.total]:
        median = "-" if row.median_days is None else f"{row.median_days:g}"
        month = row.month or "all"
        category = (
            ""
            if not row.month
            else category_label(None if row.category == UNREADABLE_CATEGORY else row.category)
        )
        lines.append(
            f"  {month:<8} {category[:28]:<28} {row.received:>8} {row.answered_on_time:>7} "
            f"{row.answered_late:>5} {row.unanswered:>6} {median:>6} {row.finished:>5}  "
            + " ".join(f"{row.by_final_status[status]:>9}" for status in FINALS)
        )
    lines.append("  (OPEN Q: still unanswered; FINAL: with a final status)")
    if figures.removed:
        lines.append(f"  {figures.removed} of them were removed by retention; their counts stay.")
    if figures.recused_left_out:
        lines.append(f"  Not counted: {figures.recused_left_out} report(s) you recused from.")
    return "\n".join(lines)


def compliance_json(figures: Compliance) -> dict[str, Any]:
    def row(r: Row) -> dict[str, Any]:
        return {
            "month": r.month,
            "category": r.category,
            "received": r.received,
            "answered_on_time": r.answered_on_time,
            "answered_late": r.answered_late,
            "unanswered": r.unanswered,
            "median_days": r.median_days,
            "final": r.finished,
            "by_final_status": r.by_final_status,
        }

    return {
        "due_days": figures.due_days,
        "rows": [row(r) for r in figures.rows],
        "total": row(figures.total),
        "removed": figures.removed,
        "recused_left_out": figures.recused_left_out,
    }


def retention_text(days: int, mode: str) -> str:
    if days == 0:
        return "off (finished reports are kept forever)"
    then = "archive, then delete" if mode == "archive" else "delete"
    return f"{days} days after a finished report's last event, then {then}"


def account_list(accounts: list[Account]) -> str:
    lines = [f"{'NAME':<20} {'ROLE':<13} {'REPLIES SIGNED AS':<28} ADDED"]
    for account in accounts:
        shown = safe(account.display_name, False) if account.display_name else "(console author)"
        line = (
            f"{account.name:<20} {account.role:<13} {shown[:28]:<28} "
            f"{account.created_day} by {account.created_by}"
        )
        if not account.active:
            line += f"; REMOVED {account.removed_day} by {account.removed_by}"
        lines.append(line)
    return "\n".join(lines)


def recusal_list(recusals: list[Recusal]) -> str:
    if not recusals:
        return "No recusals."
    lines = []
    for recusal in recusals:
        state = (
            "active" if recusal.active else f"lifted {recusal.lifted_day} by {recusal.lifted_by}"
        )
        reason = safe(recusal.reason, False) or "(no reason given)"
        lines.append(
            f"{recusal.regno:<17} {recusal.investigator:<20} {recusal.day}  {state}  {reason}"
        )
    return "\n".join(lines)

"""When a report counts as answered: the response that stops the ministry's 30-day clock.

The ministry's guideline (Pedoman Menteri Kominfo No. 6 Tahun 2018, as its WBS page states it)
requires a response to every report within 30 days of receipt. What the rule protects is what the
reporter can read, so:

* only a response that carries our words counts: a reply, or a status change with a note to the
  reporter. A bare status change moves a label and answers nothing (`responses.to_reporter`);
* it counts on the day it leaves the console in a written export, not the day it was typed: until
  the bundle has been carried to the server the reporter cannot see it.

Per report the database keeps `first_response_day` (the first such response was written) and
`answered_day` (it first left in a written export). The clock itself, days left and overdue, is
journalist_console/deadlines.py.
"""

from __future__ import annotations

from journalist_console import schema
from journalist_console.home import Home
from keys import payload
from keys.documents import DocumentError, StatusDocument
from keys.errors import EnvelopeError
from keys.keytypes import RecipientIdentity

MAX_STATUS_BYTES = 1024 * 1024


def reaches_reporter(kind: str, note: str = "") -> bool:
    """Whether a response gives the reporter our words: every reply, a status change with a note."""
    return kind == "reply" or bool(note.strip())


def record_export(conn: schema.Connection, sequence: int, day: str) -> None:
    """Inside the transaction that marks export `sequence` written: the reports it answers for
    the first time are answered on `day`."""
    conn.execute(
        "UPDATE reports SET answered_day = ? WHERE answered_day IS NULL AND regno IN "
        "(SELECT regno FROM responses WHERE export_seq = ? AND to_reporter = 1)",
        (day, sequence),
    )


# The two days recomputed from the responses and the exports that carried them. For exports
# written before schema version 4 the day the export was created is the day it was written
# (an interrupted one was completed later; the database did not record when).
_RECOMPUTE = """
UPDATE reports SET
    first_response_day = (SELECT min(p.day) FROM responses p
                          WHERE p.regno = reports.regno AND p.to_reporter = 1),
    answered_day = (SELECT min(x.created_day) FROM responses p
                    JOIN exports x ON x.sequence = p.export_seq
                    WHERE p.regno = reports.regno AND p.to_reporter = 1 AND x.state = 'written')
WHERE regno = ?
"""


def settle(conn: schema.Connection, home: Home, identities: list[RecipientIdentity]) -> int:
    """Fill in what schema version 4 added for responses written before it; returns how many.

    Replies reach the reporter. Whether an earlier status change carried a note is inside its
    envelope, so it is opened here with the inspectorate's keys, current and retired (the migration
    itself has no key).
    An envelope that cannot be read keeps the earlier console's reading, that every status change
    was a response. Then the reports' first response and answered days are recomputed by the
    rule. Runs at every unlock; once nothing is left to fill in it costs one query.
    """
    rows = conn.execute(
        "SELECT response_id, regno, kind FROM responses WHERE to_reporter IS NULL"
    ).fetchall()
    if not rows:
        return 0
    flags = [
        (
            int(row["kind"] == "reply" or _status_has_note(home, identities, row["response_id"])),
            row["response_id"],
        )
        for row in rows
    ]
    with schema.transaction(conn):
        conn.executemany("UPDATE responses SET to_reporter = ? WHERE response_id = ?", flags)
        for regno in sorted({row["regno"] for row in rows}):
            conn.execute(_RECOMPUTE, (regno,))
    return len(rows)


def _status_has_note(home: Home, identities: list[RecipientIdentity], response_id: str) -> bool:
    try:
        data = home.response_path(response_id).read_bytes()
        _meta, content = payload.open_bytes(data, identities, max_content=MAX_STATUS_BYTES)
        return reaches_reporter("status", StatusDocument.from_bytes(content).note)
    except (OSError, EnvelopeError, DocumentError):
        return True

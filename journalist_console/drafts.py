"""Drafts: what an investigator typed on a report page and has not sent, kept for them.

The web console locks itself after a while without a request, and an investigator writing a long
answer makes no request while typing. The form they finally send is not thrown away: its
message to the reporter (with the status chosen beside it) and its internal note are kept here,
in the console's SQLCipher database, encrypted like everything else in it, and offered back on
the report page after unlocking. The same happens when they lock the console from the report page,
or send one form of the page while the other holds text. A draft belongs to one investigator and
one report; sending the message (or adding the note) discards it, and so does retention with the
report. Drafts never leave the console and are not audited: nothing has happened to the case yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from journalist_console import accounts, dates, schema
from journalist_console.session import Session
from journalist_console.texts import clean_text
from keys.records import STATUSES

KINDS = ("message", "note")
# Far more than any form accepts (a reply is at most 10,000 characters): whatever was typed is
# kept whole, and the form says what is too long when it is sent.
MAX_DRAFT_CHARS = 100_000


@dataclass(frozen=True)
class Draft:
    kind: str
    text: str
    status: str | None  # for a message: the status chosen with it (None: not changed)
    day: str


def keep(session: Session, regno: str, kind: str, text: str, status: str | None = None) -> bool:
    """Keep what is in one field of the page now (text that is only blank removes the draft);
    returns whether a draft is kept. `regno` is a canonical register number."""
    if kind not in KINDS:
        raise ValueError(f"unknown draft kind {kind!r}")
    accounts.require_not_recused(session.conn, session.investigator, regno)
    body = clean_text(text)[:MAX_DRAFT_CHARS]
    chosen = status if status in STATUSES and kind == "message" else None
    with schema.transaction(session.conn):
        if not body.strip():
            session.conn.execute(
                "DELETE FROM drafts WHERE regno = ? AND investigator = ? AND kind = ?",
                (regno, session.investigator, kind),
            )
            return False
        session.conn.execute(
            "INSERT INTO drafts(regno, investigator, kind, status, text, day) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(regno, investigator, kind) DO UPDATE SET "
            "status = excluded.status, text = excluded.text, day = excluded.day",
            (regno, session.investigator, kind, chosen, body, dates.today().isoformat()),
        )
    return True


def of_report(session: Session, regno: str) -> dict[str, Draft]:
    """The acting investigator's drafts on one report, by kind."""
    rows = session.conn.execute(
        "SELECT kind, text, status, day FROM drafts WHERE regno = ? AND investigator = ?",
        (regno, session.investigator),
    ).fetchall()
    return {row["kind"]: Draft(row["kind"], row["text"], row["status"], row["day"]) for row in rows}


def discard(session: Session, regno: str, kind: str) -> None:
    with schema.transaction(session.conn):
        session.conn.execute(
            "DELETE FROM drafts WHERE regno = ? AND investigator = ? AND kind = ?",
            (regno, session.investigator, kind),
        )


def waiting(session: Session) -> list[str]:
    """The reports on which the acting investigator has kept drafts (not those recused from)."""
    rows = session.conn.execute(
        "SELECT DISTINCT d.regno FROM drafts d WHERE d.investigator = ? AND NOT EXISTS "
        "(SELECT 1 FROM recusals c WHERE c.regno = d.regno AND c.investigator = d.investigator "
        "AND c.lifted_day IS NULL) ORDER BY d.regno",
        (session.investigator,),
    ).fetchall()
    return [row["regno"] for row in rows]

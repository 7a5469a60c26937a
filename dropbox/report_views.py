"""What a returning source sees of their reports: each report's register number, day, category
(from the card sealed to the source) and counts, with its statuses and replies decrypted in
memory only with the source's key. Read-only: nothing here writes the database or the store.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from dropbox.store import Store, StoreError
from keys import payload
from keys.documents import DocumentError, ReplyDocument, StatusDocument
from keys.errors import EnvelopeError
from keys.keytypes import RecipientIdentity

MAX_RESPONSE_BYTES = 1024 * 1024  # a reply or status document; anything larger is refused
MAX_CARD_BYTES = 4096


@dataclass
class ResponseView:
    response_id: str
    kind: str
    day: str
    readable: bool
    status: str | None = None
    message: str = ""
    author: str = ""


@dataclass
class ReportView:
    regno: str
    received_day: str
    followups: int
    files: int
    category: str | None = None  # from the card sealed to the source; None for older reports
    statuses: list[ResponseView] = field(default_factory=list)
    replies: list[ResponseView] = field(default_factory=list)

    @property
    def current_status(self) -> str:
        readable = [view.status for view in self.statuses if view.readable and view.status]
        return readable[-1] if readable else "received"


def source_reports(
    connection: sqlite3.Connection, store: Store, source_id: str, source_key: RecipientIdentity
) -> list[ReportView]:
    """The source's reports, newest day first, with their statuses and replies."""
    reports = connection.execute(
        "SELECT regno, received_day, card FROM reports WHERE source_id = ?"
        " ORDER BY received_day DESC, regno",
        (source_id,),
    ).fetchall()
    views = []
    for report in reports:
        counts = dict(
            connection.execute(
                "SELECT kind, count(*) FROM entries WHERE regno = ? GROUP BY kind",
                (report["regno"],),
            ).fetchall()
        )
        view = ReportView(
            report["regno"],
            report["received_day"],
            counts.get("followup", 0),
            counts.get("file", 0),
            _open_card(report["card"], source_key),
        )
        responses = connection.execute(
            "SELECT response_id, kind, day FROM responses WHERE regno = ?"
            " ORDER BY console_seq, position",
            (report["regno"],),
        ).fetchall()
        for row in responses:
            response = _open_response(store, row, source_key)
            target = view.statuses if row["kind"] == "status" else view.replies
            target.append(response)
        views.append(view)
    return views


def _open_response(store: Store, row: sqlite3.Row, source_key: RecipientIdentity) -> ResponseView:
    view = ResponseView(row["response_id"], row["kind"], row["day"], readable=False)
    try:
        with store.open_item(row["response_id"]) as handle:
            data = handle.read(MAX_RESPONSE_BYTES + 64 * 1024)
        meta, content = payload.open_bytes(data, [source_key], MAX_RESPONSE_BYTES)
        kind = StatusDocument if row["kind"] == "status" else ReplyDocument
        document = kind.from_bytes(content)
    except (StoreError, EnvelopeError, DocumentError):
        # One damaged item must not take the whole page down: it is shown as unreadable.
        return view
    if meta.get("kind") != row["kind"]:
        return view
    view.readable = True
    if isinstance(document, StatusDocument):
        view.message, view.status = document.note, document.status
    else:
        view.message, view.author = document.message, document.author
    return view


def _open_card(card: bytes | None, source_key: RecipientIdentity) -> str | None:
    """The category on the report's card, if there is a card and it opens with the source's key."""
    if not card:
        return None
    try:
        meta, content = payload.open_bytes(bytes(card), [source_key], MAX_CARD_BYTES)
        category = json.loads(content.decode("utf-8")).get("category")
    except (EnvelopeError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return category if meta.get("kind") == "card" and isinstance(category, str) else None

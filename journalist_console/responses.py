"""Working a report: replies and status changes for the reporter, internal notes for the team.

A reply or a status change is a response: a keys.payload envelope sealed to the reporter's key
and every inspectorate key (journalist_console/settings.py, `recipients`), carried to the server
by the next export. Its envelope is written (temp file, fsync, rename) into store/responses/
before the transaction that records it commits; an envelope the database does not know is an
orphan removed when the next session opens, so a crash leaves the report as it was before the
action or as it is after it. Notes never leave the console.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from journalist_console import (
    accounts,
    answers,
    audit,
    dates,
    drafts,
    reports,
    schema,
    settings,
    standard_texts,
)
from journalist_console.errors import ConsoleError, InvalidInput
from journalist_console.session import Session
from journalist_console.texts import Text, clean_text
from keys import keyfiles, payload
from keys.documents import ReplyDocument, StatusDocument
from keys.errors import KeyFileError
from keys.keytypes import RecipientKey
from keys.records import FINAL_STATUSES, STATUSES, new_id

MAX_REPLY_CHARS = 10_000
MAX_NOTE_CHARS = 10_000
MAX_STATUS_NOTE_CHARS = 2_000


def reply_author(session: Session, name: str | None = None) -> str:
    """What a reporter sees on a reply written by `name` (default: the acting investigator):
    their display name if an administrator gave them one, else the console's author name."""
    account = accounts.get(session.conn, name or session.investigator)
    if account is not None and account.display_name:
        return account.display_name
    return settings.author_name(session.conn)


def reply(session: Session, regno_text: str, message: str) -> str:
    """Record a reply to the reporter; returns its response id."""
    regno = reports.resolve(session, regno_text)
    text = clean_text(message)
    if not text.strip():
        raise InvalidInput(Text("The reply is empty."))
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidInput(
            Text("The reply is too long: at most %(n)s characters.", n=MAX_REPLY_CHARS),
            f"the reply is {len(text)} characters long; the limit is {MAX_REPLY_CHARS}",
        )
    document = ReplyDocument(text, reply_author(session))
    return _write(session, regno, document, {"chars": len(text)})


def set_status(session: Session, regno_text: str, status: str, note: str = "") -> str:
    """Change a report's status, with an optional note to the reporter; returns the response id."""
    regno = reports.resolve(session, regno_text)
    if status not in STATUSES:
        raise InvalidInput(
            Text("Unknown status."), f"unknown status {status[:40]!r}; valid: {', '.join(STATUSES)}"
        )
    text = clean_text(note).strip()
    if len(text) > MAX_STATUS_NOTE_CHARS:
        raise InvalidInput(
            Text("The status note is too long: at most %(n)s characters.", n=MAX_STATUS_NOTE_CHARS),
            f"the status note is {len(text)} characters long; the limit is {MAX_STATUS_NOTE_CHARS}",
        )
    return _write(session, regno, StatusDocument(status, text), {"status": status})


@dataclass(frozen=True)
class Responded:
    regno: str
    status: str | None  # the new status, if it changed
    replied: bool


def compose(standard: str, typed: str) -> str:
    """A standard text first, then what the investigator typed after it."""
    parts = [part.strip("\n") for part in (standard, typed) if part.strip()]
    return "\n\n".join(parts)


def respond(
    session: Session,
    regno_text: str,
    status: str | None,
    message: str,
    standard: str | None = None,
) -> Responded:
    """The desk's one action: a new status and/or a message to the reporter (a standard text,
    then what was typed). The message goes as a reply, beside the status change rather than as
    its note: a reporter can delete a reply from their page, never a status note. Everything is
    checked before anything is written; the message's draft is discarded once sent."""
    regno = reports.resolve(session, regno_text)
    current = reports.report_row(session.conn, regno)["status"]
    if status and status not in STATUSES:
        raise InvalidInput(
            Text("Unknown status."), f"unknown status {status[:40]!r}; valid: {', '.join(STATUSES)}"
        )
    chosen = standard_texts.for_report(session, regno, standard) if standard else ""
    text = compose(chosen, clean_text(message))
    changed = status if status and status != current else None
    if changed is None and not text.strip():
        raise InvalidInput(
            Text("Nothing to send: choose another status or write a message."),
            "nothing to send: give another status or a message",
        )
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidInput(
            Text("The reply is too long: at most %(n)s characters.", n=MAX_REPLY_CHARS),
            f"the reply is {len(text)} characters long; the limit is {MAX_REPLY_CHARS}",
        )
    if changed is not None:
        set_status(session, regno, changed)
    if text.strip():
        reply(session, regno, text)
        drafts.discard(session, regno, "message")
    return Responded(regno, changed, bool(text.strip()))


def add_note(session: Session, regno_text: str, text: str) -> str:
    """Add an internal note (never exported); returns the canonical register number."""
    regno = reports.resolve(session, regno_text)
    body = clean_text(text).strip()
    if not body:
        raise InvalidInput(Text("The note is empty."))
    if len(body) > MAX_NOTE_CHARS:
        raise InvalidInput(
            Text("The note is too long: at most %(n)s characters.", n=MAX_NOTE_CHARS),
            f"the note is longer than {MAX_NOTE_CHARS} characters",
        )
    with schema.transaction(session.conn):
        session.conn.execute(
            "INSERT INTO notes(regno, day, author, text) VALUES (?, ?, ?, ?)",
            (regno, dates.today().isoformat(), session.investigator, body),
        )
        audit.append(session.conn, session.investigator, "note_added", regno, {"chars": len(body)})
    drafts.discard(session, regno, "note")
    return regno


def _source_key(session: Session, regno: str) -> RecipientKey:
    row = session.conn.execute(
        "SELECT s.public_key FROM reports r JOIN sources s USING (source_id) WHERE r.regno = ?",
        (regno,),
    ).fetchone()
    try:
        return keyfiles.parse_public_key(row[0], "recipient").as_recipient()
    except KeyFileError as exc:
        raise ConsoleError(f"the reporter's key for {regno} is damaged ({exc})") from None


def _write(
    session: Session,
    regno: str,
    document: ReplyDocument | StatusDocument,
    audit_detail: dict[str, Any],
) -> str:
    """Seal the response, store its envelope, then record it (one transaction with its audit)."""
    status = document.status if isinstance(document, StatusDocument) else None
    author = document.author if isinstance(document, ReplyDocument) else reply_author(session)
    note = document.note if isinstance(document, StatusDocument) else ""
    to_reporter = answers.reaches_reporter(document.KIND, note)
    recipients = [_source_key(session, regno), *settings.recipients(session)]
    sealed = payload.seal_bytes({"kind": document.KIND}, document.to_bytes(), recipients)
    response_id = new_id()
    target = session.home.response_path(response_id)
    temporary = target.with_name(target.name + ".partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(sealed)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    today = dates.today().isoformat()
    conn = session.conn
    try:
        with schema.transaction(conn):
            position = conn.execute(
                "SELECT coalesce(max(position), 0) + 1 FROM responses"
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO responses(response_id, position, regno, kind, day, status, "
                "closes_report, author, export_seq, actor, to_reporter) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    response_id,
                    position,
                    regno,
                    document.KIND,
                    today,
                    status,
                    int(status in FINAL_STATUSES),
                    author,
                    session.investigator,
                    int(to_reporter),
                ),
            )
            if to_reporter:
                conn.execute(
                    "UPDATE reports SET first_response_day = ? "
                    "WHERE regno = ? AND first_response_day IS NULL",
                    (today, regno),
                )
            if status is not None:
                conn.execute(
                    "UPDATE reports SET status = ?, status_day = ?, closed_day = ? WHERE regno = ?",
                    (status, today, today if status in FINAL_STATUSES else None, regno),
                )
            action = "replied" if document.KIND == "reply" else "status_changed"
            detail = audit_detail | {"response_id": response_id}
            audit.append(conn, session.investigator, action, regno, detail)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return response_id

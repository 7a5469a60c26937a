"""The console's settings (the `settings` table) and the extra inspectorate keys (`recipient`).

Read by everyone, changed by administrators only (`config`, `recipient`, the Retention page), each
change audited as `configured` or `recipient_added`:

    due_days               days from receipt to a report's due day (30)
    warn_day               from this day after receipt an unanswered report is marked (20)
    author_name            the display name on replies of investigators who have none (Inspektorat)
    retention_days         days after a finished report's last event until retention removes it
                           (365; 0 keeps reports forever; see retention.py)
    retention_mode         delete | archive
    retention_archive_dir  where archive mode writes (a full path outside the home)
    rendition_ocr          1: safe renditions made from now on carry an OCR text layer (0)
    server_key, server_instance, export_sequence, audit_head, audit_count
                           kept by import, export and the audit log themselves
    server_recipient       the inspectorate key the server was last given (init, or an export
                           that announced a new one: exporter.py)

Server keys retired by a re-pin are the server_pins table (`retired_server_pins`, repin.py).

Responses are sealed to the console's own inspectorate key and to every key added with
`recipient`, so another inspectorate workstation can read them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journalist_console import accounts, audit, dates, schema
from journalist_console.errors import InvalidInput
from journalist_console.home import Home
from journalist_console.session import Session
from journalist_console.texts import Text, clean_text
from keys import keyfiles
from keys.keytypes import RecipientKey

MAX_AUTHOR_CHARS = 60
RETENTION_MODES = ("delete", "archive")
DEFAULT_AUTHOR = "Inspektorat"


def due_days(conn: schema.Connection) -> int:
    return _due_days(conn)


def _due_days(conn: schema.Connection) -> int:
    # configure() has a parameter of the same name: it reads the setting through this one.
    return int(schema.get_setting(conn, "due_days") or dates.DEFAULT_DUE_DAYS)


def warn_day(conn: schema.Connection) -> int:
    """The day after receipt from which an unanswered report is marked (journalist_console/
    deadlines.py); never later than the due day itself."""
    value = int(schema.get_setting(conn, "warn_day") or dates.DEFAULT_WARN_DAY)
    return min(value, due_days(conn))


def author_name(conn: schema.Connection) -> str:
    return schema.get_setting(conn, "author_name") or DEFAULT_AUTHOR


def ocr_enabled(conn: schema.Connection) -> bool:
    """Whether renditions get a searchable text layer (tesseract, in the sandbox)."""
    return schema.get_setting(conn, "rendition_ocr") == "1"


def instance(conn: schema.Connection) -> str | None:
    """The server instance this console imports from (learnt at the first import)."""
    return schema.get_setting(conn, "server_instance")


def pinned_server_key(conn: schema.Connection) -> keyfiles.PublicKey | None:
    line = schema.get_setting(conn, "server_key")
    return None if line is None else keyfiles.parse_public_key(line, "verify")


@dataclass(frozen=True)
class RetiredPin:
    """A server key this console trusted before a re-pin, with what it last imported from it."""

    key: keyfiles.PublicKey
    instance: str | None
    last_sequence: int | None
    retired_day: str
    retired_by: str


def retired_server_pins(conn: schema.Connection) -> list[RetiredPin]:
    rows = conn.execute(
        "SELECT public_key, instance, last_sequence, retired_day, retired_by FROM server_pins "
        "ORDER BY retired_day, rowid"
    ).fetchall()
    return [
        RetiredPin(
            keyfiles.parse_public_key(row[0], "verify"), row[1], row[2], str(row[3]), str(row[4])
        )
        for row in rows
    ]


def retention_days(conn: schema.Connection) -> int:
    """Days after a finished report's last event until `retention` removes it; 0: never."""
    value = schema.get_setting(conn, "retention_days")
    return dates.DEFAULT_RETENTION_DAYS if value is None else int(value)


def retention_mode(conn: schema.Connection) -> str:
    """What retention does with a due report: delete it, or archive it first, then delete."""
    return schema.get_setting(conn, "retention_mode") or RETENTION_MODES[0]


def archive_folder(conn: schema.Connection) -> str | None:
    """The folder retention writes archives into (mode "archive")."""
    return schema.get_setting(conn, "retention_archive_dir")


def archive_folder_needed() -> InvalidInput:
    return InvalidInput(
        Text("Archive mode needs an archive folder."),
        "archive mode needs an archive folder (--archive-dir DIR)",
    )


def check_archive_dir(home: Home, folder: str) -> Path:
    """An absolute path of an existing folder outside the console's home."""
    path = Path(folder)
    if not folder or "\x00" in folder or not path.is_absolute():
        raise InvalidInput(Text("Give the archive folder as a full path (it must exist)."))
    if not path.is_dir():
        raise InvalidInput(
            Text("The archive folder %(folder)s does not exist.", folder=folder),
            f"the archive folder {folder} does not exist (or is not a folder)",
        )
    resolved, root = path.resolve(), home.root.resolve()
    if resolved == root or root in resolved.parents:
        raise InvalidInput(
            Text(
                "The archive folder must be outside the console's home: an archive there would "
                "keep what retention removes."
            )
        )
    return path


def configure(
    session: Session,
    due_days: int | None = None,
    author: str | None = None,
    retention_days: int | None = None,
    retention_mode: str | None = None,
    archive_dir: str | None = None,
    warn_day: int | None = None,
    ocr: bool | None = None,
) -> None:
    """Change the settings given (administrators only); nothing given changes nothing."""
    conn = session.conn
    given = (due_days, author, retention_days, retention_mode, archive_dir, warn_day, ocr)
    if any(value is not None for value in given):
        accounts.require_admin(conn, session.investigator, "change the console's settings")
    changes: dict[str, Any] = {}
    if due_days is not None:
        if not 1 <= due_days <= dates.MAX_DUE_DAYS:
            raise InvalidInput(f"due days must be between 1 and {dates.MAX_DUE_DAYS}")
        changes["due_days"] = due_days
    if warn_day is not None:
        limit = due_days if due_days is not None else _due_days(conn)
        if not 1 <= warn_day <= limit:
            raise InvalidInput(
                Text("The warning day must be between 1 and the due days (%(n)s).", n=limit)
            )
        changes["warn_day"] = warn_day
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
                Text(
                    "Retention days must be 0 (keep forever) or between %(low)s and %(high)s.",
                    low=dates.MIN_RETENTION_DAYS,
                    high=dates.MAX_RETENTION_DAYS,
                )
            )
        changes["retention_days"] = retention_days
    if archive_dir is not None:
        changes["retention_archive_dir"] = str(check_archive_dir(session.home, archive_dir))
    if retention_mode is not None:
        if retention_mode not in RETENTION_MODES:
            raise InvalidInput(
                Text("Unknown retention mode."),
                f"the retention mode is one of: {', '.join(RETENTION_MODES)}",
            )
        if retention_mode == "archive" and not (
            changes.get("retention_archive_dir") or archive_folder(conn)
        ):
            raise archive_folder_needed()
        changes["retention_mode"] = retention_mode
    if ocr is not None:
        changes["rendition_ocr"] = int(ocr)
    if not changes:
        return
    with schema.transaction(conn):
        for name, value in changes.items():
            schema.set_setting(conn, name, str(value))
        audit.append(conn, session.investigator, "configured", None, changes)


def recipients(session: Session) -> list[RecipientKey]:
    """Whom responses and archives are sealed to: this console's own key first, then the
    inspectorate keys added with `recipient`."""
    keys = [session.vault.identity.public_key]
    for row in session.conn.execute("SELECT public_key FROM recipients ORDER BY added_day"):
        keys.append(keyfiles.parse_public_key(row[0], "recipient").as_recipient())
    return keys


def add_recipient(session: Session, key: keyfiles.PublicKey, label: str) -> None:
    conn = session.conn
    accounts.require_admin(conn, session.investigator, "add an inspectorate recipient key")
    if key.kind != "recipient":
        raise InvalidInput("not a recipient key")
    if key.as_recipient() in [identity.public_key for identity in session.vault.identities]:
        raise InvalidInput("that is this console's own key (current or retired)")
    label = clean_text(label).strip()[:60] or key.fingerprint
    with schema.transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO recipients(public_key, label, added_day) VALUES (?, ?, ?)",
            (key.to_line(), label, dates.today().isoformat()),
        )
        audit.append(
            conn, session.investigator, "recipient_added", None, {"fingerprint": key.fingerprint}
        )

"""Where renditions are kept: encrypted, like everything else in the console home.

Each part of a rendition (a page image "p0001"..., the plain text "text", the OCR words "ocr")
is a keys.payload envelope, `store/renditions/<entry_id>-<part>.env`, sealed to this console's
own recipient key (the inspectorate key; nothing a rendition holds ever leaves the console, so
no other recipient is needed). Its metadata names the entry and the part, and the database row
(table `renditions`, journalist_console/tables.py) lists every part with its SHA-256: the
public inspectorate key lets anyone seal an envelope, so only a part whose digest the database
(keyed by the vault) vouches for is ever shown.

Writing follows the responses' pattern: the parts are written as `.partial` files (fsynced),
renamed into place, and the row committed last; a part without a row is an orphan that
Session.cleanup overwrites and removes at the next unlock, and retention wipes an entry's parts
with its envelope (`files`). No plaintext is ever written to disk here.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journalist_console import dates, schema
from journalist_console.errors import Unreadable
from journalist_console.home import Home
from journalist_console.session import Session
from keys import payload
from keys.disk import fsync_dir, wipe_file
from keys.errors import EnvelopeError

KIND = "wbs-console-rendition"
MAX_PART_BYTES = 64 * 1024 * 1024


def page_part(number: int) -> str:
    return f"p{number:04d}"


@dataclass(frozen=True)
class Rendition:
    entry_id: str
    format: str  # rendition/formats.py: pdf, office, html, image, text, other
    detail: str  # the image kind, office extension, or what an `other` file is
    pages: int
    total_pages: int
    text_cut: bool
    ocr: bool
    problem: str | None
    digests: dict[str, str]
    made_day: str

    @property
    def has_text(self) -> bool:
        return "text" in self.digests

    @property
    def cut_short(self) -> bool:
        return self.total_pages > self.pages > 0


def _from_row(row: Any) -> Rendition:
    try:
        digests = json.loads(row["digests"])
    except ValueError:
        digests = {}
    return Rendition(
        entry_id=row["entry_id"],
        format=row["format"],
        detail=row["detail"],
        pages=int(row["pages"]),
        total_pages=int(row["total_pages"]),
        text_cut=bool(row["text_cut"]),
        ocr=bool(row["ocr"]),
        problem=row["problem"],
        digests=digests if isinstance(digests, dict) else {},
        made_day=row["made_day"],
    )


def get(conn: schema.Connection, entry_id: str) -> Rendition | None:
    row = conn.execute("SELECT * FROM renditions WHERE entry_id = ?", (entry_id,)).fetchone()
    return None if row is None else _from_row(row)


def of_entries(conn: schema.Connection, entry_ids: list[str]) -> dict[str, Rendition]:
    found: dict[str, Rendition] = {}
    for entry_id in entry_ids:
        rendition = get(conn, entry_id)
        if rendition is not None:
            found[entry_id] = rendition
    return found


def missing(conn: schema.Connection) -> list[str]:
    """Readable file entries without a rendition, oldest first."""
    rows = conn.execute(
        "SELECT e.entry_id FROM entries e LEFT JOIN renditions r USING (entry_id) "
        "WHERE e.kind = 'file' AND e.readable = 1 AND r.entry_id IS NULL "
        "ORDER BY e.import_seq, e.rowid"
    ).fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True)
class EntryFile:
    """What the database knows of a file entry (read from inside its envelope at import)."""

    entry_id: str
    name: str | None
    media_type: str | None
    size: int | None
    readable: bool


def entry_file(conn: schema.Connection, entry_id: str) -> EntryFile | None:
    row = conn.execute(
        "SELECT entry_id, name, media_type, size, readable FROM entries "
        "WHERE entry_id = ? AND kind = 'file'",
        (entry_id,),
    ).fetchone()
    if row is None:
        return None
    size = None if row["size"] is None else int(row["size"])
    return EntryFile(row["entry_id"], row["name"], row["media_type"], size, bool(row["readable"]))


def open_part(session: Session, entry_id: str, part: str, rendition: Rendition) -> bytes:
    """One part, decrypted and checked against the digest the database holds for it."""
    expected = rendition.digests.get(part)
    if expected is None:
        raise Unreadable(f"the rendition has no part {part}")
    try:
        data = session.home.rendition_path(entry_id, part).read_bytes()
        meta, content = payload.open_bytes(
            data, [session.vault.identity], max_content=MAX_PART_BYTES
        )
    except (OSError, EnvelopeError) as exc:
        raise Unreadable(f"the rendition cannot be read ({exc})") from None
    if meta.get("kind") != KIND or meta.get("entry_id") != entry_id or meta.get("part") != part:
        raise Unreadable("the rendition belongs to another file")
    if hashlib.sha256(content).hexdigest() != expected:
        raise Unreadable("the rendition was changed since it was made")
    return content


class Writer:
    """The parts of one new rendition, sealed as they come; `commit` makes them the rendition."""

    def __init__(self, session: Session, entry_id: str) -> None:
        self.home = session.home
        self.entry_id = entry_id
        self.recipient = session.vault.identity.public_key
        self.token = secrets.token_hex(8)
        self.digests: dict[str, str] = {}
        self.home.renditions_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _partial(self, part: str) -> Path:
        return self.home.renditions_dir / f"{self.entry_id}-{part}.{self.token}.partial"

    def add(self, part: str, content: bytes) -> None:
        meta = {"kind": KIND, "entry_id": self.entry_id, "part": part}
        sealed = payload.seal_bytes(meta, content, [self.recipient])
        path = self._partial(part)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
        self.digests[part] = hashlib.sha256(content).hexdigest()

    def discard(self) -> None:
        for part in self.digests:
            wipe_file(self._partial(part))
        self.digests.clear()

    def commit(self, conn: schema.Connection, row: dict[str, Any]) -> bool:
        """Rename the parts into place and record the row (serialised by the caller).

        False (and everything discarded) when a rendition of the entry exists already, or
        when its entry is gone (retention ran meanwhile).
        """
        exists = conn.execute(
            "SELECT (SELECT count(*) FROM renditions WHERE entry_id = :e), "
            "(SELECT count(*) FROM entries WHERE entry_id = :e)",
            {"e": self.entry_id},
        ).fetchone()
        if exists[0] or not exists[1]:
            self.discard()
            return False
        try:
            for part in self.digests:
                os.replace(self._partial(part), self.home.rendition_path(self.entry_id, part))
        except FileNotFoundError:  # `forget` wiped the entry's files meanwhile
            self.discard()
            for path in files(self.home, self.entry_id):
                wipe_file(path)
            return False
        fsync_dir(self.home.renditions_dir)
        values = row | {
            "entry_id": self.entry_id,
            "digests": json.dumps(self.digests, sort_keys=True),
            "made_day": dates.today().isoformat(),
        }
        try:
            with schema.transaction(conn):
                conn.execute(
                    "INSERT INTO renditions(entry_id, format, detail, pages, total_pages, "
                    "text_cut, ocr, problem, digests, made_day) VALUES (:entry_id, :format, "
                    ":detail, :pages, :total_pages, :text_cut, :ocr, :problem, :digests, "
                    ":made_day)",
                    values,
                )
        except BaseException:
            for part in self.digests:
                wipe_file(self.home.rendition_path(self.entry_id, part))
            raise
        return True


def files(home: Home, entry_id: str) -> list[Path]:
    """The files of an entry's rendition (to wipe with the entry's envelope)."""
    return home.rendition_files(entry_id)


def forget(session: Session, entry_id: str) -> None:
    """Remove an entry's rendition (to make it again): the row, then its overwritten files."""
    with schema.transaction(session.conn):
        session.conn.execute("DELETE FROM renditions WHERE entry_id = ?", (entry_id,))
    for path in files(session.home, entry_id):
        wipe_file(path)

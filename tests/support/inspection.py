"""Looking at what a server left on disk, as a seizing adversary or a crash investigator would:
every database value, the store against the database, every envelope decrypted, raw-byte
searches of a tree in the encodings a careless implementation might use.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dropbox import db
from keys import payload
from keys.keytypes import RecipientIdentity


def db_key(data: Path) -> bytes:
    return bytes.fromhex((data / "db.key").read_text().strip())


@contextlib.contextmanager
def open_db(data: Path) -> Iterator[Any]:
    connection = db.connect(data / "dropbox.db", db_key(data))
    try:
        yield connection
    finally:
        connection.close()


def all_db_values(data: Path) -> list[tuple[str, str, Any]]:
    """(table, column, value) for every cell of every table, the schema's own text included."""
    values: list[tuple[str, str, Any]] = []
    with open_db(data) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for row in connection.execute("SELECT type, name, sql FROM sqlite_master"):
            values.append(("sqlite_master", "sql", row[2]))
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from sqlite_master)
            columns = [item[0] for item in cursor.description]
            for row in cursor.fetchall():
                values += [
                    (table, column, value) for column, value in zip(columns, row, strict=True)
                ]
    return values


def counts(data: Path) -> dict[str, int]:
    with open_db(data) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
            for table in ("sources", "reports", "entries", "responses")
        }


def store_problems(data: Path, kept: Iterable[str] = ()) -> list[str]:
    """Inconsistencies between store/ and the database; [] when consistent. `kept`: names of
    files in store/pending that a live session holds for a form sent back for correction (see
    `kept_uploads`); anything else there is a leftover."""
    problems = []
    items = {path.name for path in (data / "store" / "items").iterdir()}
    with open_db(data) as connection:
        # An entry the console acknowledged keeps its row but loses its envelope (exchange.py).
        rows = {
            row[0] for row in connection.execute("SELECT entry_id FROM entries WHERE acked = 0")
        }
        rows |= {row[0] for row in connection.execute("SELECT response_id FROM responses")}
        dangling = connection.execute(
            "SELECT count(*) FROM entries e LEFT JOIN reports r ON r.regno = e.regno"
            " WHERE r.regno IS NULL"
        ).fetchone()[0]
    files = {name[:-4] for name in items if name.endswith(".env")}
    problems += [f"stray file in items: {name}" for name in items if not name.endswith(".env")]
    problems += [f"envelope without a row: {name}" for name in sorted(files - rows)]
    problems += [f"row without an envelope: {name}" for name in sorted(rows - files)]
    if dangling:
        problems.append(f"{dangling} entries point at no report")
    allowed = set(kept)
    pending = list((data / "store" / "pending").iterdir())
    problems += [f"left in pending: {path.name}" for path in pending if path.name not in allowed]
    return problems


def kept_uploads(app: Any) -> set[str]:
    """The store/pending file names of the uploads that the live sessions of an in-process app
    hold for their corrected forms: they belong to a ticket, not left behind."""
    store = app.session_interface.store
    with store._lock:
        records = list(store._records.values())
    return {upload.pending.path.name for record in records for upload in record.held()}


def decrypt_store(data: Path, identity: RecipientIdentity) -> dict[str, tuple[dict, bytes]]:
    """Every entry envelope opened with the inspectorate key: entry_id -> (meta, content)."""
    opened = {}
    with open_db(data) as connection:
        entry_ids = [
            row[0] for row in connection.execute("SELECT entry_id FROM entries WHERE acked = 0")
        ]
    for entry_id in entry_ids:
        raw = (data / "store" / "items" / f"{entry_id}.env").read_bytes()
        opened[entry_id] = payload.open_bytes(raw, [identity])
    return opened


def files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def encodings_of(text: str) -> dict[str, bytes]:
    """The byte forms a careless implementation might write a string in."""
    raw = text.encode("utf-8")
    forms = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "utf-32-le": text.encode("utf-32-le"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "lower": text.lower().encode("utf-8"),
    }
    # base64 depends on alignment: the inner part of the encoding at each of the three offsets.
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        forms[f"base64+{offset}"] = encoded[4 : len(encoded) - 4]
        url = base64.urlsafe_b64encode(b"\0" * offset + raw)
        forms[f"base64url+{offset}"] = url[4 : len(url) - 4]
    forms["base32"] = base64.b32encode(raw)[8:-8]
    return forms


def find_in_bytes(blobs: Iterable[tuple[str, bytes]], needles: dict[str, bytes]) -> list[str]:
    """'where: what' for every needle found in any blob."""
    found = []
    for where, blob in blobs:
        for label, needle in needles.items():
            if needle and needle in blob:
                found.append(f"{where}: {label}")
    return found


def tree_blobs(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file's bytes and every path name under root (names leak too)."""
    for path in sorted(root.rglob("*")):
        yield f"name {path}", str(path.relative_to(root)).encode("utf-8", "surrogateescape")
        if path.is_file() and not path.is_symlink():
            yield str(path), path.read_bytes()


def grep_tree(root: Path, needles: Iterable[str | bytes]) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in the raw bytes of any file under root.

    Each needle is searched as UTF-8 and as UTF-16-LE.
    """
    encoded: list[tuple[str, bytes]] = []
    for needle in needles:
        text = needle.decode("utf-8") if isinstance(needle, bytes) else needle
        encoded.append((text, text.encode("utf-8")))
        encoded.append((text, text.encode("utf-16-le")))
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        for label, raw in encoded:
            if raw and raw in data:
                hits.append((str(path.relative_to(root)), label))
    return hits


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, to prove an operation changed nothing."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }

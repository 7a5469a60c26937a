"""The console's SQLCipher database: the connection and the whole schema, in this one module.

The database is keyed with a random 256-bit key kept in the vault (never derived from a passphrase
directly), so adding an investigator or changing a passphrase never re-encrypts it. What it holds:
the pinned server key and instance, the sources' public keys and designations, the reports'
bookkeeping (register number, days, status, cached category), one row per imported entry (the
envelope itself stays encrypted in the store), the console's own responses (their envelopes too are
in the store), internal notes, exports, the investigators' accounts (role and reply display name;
their passphrase boxes are files in vault/users/), report assignments and recusals, and the
hash-chained audit log.

Times: days everywhere, except the audit log, which records when an investigator acted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlcipher3

from journalist_console.errors import ConsoleError

SCHEMA_VERSION = 4
KEY_BYTES = 32

RETAINED_SCHEMA = """
-- Entries that retention removed (schema version 3): their random ids and the hash of their
-- envelope, nothing that names a report. A copy the server sends again (an `export --all` that
-- crossed the acknowledgement) is acknowledged again instead of bringing the report back.
-- ack_seq: the export that last acknowledged it (NULL: to be acknowledged in the next one).
CREATE TABLE IF NOT EXISTS retained (
    entry_id  TEXT PRIMARY KEY,
    sha256    TEXT NOT NULL,
    ack_seq   INTEGER
);
"""

KEYS_SCHEMA = """
-- Server keys this console no longer trusts (schema version 4): each re-pin (a rebuilt server)
-- keeps the key it replaced, the instance it served and the last bundle imported from it. A
-- retired key or instance is never accepted again.
CREATE TABLE IF NOT EXISTS server_pins (
    public_key     TEXT PRIMARY KEY,
    instance       TEXT,
    last_sequence  INTEGER,
    retired_day    TEXT NOT NULL,
    retired_by     TEXT NOT NULL
);
"""

ACCOUNTS_SCHEMA = """
-- Investigator accounts (schema version 2). The passphrase boxes are vault/users/<name>.box; a box
-- opens the console only for a name listed here and not removed. display_name: what reporters see
-- on this investigator's replies (NULL: the console's author name). Names are never reused.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'investigator')),
    display_name  TEXT,
    created_day   TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    removed_day   TEXT,
    removed_by    TEXT,
    box_key       TEXT
);
-- At most one investigator a report is assigned to.
CREATE TABLE assignments (
    regno         TEXT PRIMARY KEY REFERENCES reports(regno),
    assignee      TEXT NOT NULL REFERENCES users(name),
    assigned_day  TEXT NOT NULL,
    assigned_by   TEXT NOT NULL
);
-- Declared conflicts of interest; a lifted recusal keeps its row (lifted_day, lifted_by).
CREATE TABLE recusals (
    recusal_id    INTEGER PRIMARY KEY,
    regno         TEXT NOT NULL REFERENCES reports(regno),
    investigator  TEXT NOT NULL REFERENCES users(name),
    day           TEXT NOT NULL,
    reason        TEXT NOT NULL,
    lifted_day    TEXT,
    lifted_by     TEXT
);
CREATE UNIQUE INDEX recusals_active ON recusals(regno, investigator) WHERE lifted_day IS NULL;
CREATE INDEX recusals_by_investigator ON recusals(investigator);
"""

SCHEMA = (
    """
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
-- Server bundles applied, by (instance, sequence): a bundle seen before changes nothing.
CREATE TABLE imports (
    instance      TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    created_day   TEXT NOT NULL,
    imported_day  TEXT NOT NULL,
    new_entries   INTEGER NOT NULL,
    PRIMARY KEY (instance, sequence)
);
-- public_key: the X25519 key the server derived from the source's codename (replies go to it).
CREATE TABLE sources (
    source_id    TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL,
    designation  TEXT NOT NULL,
    created_day  TEXT NOT NULL
);
-- category: cached from the decrypted report at import (NULL while the report is unreadable).
-- acknowledged_day: first viewed; first_response_day: first reply or status change;
-- closed_day: day of the final status (NULL while open).
CREATE TABLE reports (
    regno               TEXT PRIMARY KEY,
    source_id           TEXT NOT NULL REFERENCES sources(source_id),
    received_day        TEXT NOT NULL,
    category            TEXT,
    status              TEXT NOT NULL DEFAULT 'received',
    status_day          TEXT NOT NULL,
    acknowledged_day    TEXT,
    first_response_day  TEXT,
    closed_day          TEXT
);
CREATE INDEX reports_by_status ON reports(status);
-- One row per envelope the server sent; the envelope is store/entries/<entry_id>.env.
-- name/media_type/size: a file's metadata read from inside its envelope at import.
-- seen: viewed by an investigator; sha256: the envelope's hash as the server's manifest listed it
-- (sent back in the acknowledgement); ack_seq: the console bundle that acknowledged it.
CREATE TABLE entries (
    entry_id     TEXT PRIMARY KEY,
    regno        TEXT NOT NULL REFERENCES reports(regno),
    kind         TEXT NOT NULL CHECK (kind IN ('report', 'followup', 'file')),
    day          TEXT NOT NULL,
    parent       TEXT,
    import_seq   INTEGER NOT NULL,
    readable     INTEGER NOT NULL,
    name         TEXT,
    media_type   TEXT,
    size         INTEGER,
    seen         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL,
    ack_seq      INTEGER
);
CREATE INDEX entries_by_regno ON entries(regno);
-- Replies and status changes written here; the envelope is store/responses/<response_id>.env,
-- readable by the source and by every inspectorate key. export_seq: the console bundle carrying it.
-- author: the display name the reporter sees; actor: the investigator account that wrote it.
CREATE TABLE responses (
    response_id    TEXT PRIMARY KEY,
    position       INTEGER NOT NULL UNIQUE,
    regno          TEXT NOT NULL REFERENCES reports(regno),
    kind           TEXT NOT NULL CHECK (kind IN ('reply', 'status')),
    day            TEXT NOT NULL,
    status         TEXT,
    closes_report  INTEGER NOT NULL,
    author         TEXT NOT NULL,
    export_seq     INTEGER,
    actor          TEXT
);
CREATE INDEX responses_by_regno ON responses(regno);
-- Internal notes: never exported.
CREATE TABLE notes (
    note_id  INTEGER PRIMARY KEY,
    regno    TEXT NOT NULL REFERENCES reports(regno),
    day      TEXT NOT NULL,
    author   TEXT NOT NULL,
    text     TEXT NOT NULL
);
-- Console bundles. 'pending': numbered and filled but not yet fully written (a crash there is
-- completed by the next export with the same content); 'written': on disk, things are exported.
-- sequence numbers every export here; server_sequence is the number the bundle carries, counted
-- per server instance (it starts at 1 again for a rebuilt server); key_change: what the bundle
-- announces (docs/protocol.md 9.4), JSON, NULL for nothing.
CREATE TABLE exports (
    sequence         INTEGER PRIMARY KEY,
    created_day      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'written')),
    responses        INTEGER NOT NULL,
    acks             INTEGER NOT NULL,
    instance         TEXT,
    server_sequence  INTEGER,
    key_change       TEXT
);
-- Extra inspectorate recipient keys (besides this console's own) that responses are sealed to.
CREATE TABLE recipients (
    public_key  TEXT PRIMARY KEY,
    label       TEXT NOT NULL,
    added_day   TEXT NOT NULL
);
-- Audit log: hash = SHA-256 over the canonical JSON of the entry including prev_hash; the last
-- entry's hash and the count are also kept in settings, so removing the newest entry is detected.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    regno      TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
"""
    + ACCOUNTS_SCHEMA
    + RETAINED_SCHEMA
    + KEYS_SCHEMA
)


Connection = Any  # sqlcipher3.Connection (untyped module)


class DatabaseUnavailable(ConsoleError):
    """The database cannot be opened with the vault's key, or is damaged."""


def connect(path: Path, key: bytes) -> Connection:
    """Open (creating if needed) the database; explicit transactions only (autocommit mode)."""
    if len(key) != KEY_BYTES:
        raise ValueError("database key must be 32 bytes")
    new = not path.exists()
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        # A raw key (x'..'): SQLCipher skips its own PBKDF2, the key already has full entropy.
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("PRAGMA cipher_memory_security = ON")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.row_factory = sqlcipher3.Row
        if new:
            path.chmod(0o600)
            with transaction(conn):
                for statement in _statements(SCHEMA):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO settings(name, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        version = get_setting(conn, "schema_version")
        if version == "1":
            _migrate_1_to_2(conn)
            version = get_setting(conn, "schema_version")
        if version == "2":
            _migrate_2_to_3(conn)
            version = get_setting(conn, "schema_version")
        if version == "3":
            _migrate_3_to_4(conn)
            version = get_setting(conn, "schema_version")
        if version != str(SCHEMA_VERSION):
            raise DatabaseUnavailable(f"unsupported console database version {version!r}")
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        raise DatabaseUnavailable(
            "the console database cannot be opened (damaged, or not this console's)"
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate_1_to_2(conn: Connection) -> None:
    """Investigators' accounts, assignments and recusals; who wrote earlier responses (the audit).

    The accounts table starts empty: the first investigator to unlock afterwards (a version-1
    console had only one) becomes its administrator (see journalist_console.accounts).
    """
    with transaction(conn):
        conn.execute("ALTER TABLE responses ADD COLUMN actor TEXT")
        for statement in _statements(ACCOUNTS_SCHEMA):
            conn.execute(statement)
        for row in conn.execute(
            "SELECT actor, detail FROM audit WHERE action IN ('replied', 'status_changed')"
        ).fetchall():
            try:
                response_id = json.loads(row[1]).get("response_id")
            except (ValueError, AttributeError):
                continue
            if isinstance(response_id, str):
                conn.execute(
                    "UPDATE responses SET actor = ? WHERE response_id = ? AND actor IS NULL",
                    (row[0], response_id),
                )
        set_setting(conn, "schema_version", "2")


def _migrate_2_to_3(conn: Connection) -> None:
    """The record of entries removed by retention (empty: earlier runs kept none)."""
    with transaction(conn):
        for statement in _statements(RETAINED_SCHEMA):
            conn.execute(statement)
        set_setting(conn, "schema_version", "3")


def _migrate_3_to_4(conn: Connection) -> None:
    """Keys over the years: retired server pins, export numbers per server instance (the exports
    so far were all for the one server known), what an export announces, and the public half of
    each investigator's box key (NULL until their box is rewritten at their next unlock)."""
    with transaction(conn):
        _add_column(conn, "users", "box_key", "TEXT")
        for column, kind in (("instance", "TEXT"), ("server_sequence", "INTEGER")):
            _add_column(conn, "exports", column, kind)
        _add_column(conn, "exports", "key_change", "TEXT")
        conn.execute(
            "UPDATE exports SET server_sequence = sequence, instance = "
            "(SELECT value FROM settings WHERE name = 'server_instance')"
        )
        for statement in _statements(KEYS_SCHEMA):
            conn.execute(statement)
        set_setting(conn, "schema_version", "4")


def _add_column(conn: Connection, table: str, column: str, kind: str) -> None:
    """ALTER TABLE ... ADD COLUMN, unless the table has it (created by a newer schema text)."""
    names = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
    if column not in names:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _statements(script: str) -> Iterator[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    for part in "\n".join(lines).split(";"):
        statement = part.strip()
        if statement:
            yield statement


def rekey(conn: Connection, key: bytes) -> None:
    """Re-encrypt the whole database under `key` (SQLCipher's PRAGMA rekey: every page rewritten
    in one transaction). The vault re-key runs it on a copy (journalist_console/rekey.py)."""
    if len(key) != KEY_BYTES:
        raise ValueError("database key must be 32 bytes")
    conn.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (including KeyboardInterrupt)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_setting(conn: Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None else cast(str, row[0])


def set_setting(conn: Connection, name: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )

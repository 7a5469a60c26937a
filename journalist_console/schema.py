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

SCHEMA_VERSION = 5
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

DESK_SCHEMA = """
-- What the compliance figures keep of the reports retention removed (schema version 4): counts
-- only, by month of receipt, cached category ('' when it was unreadable), the final status it had
-- and the days from receipt to its first answer (NULL: never answered). Nothing names a report;
-- the reports still held are counted from their own rows (journalist_console/compliance.py).
CREATE TABLE compliance_removed (
    month          TEXT NOT NULL,
    category       TEXT NOT NULL,
    final_status   TEXT NOT NULL,
    response_days  INTEGER,
    reports        INTEGER NOT NULL
);
-- What an investigator typed on a report page and has not sent yet: kept when the console locks
-- under them (or they send another form of the page) and offered back on the report page.
-- kind 'message' (to the reporter, with the status chosen beside it) or 'note' (internal).
CREATE TABLE drafts (
    regno         TEXT NOT NULL REFERENCES reports(regno),
    investigator  TEXT NOT NULL REFERENCES users(name),
    kind          TEXT NOT NULL CHECK (kind IN ('message', 'note')),
    status        TEXT,
    text          TEXT NOT NULL,
    day           TEXT NOT NULL,
    PRIMARY KEY (regno, investigator, kind)
);
-- The standard texts administrators keep for the report page (acknowledgement, more information,
-- forwarded, closed), per reporter language; a text without a row is the built-in default.
CREATE TABLE standard_texts (
    name         TEXT NOT NULL,
    language     TEXT NOT NULL,
    body         TEXT NOT NULL,
    changed_day  TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    PRIMARY KEY (name, language)
);
"""

RENDITIONS_SCHEMA = """
-- Safe renditions of files (schema version 5), made in the sandbox (journalist_console/rendition).
-- The parts themselves are envelopes store/renditions/<entry_id>-<part>.env sealed to this
-- console's own key; digests holds each part's SHA-256 (JSON), so a part anyone could seal to
-- the public inspectorate key and plant in the store is refused. format: how the file was read
-- (pdf, office, html, image, text, other); pages: page images stored; total_pages: pages of
-- the original (more than pages when it was cut); problem: why there is no (complete)
-- rendition, a code of rendition/convert.py or jobs.py (NULL: none). Removing the entry (retention)
-- removes its row.
CREATE TABLE IF NOT EXISTS renditions (
    entry_id     TEXT PRIMARY KEY REFERENCES entries(entry_id) ON DELETE CASCADE,
    format       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    pages        INTEGER NOT NULL,
    total_pages  INTEGER NOT NULL,
    text_cut     INTEGER NOT NULL,
    ocr          INTEGER NOT NULL,
    problem      TEXT,
    digests      TEXT NOT NULL,
    made_day     TEXT NOT NULL
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
    removed_by    TEXT
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
-- acknowledged_day: first viewed; first_response_day: the first response that reaches the
-- reporter (a reply, or a status change with a note) was written; answered_day: it first left in
-- a written export (the ministry's 30-day clock stops there: journalist_console/answers.py);
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
    closed_day          TEXT,
    answered_day        TEXT
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
-- to_reporter: 1 when the reporter reads our words in it (a reply, a status change with a note),
-- 0 for a bare status change (NULL only in a database from before version 4, until unlocked).
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
    actor          TEXT,
    to_reporter    INTEGER
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
CREATE TABLE exports (
    sequence     INTEGER PRIMARY KEY,
    created_day  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'written')),
    responses    INTEGER NOT NULL,
    acks         INTEGER NOT NULL
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
    + DESK_SCHEMA
    + RENDITIONS_SCHEMA
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
        # The rendition worker writes through a connection of its own: wait for each other.
        conn.execute("PRAGMA busy_timeout = 10000")
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
        if version == "4":
            _migrate_4_to_5(conn)
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
    """The answer clock, compliance counters, drafts and standard texts.

    Which earlier status changes carried a note is inside their envelopes, which this module
    cannot open: `to_reporter` stays NULL here, and answers.settle fills it in (and the reports'
    first response and answered days) at the first unlock, with the inspectorate's key.
    """
    with transaction(conn):
        conn.execute("ALTER TABLE reports ADD COLUMN answered_day TEXT")
        conn.execute("ALTER TABLE responses ADD COLUMN to_reporter INTEGER")
        for statement in _statements(DESK_SCHEMA):
            conn.execute(statement)
        set_setting(conn, "schema_version", "4")


def _migrate_4_to_5(conn: Connection) -> None:
    """The table of safe renditions (empty: they are made again from the files when needed)."""
    with transaction(conn):
        for statement in _statements(RENDITIONS_SCHEMA):
            conn.execute(statement)
        set_setting(conn, "schema_version", "5")


def _statements(script: str) -> Iterator[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    for part in "\n".join(lines).split(";"):
        statement = part.strip()
        if statement:
            yield statement


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

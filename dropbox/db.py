"""The server's SQLCipher database: connection and the whole schema, in one place.

What the database may hold is fixed by the threat model: random ids, register numbers, days,
sizes, the sources' public keys and random designations, and export/import bookkeeping. Never a
codename, report text, file name, reply, pseudonym, IP address or a time finer than a day; the
content of everything lives in envelopes in the store.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlcipher3

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- A source exists from /create on. lookup_id is argon2id(codename, lookup salt); public_key is the
-- X25519 key derived from the codename, used to encrypt replies the source can read.
CREATE TABLE IF NOT EXISTS sources (
    source_id    TEXT PRIMARY KEY,
    lookup_id    TEXT NOT NULL UNIQUE,
    public_key   TEXT NOT NULL,
    designation  TEXT NOT NULL,
    created_day  TEXT NOT NULL
);
-- card: what the source's own list shows of the report (its category), sealed to the source's
-- key alone, so that only someone logged in with the codename can read it.
CREATE TABLE IF NOT EXISTS reports (
    regno         TEXT PRIMARY KEY,
    source_id     TEXT NOT NULL REFERENCES sources(source_id) ON DELETE CASCADE,
    received_day  TEXT NOT NULL,
    closed_day    TEXT,
    card          BLOB
);
CREATE INDEX IF NOT EXISTS reports_by_source ON reports(source_id);
-- What a source sent: the report document, follow-ups and files, each one envelope in the store.
-- export_seq: the server bundle that last carried it (NULL: not yet exported).
-- acked: the console confirmed it holds the entry, so the envelope could be deleted.
CREATE TABLE IF NOT EXISTS entries (
    entry_id    TEXT PRIMARY KEY,
    regno       TEXT NOT NULL REFERENCES reports(regno) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('report', 'followup', 'file')),
    parent      TEXT,
    day         TEXT NOT NULL,
    size        INTEGER NOT NULL,
    export_seq  INTEGER,
    acked       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_by_report ON entries(regno);
-- What the inspectorate sent back: replies and status changes, each an envelope readable by the
-- source's key and the inspectorate's keys. Which status it is lives inside the envelope.
CREATE TABLE IF NOT EXISTS responses (
    response_id  TEXT PRIMARY KEY,
    regno        TEXT NOT NULL REFERENCES reports(regno) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('reply', 'status')),
    day          TEXT NOT NULL,
    console_seq  INTEGER NOT NULL,
    position     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_report ON responses(regno);
-- The heads of the console's audit log, as the console's signed bundles announced them (the
-- number of entries and the SHA-256 of the last one: a hash, it reveals nothing). The latest goes
-- back in every export, and the console refuses to import when its own log no longer holds it:
-- the log cannot be rewritten on the console behind what already left it.
CREATE TABLE IF NOT EXISTS audit_anchors (
    console_seq  INTEGER PRIMARY KEY,
    count        INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    day          TEXT NOT NULL
);
-- Every change to what a source's /lookup page shows (a report, an entry, a response: filed,
-- imported, deleted, forgotten) counts up meta 'views_generation'; a page computed under one
-- number is still true while the number is the same (dropbox/service.py, views_generation).
CREATE TRIGGER IF NOT EXISTS reports_insert_counted AFTER INSERT ON reports
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS reports_update_counted AFTER UPDATE ON reports
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS reports_delete_counted AFTER DELETE ON reports
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_insert_counted AFTER INSERT ON entries
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_update_counted AFTER UPDATE ON entries
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_delete_counted AFTER DELETE ON entries
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS responses_insert_counted AFTER INSERT ON responses
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS responses_update_counted AFTER UPDATE ON responses
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS responses_delete_counted AFTER DELETE ON responses
BEGIN
    INSERT INTO meta(name, value) VALUES ('views_generation', '1')
        ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
"""


class DatabaseError(Exception):
    """The database cannot be opened with this key, or is not ours."""


# What SQLCipher raises once a connection is open (its own classes, not the sqlite3 module's).
EngineError = sqlcipher3.Error


def connect(path: Path, key: bytes) -> sqlite3.Connection:
    """Open the database with its raw 256-bit key and the pragmas every connection needs."""
    if len(key) != 32:
        raise DatabaseError("database key must be 32 bytes")
    # Create the file ourselves, owner-only whatever the umask; SQLite gives its journal the
    # database file's permissions.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    connection: sqlite3.Connection = sqlcipher3.connect(str(path), timeout=30, isolation_level=None)
    # A raw hex key skips SQLCipher's PBKDF2: the key is already 256 random bits.
    connection.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as exc:
        connection.close()
        raise DatabaseError(f"{path}: cannot open the database (wrong key or damaged)") from exc
    connection.execute("PRAGMA cipher_memory_security = ON")
    # Overwrite deleted content, keep temporary tables in memory, enforce references.
    connection.execute("PRAGMA secure_delete = ON")
    connection.execute("PRAGMA temp_store = MEMORY")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.row_factory = sqlcipher3.Row
    return connection


def initialise(connection: sqlite3.Connection) -> None:
    # executescript commits on its own, so it runs outside an explicit transaction; every
    # statement in SCHEMA is idempotent (IF NOT EXISTS).
    connection.executescript(SCHEMA)
    with transaction(connection):
        _upgrade(connection)
        set_meta(connection, "schema_version", SCHEMA_VERSION)


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring a database made by an older version up to SCHEMA, keeping every row."""
    columns = {row["name"] for row in connection.execute("PRAGMA table_info(reports)")}
    if "card" not in columns:  # version 1: reports filed before had no card
        connection.execute("ALTER TABLE reports ADD COLUMN card BLOB")


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all of it or none of it."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def get_meta(connection: sqlite3.Connection, name: str, default: str | None = None) -> str | None:
    row = connection.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return str(row["value"]) if row else default


def set_meta(connection: sqlite3.Connection, name: str, value: Any) -> None:
    connection.execute(
        "INSERT INTO meta(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, str(value)),
    )

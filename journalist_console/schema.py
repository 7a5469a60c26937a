"""The console's SQLCipher database: the connection, the upgrades from older schema versions,
transactions and settings (the tables themselves are journalist_console/tables.py).

The database is keyed with a random 256-bit key kept in the vault (never derived from a passphrase
directly), so adding an investigator or changing a passphrase never re-encrypts it. What it holds:
the pinned server key and instance, the sources' public keys and designations, the reports'
bookkeeping (register number, days, status, cached category), one row per imported entry (the
envelope itself stays encrypted in the store), the console's own responses (their envelopes too are
in the store), internal notes, exports, the investigators' accounts (role and reply display name;
their passphrase boxes are files in vault/users/), report assignments and recusals, and the
hash-chained audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlcipher3

from journalist_console.errors import ConsoleError
from journalist_console.tables import (
    ACCOUNTS_SCHEMA,
    DESK_SCHEMA,
    KEYS_SCHEMA,
    RENDITIONS_SCHEMA,
    RETAINED_SCHEMA,
    SCHEMA,
    SCHEMA_VERSION,
)

KEY_BYTES = 32
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
        while version in _MIGRATIONS:  # each step one transaction, so a crash resumes at it
            _MIGRATIONS[version](conn)
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


def _migrate_5_to_6(conn: Connection) -> None:
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
        set_setting(conn, "schema_version", "6")


_MIGRATIONS: dict[str | None, Callable[[Connection], None]] = {
    "1": _migrate_1_to_2,
    "2": _migrate_2_to_3,
    "3": _migrate_3_to_4,
    "4": _migrate_4_to_5,
    "5": _migrate_5_to_6,
}


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

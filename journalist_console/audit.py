"""The audit log: every investigator action, each entry chained to the previous one by SHA-256.

    hash_n = SHA-256(canonical JSON {seq, at, actor, action, regno, detail, prev: hash_(n-1)})
    hash_0's prev is 64 zeros

The newest hash and the number of entries are also kept in the settings table, updated in the same
transaction, so `audit verify` detects a changed entry, a removed entry (in the middle or at the
end) and a re-ordered one. The chain is evidence against a partial edit of the database; someone
who holds the passphrase could rewrite the whole chain, so `audit verify` prints the head hash for
the investigator to note down outside the console (a paper log anchors it).

Entries are written inside the caller's transaction: an action and its audit entry commit together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from journalist_console import schema
from keys.encoding import canonical_json

GENESIS = "0" * 64


def _entry_hash(
    seq: int, at: str, actor: str, action: str, regno: str | None, detail: str, prev: str
) -> str:
    document = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "regno": regno,
        "detail": detail,
        "prev": prev,
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


def append(
    conn: schema.Connection,
    actor: str,
    action: str,
    regno: str | None,
    detail: dict[str, Any] | None = None,
) -> str:
    """Append one entry (call inside a transaction); returns its hash."""
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (1, GENESIS) if row is None else (int(row[0]) + 1, str(row[1]))
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    detail_text = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False)
    digest = _entry_hash(seq, at, actor, action, regno, detail_text, prev)
    conn.execute(
        "INSERT INTO audit(seq, at, actor, action, regno, detail, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, regno, detail_text, prev, digest),
    )
    schema.set_setting(conn, "audit_head", digest)
    schema.set_setting(conn, "audit_count", str(seq))
    return digest


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    regno: str | None
    detail: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head: str
    problem: str | None = None
    anchored: int = 0  # entries up to here are confirmed by the server (0: none yet)


def verify(conn: schema.Connection) -> VerifyResult:
    prev = GENESIS
    expected_seq = 1
    rows = conn.execute(
        "SELECT seq, at, actor, action, regno, detail, prev_hash, hash FROM audit ORDER BY seq"
    ).fetchall()
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            return VerifyResult(False, len(rows), prev, f"entry {expected_seq} is missing")
        if row["prev_hash"] != prev:
            return VerifyResult(
                False, len(rows), prev, f"entry {seq} does not follow entry {seq - 1}"
            )
        digest = _entry_hash(
            seq, row["at"], row["actor"], row["action"], row["regno"], row["detail"], prev
        )
        if digest != row["hash"]:
            return VerifyResult(False, len(rows), prev, f"entry {seq} was modified")
        prev = digest
        expected_seq += 1
    count = len(rows)
    stored_count = schema.get_setting(conn, "audit_count")
    stored_head = schema.get_setting(conn, "audit_head")
    if stored_count != str(count):
        return VerifyResult(
            False, count, prev, f"the log ends at entry {count} but {stored_count} were written"
        )
    if count and stored_head != prev:
        return VerifyResult(False, count, prev, f"entry {count} was replaced")
    return VerifyResult(True, count, prev)


@dataclass(frozen=True)
class Head:
    """The log's number of entries and the hash of the last one."""

    count: int
    hash: str


def head(conn: schema.Connection) -> Head | None:
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else Head(int(row[0]), str(row[1]))


def holds(conn: schema.Connection, anchor: Head) -> bool:
    """Whether the log's entry number `anchor.count` is the one the anchor names: the log then
    extends, unchanged, what it was when that head left the console."""
    row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (anchor.count,)).fetchone()
    return row is not None and str(row[0]) == anchor.hash


def remember_anchor(conn: schema.Connection, anchor: Head, day: str) -> None:
    schema.set_setting(
        conn, "audit_anchor", json.dumps({"count": anchor.count, "hash": anchor.hash, "day": day})
    )


def last_anchor(conn: schema.Connection) -> tuple[Head, str] | None:
    """The newest head the server confirmed (from its last bundle), with the day it came."""
    stored = schema.get_setting(conn, "audit_anchor")
    if not stored:
        return None
    data = json.loads(stored)
    return Head(int(data["count"]), str(data["hash"])), str(data["day"])


def entries(conn: schema.Connection, limit: int = 200) -> list[AuditEntry]:
    rows = conn.execute(
        "SELECT seq, at, actor, action, regno, detail FROM audit ORDER BY seq DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        AuditEntry(int(r["seq"]), r["at"], r["actor"], r["action"], r["regno"], r["detail"])
        for r in rows
    ]

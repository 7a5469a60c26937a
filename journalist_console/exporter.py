"""`export`: the console-to-server bundle of replies, status changes and acknowledgements.

Numbering is the console's own counter from 1; the number a bundle carries counts the exports to
its server instance (1 again after a re-pin to a rebuilt server). An export runs in three steps:

1. One transaction numbers the export N, assigns to it every response and every acknowledgement
   not yet carried, decides what key change it announces (docs/protocol.md 9.4: the console's
   new recipient key, if the server was given another; the next signing key, if one waits), and
   records export N as 'pending' (nothing counts as exported yet).
2. keys.bundle.write_bundle writes the signed bundle (temp file, fsync, rename).
3. One transaction marks export N 'written' and appends the audit entry.

If step 2 fails (full USB stick, bad path) step 1 is undone. If the process dies between 1 and 3,
the next export first completes export N with exactly the same content (the key change is kept
in its row, and the next signing key stays in the vault until the export is written), so the
server sees each sequence number with one content only and never a gap. A bundle that announces
the next signing key is co-signed by the current key and that key; once it is written the next
key is the console's key (journalist_console/keyring.py). An export with nothing new still writes a
valid bundle (its acks, if any) and says so.

The web interface writes its bundles into the home's exports/ folder as
wbs-console-<sequence, five digits or more>[-<n>].bundle (`next_bundle_path`), for download.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journalist_console import answers, audit, dates, keyring, schema, settings
from journalist_console.errors import ExportRefused
from journalist_console.home import Home
from journalist_console.session import Session
from journalist_console.texts import Text
from keys import bundle, records
from keys.keyfiles import recipient_public_key, verify_public_key

# A bundle the web interface wrote into exports/; group 1 is its sequence number.
BUNDLE_NAME = re.compile(r"^wbs-console-([0-9]{5,})(-[0-9]+)?\.bundle\Z")


@dataclass(frozen=True)
class ExportResult:
    sequence: int
    path: Path
    responses: int
    acks: int
    completed_interrupted: bool
    key_change: dict[str, str] | None = None

    @property
    def empty(self) -> bool:
        return self.responses == 0 and self.acks == 0


def _row(session: Session, sequence: int) -> tuple[str, int, dict[str, str] | None]:
    """(server instance, the number the bundle carries, its key change) of export `sequence`."""
    row = session.conn.execute(
        "SELECT instance, server_sequence, key_change FROM exports WHERE sequence = ?", (sequence,)
    ).fetchone()
    change = None if row["key_change"] is None else json.loads(row["key_change"])
    return str(row["instance"]), int(row["server_sequence"]), change


def _key_change(session: Session) -> dict[str, str] | None:
    """What the next export announces: this console's recipient key, if the server was given
    another one (the one it retires), and the next signing key, if one waits."""
    conn, vault = session.conn, session.vault
    change: dict[str, str] = {}
    current = recipient_public_key(vault.identity).to_line()
    given = schema.get_setting(conn, "server_recipient")
    if given is not None and given != current:
        change.update(new_recipient=current, retired_recipient=given)
    if vault.next_signing is not None:
        change["new_console_key"] = verify_public_key(vault.next_signing).to_line()
    return change or None


def _body(session: Session, sequence: int, created_day: str) -> tuple[dict[str, Any], list[Any]]:
    conn = session.conn
    instance, server_sequence, change = _row(session, sequence)
    responses = []
    items = []
    for row in conn.execute(
        "SELECT response_id, kind, regno, day, closes_report FROM responses "
        "WHERE export_seq = ? ORDER BY position",
        (sequence,),
    ):
        responses.append(
            {
                "response_id": row["response_id"],
                "kind": row["kind"],
                "regno": row["regno"],
                "day": row["day"],
                "item": row["response_id"],
                "closes_report": bool(row["closes_report"]),
            }
        )
        path = session.home.response_path(row["response_id"])
        if not path.is_file():
            raise ExportRefused(f"the envelope of a response to {row['regno']} is missing")
        items.append(bundle.ItemSource(row["response_id"], path))
    acks = [
        {"entry_id": row[0], "sha256": row[1]}
        for row in conn.execute(
            "SELECT entry_id, sha256 FROM entries WHERE ack_seq = ? ORDER BY import_seq, rowid",
            (sequence,),
        )
    ] + [
        {"entry_id": row[0], "sha256": row[1]}
        for row in conn.execute(
            "SELECT entry_id, sha256 FROM retained WHERE ack_seq = ? ORDER BY entry_id",
            (sequence,),
        )
    ]
    body: dict[str, Any] = {
        "instance": instance,
        "sequence": server_sequence,
        "created_day": created_day,
        "responses": responses,
        "acks": acks,
    }
    if change is not None:
        body["key_change"] = change
    head = audit.head(conn)
    if head is not None:
        # The server keeps it and sends it back: the log cannot be rewritten behind it unseen.
        body["audit_head"] = {"count": head.count, "hash": head.hash}
    records.check_console_body(body, {item.name for item in items})
    return body, items


def _write(session: Session, out: Path, sequence: int, created_day: str) -> tuple[int, int]:
    body, items = _body(session, sequence, created_day)
    co_signer = None
    announced = body.get("key_change", {}).get("new_console_key")
    if announced is not None:
        # The new key signs the bundle that announces it: the server's proof the console has it.
        co_signer = session.vault.next_signing
        if co_signer is None or verify_public_key(co_signer).to_line() != announced:
            raise ExportRefused("the signing key this export announces is not in the vault")
    partial = out.with_name(out.name + ".partial")
    try:
        bundle.write_bundle(
            out, "console-to-server", body, items, session.vault.signing_key, co_signer=co_signer
        )
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportRefused(f"cannot write {out}: {exc.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return len(body["responses"]), len(body["acks"])


def _finish(session: Session, out: Path, sequence: int, counts: tuple[int, int]) -> ExportResult:
    _instance, server_sequence, change = _row(session, sequence)
    detail: dict[str, Any] = {
        "sequence": server_sequence,
        "responses": counts[0],
        "acks": counts[1],
        "file": str(out),
    }
    if change is not None:
        detail["key_change"] = change
    with schema.transaction(session.conn):
        session.conn.execute("UPDATE exports SET state = 'written' WHERE sequence = ?", (sequence,))
        # The day the bundle is written is the day the reporter's answers leave the console.
        answers.record_export(session.conn, sequence, dates.today().isoformat())
        audit.append(session.conn, session.investigator, "exported", None, detail)
    # From now on the server may hold this bundle, which retires the old signing key there.
    session.vault = keyring.finish_signing_switch(
        session.home, session.conn, session.vault_key, session.vault
    )
    return ExportResult(server_sequence, out, counts[0], counts[1], False, change)


def export_bundle(session: Session, out: Path) -> ExportResult:
    if settings.instance(session.conn) is None:
        raise ExportRefused(
            Text("Nothing was ever imported: the server is not known yet."),
            "nothing was ever imported: the server instance is unknown yet",
        )
    if out.exists() or out.is_symlink():
        raise ExportRefused(f"{out} already exists; refusing to overwrite it")
    if not out.parent.is_dir():
        raise ExportRefused(f"{out.parent} is not a directory")
    conn = session.conn
    pending = conn.execute(
        "SELECT sequence, created_day FROM exports WHERE state = 'pending' ORDER BY sequence"
    ).fetchone()
    if pending is not None:
        sequence, created_day = int(pending["sequence"]), str(pending["created_day"])
        counts = _write(session, out, sequence, created_day)
        result = _finish(session, out, sequence, counts)
        return dataclasses.replace(result, completed_interrupted=True)

    created_day = dates.today().isoformat()
    instance = settings.instance(session.conn)
    change = _key_change(session)
    with schema.transaction(conn):
        sequence = int(schema.get_setting(conn, "export_sequence") or "0") + 1
        server_sequence = (
            1
            + conn.execute(
                "SELECT coalesce(max(server_sequence), 0) FROM exports WHERE instance = ?",
                (instance,),
            ).fetchone()[0]
        )
        responses = conn.execute(
            "UPDATE responses SET export_seq = ? WHERE export_seq IS NULL", (sequence,)
        ).rowcount
        acks = conn.execute(
            "UPDATE entries SET ack_seq = ? WHERE ack_seq IS NULL", (sequence,)
        ).rowcount
        acks += conn.execute(
            "UPDATE retained SET ack_seq = ? WHERE ack_seq IS NULL", (sequence,)
        ).rowcount
        conn.execute(
            "INSERT INTO exports(sequence, created_day, state, responses, acks, instance, "
            "server_sequence, key_change) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
            (
                sequence,
                created_day,
                responses,
                acks,
                instance,
                server_sequence,
                None if change is None else json.dumps(change, sort_keys=True),
            ),
        )
        schema.set_setting(conn, "export_sequence", str(sequence))
        if change is not None and "new_recipient" in change:
            schema.set_setting(conn, "server_recipient", change["new_recipient"])
    try:
        counts = _write(session, out, sequence, created_day)
    except BaseException:
        with schema.transaction(conn):
            undo_pending(conn, sequence)
        raise
    return _finish(session, out, sequence, counts)


def undo_pending(conn: schema.Connection, sequence: int) -> None:
    """Unnumber export `sequence`, never written (call inside a transaction): what it carried
    waits for the next export, and what it announced is announced again."""
    row = conn.execute("SELECT key_change FROM exports WHERE sequence = ?", (sequence,)).fetchone()
    change = None if row is None or row[0] is None else json.loads(row[0])
    if change is not None and "retired_recipient" in change:
        schema.set_setting(conn, "server_recipient", change["retired_recipient"])
    conn.execute("UPDATE responses SET export_seq = NULL WHERE export_seq = ?", (sequence,))
    conn.execute("UPDATE entries SET ack_seq = NULL WHERE ack_seq = ?", (sequence,))
    conn.execute("UPDATE retained SET ack_seq = NULL WHERE ack_seq = ?", (sequence,))
    conn.execute("DELETE FROM exports WHERE sequence = ?", (sequence,))
    if schema.get_setting(conn, "export_sequence") == str(sequence):
        schema.set_setting(conn, "export_sequence", str(sequence - 1))


def exports_written(session: Session) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in session.conn.execute(
            "SELECT sequence, created_day, state, responses, acks FROM exports "
            "ORDER BY sequence DESC"
        )
    ]


def next_bundle_path(session: Session) -> Path:
    """Where the web interface writes the next export: named after the sequence number that
    export_bundle will use (an interrupted export's own, else the next), never an existing file."""
    conn = session.conn
    sequence = int(schema.get_setting(conn, "export_sequence") or "0") + 1
    pending = conn.execute("SELECT min(sequence) FROM exports WHERE state = 'pending'").fetchone()[
        0
    ]
    if pending is not None:
        sequence = int(pending)
    folder = session.home.exports_dir
    folder.mkdir(mode=0o700, exist_ok=True)
    out = folder / f"wbs-console-{sequence:05d}.bundle"
    suffix = 2
    while out.exists():
        out = folder / f"wbs-console-{sequence:05d}-{suffix}.bundle"
        suffix += 1
    return out


def bundle_files(home: Home) -> list[Path]:
    """The web interface's bundles in exports/, newest name first."""
    try:
        paths = list(home.exports_dir.iterdir())
    except OSError:
        return []
    return sorted(
        (p for p in paths if BUNDLE_NAME.match(p.name)), key=lambda p: p.name, reverse=True
    )


def bundle_file(home: Home, name: str) -> Path | None:
    """The web interface's bundle of that name, if it is one and exists."""
    path = home.exports_dir / name
    return path if BUNDLE_NAME.match(name) and path.is_file() else None

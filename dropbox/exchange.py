"""The server's side of the USB crossing: `dropbox export` and `dropbox import`.

Export writes every entry not yet exported (or all with `--all`) into a bundle signed with the
server's key. Import verifies a console bundle against the console keys configured at init (or
accepted since), refuses replays and gaps by sequence number, and applies it whole or not at all.

A console bundle may carry a key change (docs/protocol.md, 9.4): a new inspectorate recipient
key in place of the old one, a new console verify key that co-signs the bundle. Ordering of an
import, so that a crash at any point leaves something importing the same bundle again repairs:

1. every check (signatures, records, instance, sequence, envelopes, the key change), nothing
   written;
2. the responses' envelopes into the store (a crash leaves orphans, removed at start-up);
3. config.json, when the bundle changes keys: rewritten whole (temp file, fsync, rename). A crash
   after it leaves the new keys in force and the bundle not applied: the same bundle imports
   again, since its new key signed it and the change, already made, is skipped;
4. one database transaction: responses, acknowledgements, the audit anchor, the sequence number;
5. the acknowledged envelopes are deleted.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dropbox import db
from dropbox import instance as instance_module
from dropbox.instance import Instance
from dropbox.service import DropBox
from dropbox.store import coarsen_times
from keys import envelope
from keys.bundle import (
    BundleError,
    ItemSource,
    UntrustedSigner,
    VerifiedBundle,
    file_sha256,
    read_bundle,
    signed_by,
    write_bundle,
)
from keys.disk import wipe_file
from keys.errors import EnvelopeError
from keys.keyfiles import PublicKey, parse_public_key
from keys.records import RecordError, check_console_body, check_server_body, today


class ExchangeError(Exception):
    """An export or import was refused; the message is one line for the operator."""


@dataclass
class ExportSummary:
    sequence: int
    sources: int
    reports: int
    entries: int
    path: Path


@dataclass
class ImportSummary:
    sequence: int
    replies: int = 0
    statuses: int = 0
    acks: int = 0
    refused_acks: int = 0
    skipped: list[str] = field(default_factory=list)
    key_changes: list[str] = field(default_factory=list)  # one line each, for the operator


@dataclass(frozen=True)
class KeyChange:
    """What a console bundle's key_change asks of this server, checked against its keys."""

    add_recipient: PublicKey | None = None
    retire_recipient: PublicKey | None = None
    add_console_key: PublicKey | None = None
    retire_console_keys: tuple[PublicKey, ...] = ()


@contextmanager
def exclusive(box: DropBox) -> Iterator[None]:
    """One export/import at a time per data directory. The lock is on the directory itself, so
    a refused operation leaves not even a lock file behind."""
    fd = os.open(box.instance.data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ExchangeError(
                "another export or import is running on this data directory"
            ) from exc
        yield
    finally:
        os.close(fd)


def export_bundle(box: DropBox, out: Path, everything: bool = False) -> ExportSummary:
    with exclusive(box), box.connection() as connection:
        condition = "" if everything else "WHERE export_seq IS NULL"
        entries = connection.execute(
            f"SELECT entry_id, regno, kind, parent, day FROM entries {condition}"  # noqa: S608 (condition is one of two literals)
            " ORDER BY day, rowid"
        ).fetchall()
        entries = [row for row in entries if box.store.item_exists(row["entry_id"])]
        regnos = sorted({row["regno"] for row in entries})
        reports = [
            connection.execute(
                "SELECT regno, source_id, received_day FROM reports WHERE regno = ?", (regno,)
            ).fetchone()
            for regno in regnos
        ]
        source_ids = sorted({row["source_id"] for row in reports})
        sources = [
            connection.execute(
                "SELECT source_id, public_key, designation, created_day FROM sources"
                " WHERE source_id = ?",
                (source_id,),
            ).fetchone()
            for source_id in source_ids
        ]
        sequence = int(db.get_meta(connection, "export_seq", "0") or 0) + 1
        anchor = connection.execute(
            "SELECT count, hash FROM audit_anchors ORDER BY console_seq DESC LIMIT 1"
        ).fetchone()
    body: dict[str, Any] = {
        "instance": box.instance.instance_id,
        "sequence": sequence,
        "created_day": today(),
        "sources": [dict(row) for row in sources],
        "reports": [dict(row) for row in reports],
        "entries": [
            {
                "entry_id": row["entry_id"],
                "kind": row["kind"],
                "regno": row["regno"],
                "day": row["day"],
                "item": row["entry_id"],
                "parent": row["parent"],
            }
            for row in entries
        ],
    }
    if anchor is not None:
        body["audit_anchor"] = {"count": anchor["count"], "hash": anchor["hash"]}
    items = [ItemSource(row["entry_id"], box.store.item_path(row["entry_id"])) for row in entries]
    check_server_body(body, {item.name for item in items})
    try:
        write_bundle(out, "server-to-console", body, items, box.instance.signing_key())
    except OSError as exc:
        raise ExchangeError(f"cannot write {out}: {exc.strerror}") from exc
    # Marked exported only once the file is complete: a failed write exports nothing.
    with box.connection() as connection, db.transaction(connection):
        connection.executemany(
            "UPDATE entries SET export_seq = ? WHERE entry_id = ?",
            [(sequence, row["entry_id"]) for row in entries],
        )
        db.set_meta(connection, "export_seq", sequence)
    return ExportSummary(sequence, len(sources), len(reports), len(entries), out)


def import_bundle(box: DropBox, bundle_path: Path) -> ImportSummary:
    with exclusive(box):
        staging = box.instance.data_dir / "import-staging"
        _clear_dir(staging)
        staging.mkdir(mode=0o700)
        try:
            return _import_staged(box, bundle_path, staging)
        except OSError as exc:
            raise ExchangeError(f"import failed, nothing was applied: {exc.strerror}") from exc
        finally:
            _clear_dir(staging)
            # Creating and removing the staging directory stamped the data directory.
            coarsen_times(box.instance.data_dir)


def _import_staged(box: DropBox, bundle_path: Path, staging: Path) -> ImportSummary:
    # The keys are read from config.json at every import: a key change made by the previous
    # import (or by `dropbox keys`) is in force now, without a restart.
    instance = instance_module.load(box.instance.data_dir)
    console_keys = instance.console_keys
    try:
        verified = read_bundle(
            bundle_path,
            "console-to-server",
            lambda signer: signer in console_keys,
            staging,
            known_signers=console_keys,
            max_signers=2,
        )
        check_console_body(verified.manifest, set(verified.items))
    except UntrustedSigner as exc:
        raise ExchangeError(_untrusted(instance, bundle_path, exc)) from exc
    except (BundleError, RecordError) as exc:
        raise ExchangeError(f"bundle refused: {exc}") from exc
    body = verified.manifest
    if body["instance"] != box.instance.instance_id:
        raise ExchangeError("bundle refused: it was made for another server instance")
    key_change = _planned_key_change(instance, verified)
    responses = body.get("responses", [])
    for response in responses:
        _check_envelope(verified.items[response["item"]], response["response_id"])
    with box.connection() as connection:
        last = int(db.get_meta(connection, "console_seq", "0") or 0)
        known = {row[0] for row in connection.execute("SELECT regno FROM reports").fetchall()}
    sequence = body["sequence"]
    if sequence <= last:
        raise ExchangeError(
            f"bundle refused: sequence {sequence} was already applied (last applied: {last})"
        )
    if sequence != last + 1:
        raise ExchangeError(
            f"bundle refused: sequence {sequence} skips bundles (expected {last + 1}); "
            "import the missing ones first"
        )
    summary = ImportSummary(sequence)
    confirmed = _confirmed_acks(box, body.get("acks", []))
    summary.refused_acks = len(body.get("acks", [])) - len(confirmed)
    applicable = []
    for position, response in enumerate(responses):
        if response["regno"] not in known:
            summary.skipped.append(response["regno"])
            continue
        applicable.append((position, response))
    committed: list[str] = []
    try:
        for _, response in applicable:
            response_id = response["response_id"]
            if box.store.item_exists(response_id):
                raise ExchangeError(f"bundle refused: response {response_id} already stored")
            box.store.adopt(verified.items[response["item"]], response_id)
            committed.append(response_id)
        if key_change is not None:
            summary.key_changes = instance_module.apply_key_change(
                instance.data_dir,
                key_change.add_recipient,
                key_change.retire_recipient,
                key_change.add_console_key,
                key_change.retire_console_keys,
            )
        with box.connection() as connection, db.transaction(connection):
            for position, response in applicable:
                connection.execute(
                    "INSERT INTO responses(response_id, regno, kind, day, console_seq, position)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        response["response_id"],
                        response["regno"],
                        response["kind"],
                        response["day"],
                        sequence,
                        position,
                    ),
                )
                if response.get("closes_report"):
                    connection.execute(
                        "UPDATE reports SET closed_day = ? WHERE regno = ?",
                        (response["day"], response["regno"]),
                    )
            connection.executemany(
                "UPDATE entries SET acked = 1 WHERE entry_id = ?",
                [(entry_id,) for entry_id in confirmed],
            )
            head = body.get("audit_head")
            if head is not None:
                connection.execute(
                    "INSERT INTO audit_anchors(console_seq, count, hash, day) VALUES (?, ?, ?, ?)",
                    (sequence, head["count"], head["hash"], today()),
                )
            db.set_meta(connection, "console_seq", sequence)
    except BaseException:
        for response_id in committed:
            wipe_file(box.store.item_path(response_id))
        raise
    # The console holds these envelopes now: a seizure of the server must not find them here.
    for entry_id in confirmed:
        box.store.delete_item(entry_id)
    for _, response in applicable:
        if response["kind"] == "reply":
            summary.replies += 1
        else:
            summary.statuses += 1
    summary.acks = len(confirmed)
    return summary


def _untrusted(instance: Instance, bundle_path: Path, exc: UntrustedSigner) -> str:
    """Why a bundle signed by no trusted key is refused: a retired console key is named."""
    retired = dict(instance.retired_console_keys)
    signers = signed_by(bundle_path, list(retired))
    if signers:
        key = signers[0]
        return (
            f"bundle refused: it is signed by a retired console key ({key.fingerprint}, retired "
            f"on {retired[key]}), not by a trusted key"
        )
    return f"bundle refused: {exc}"


def _planned_key_change(instance: Instance, verified: VerifiedBundle) -> KeyChange | None:
    """The key change a console bundle announces, checked before anything is written.

    A new console key must have signed the bundle that announces it (proof that the console holds
    it, so a typing or copying mistake cannot lock the console out), and a co-signed bundle must
    announce its second signer; a retired key never comes back (it may be the very key the change
    answers: a departed investigator's copy). Every other signer, trusted until now, is retired.
    """
    change = verified.manifest.get("key_change")
    signers = verified.signers
    new_console = None
    if change is not None and "new_console_key" in change:
        new_console = parse_public_key(change["new_console_key"], "verify")
    if len(signers) > 1 and (new_console is None or new_console not in signers):
        raise ExchangeError(
            "bundle refused: it is signed by two keys but does not announce the second as the "
            "console's new key"
        )
    if change is None:
        return None
    if new_console is not None and new_console not in signers:
        raise ExchangeError(
            "bundle refused: it announces a new console key that did not sign it "
            f"({new_console.fingerprint})"
        )
    new_recipient = retired_recipient = None
    if "new_recipient" in change:
        new_recipient = parse_public_key(change["new_recipient"], "recipient")
    if "retired_recipient" in change:
        retired_recipient = parse_public_key(change["retired_recipient"], "recipient")
    for key, retired in (
        (new_console, dict(instance.retired_console_keys)),
        (new_recipient, dict(instance.retired_recipients)),
    ):
        if key is not None and key in retired:
            raise ExchangeError(
                f"bundle refused: it announces the key {key.fingerprint}, which was retired on "
                f"{retired[key]}; a retired key is never taken back"
            )
    return KeyChange(
        add_recipient=new_recipient,
        retire_recipient=retired_recipient,
        add_console_key=new_console,
        retire_console_keys=tuple(
            key for key in signers if key != new_console and key in instance.console_keys
        ),
    )


def _confirmed_acks(box: DropBox, acks: list[dict[str, str]]) -> list[str]:
    """Entries the server may delete: exported by this server, and the console's hash matches
    the envelope stored here. Anything else (never exported, unknown, wrong hash) is ignored."""
    confirmed = []
    with box.connection() as connection:
        for ack in acks:
            row = connection.execute(
                "SELECT export_seq FROM entries WHERE entry_id = ?", (ack["entry_id"],)
            ).fetchone()
            if row is None or row["export_seq"] is None:
                continue
            path = box.store.item_path(ack["entry_id"])
            if path.exists() and file_sha256(path) == ack["sha256"]:
                confirmed.append(ack["entry_id"])
    return confirmed


def _check_envelope(path: Path, response_id: str) -> None:
    """The server cannot decrypt a response, but it can refuse one that is not an envelope."""
    try:
        with path.open("rb") as handle:
            envelope.read_header(handle)
    except EnvelopeError as exc:
        raise ExchangeError(f"bundle refused: response {response_id} is not an envelope") from exc


def _clear_dir(directory: Path) -> None:
    if directory.exists():
        for path in directory.iterdir():
            wipe_file(path)
        shutil.rmtree(directory, ignore_errors=True)

"""`import`: verify a server-to-console bundle and store what it carries, all or nothing.

1. keys.bundle.read_bundle verifies the signature (against the pinned server key, or at the first
   import against the key the investigator confirmed or gave with --server-key), every item's hash
   and the exact end of the file, staging the items in staging/<random>/.
2. keys.records.check_server_body checks every record; the bundle must come from the server
   instance already known (the first import learns it).
3. Each new entry's envelope is decrypted in memory (reports, follow-ups) or to nowhere (files), to
   cache the report's category and the file's name, type and size, and to flag an envelope this
   console cannot read. An unreadable envelope is still kept (it is what the server holds), shown
   as unreadable, and acknowledged.
4. One transaction: pins, sources, reports, entries, the import record and the audit entry; the
   staged envelopes are moved into store/entries/ inside it and fsynced, and COMMIT comes last.
   If anything fails the transaction rolls back and the moved envelopes are removed; if the process
   is killed, the envelopes without rows are orphans that the next start-up removes. A bundle whose
   (instance, sequence) was applied before, and any entry already held, change nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journalist_console import audit, dates, schema, settings
from journalist_console.envelopes import open_document, probe_file
from journalist_console.errors import AuditRewritten, ConsoleError, ImportRefused, Unreadable
from journalist_console.session import Session
from journalist_console.texts import Text
from keys import bundle, records
from keys.disk import fsync_dir
from keys.documents import FollowupDocument, ReportDocument
from keys.errors import EnvelopeError
from keys.keyfiles import PublicKey

Confirm = Callable[[PublicKey], bool]
MAX_NAME_CHARS = 1000


@dataclass
class ImportResult:
    instance: str
    sequence: int
    already_imported: bool = False
    new_reports: int = 0
    new_entries: int = 0
    held_entries: int = 0
    retained_entries: int = 0  # removed here by retention, sent again: acknowledged again
    unreadable: list[str] = field(default_factory=list)  # register numbers
    gap: tuple[int, int] | None = None  # bundles first..last from this server never imported
    pinned: str | None = None  # fingerprint pinned by this import


@dataclass
class _Prepared:
    entry: dict[str, Any]
    sha256: str
    readable: bool
    category: str | None = None
    name: str | None = None
    media_type: str | None = None
    size: int | None = None


def _prepare(session: Session, entry: dict[str, Any], staged: Path, sha256: str) -> _Prepared:
    kind = entry["kind"]
    try:
        if kind == "file":
            meta, size = probe_file(session, staged)
            name, media_type = meta.get("name"), meta.get("type", "")
            if meta.get("kind") != "file" or not isinstance(name, str):
                raise ValueError("not a file payload")
            if not isinstance(media_type, str):
                media_type = ""
            return _Prepared(
                entry, sha256, True, None, name[:MAX_NAME_CHARS], media_type[:200], size
            )
        meta, content = open_document(session, staged)
        if meta.get("kind") != kind:
            raise ValueError("payload kind does not match the entry")
        if kind == "report":
            category = ReportDocument.from_bytes(content).category
            return _Prepared(entry, sha256, True, category=category)
        FollowupDocument.from_bytes(content)
        return _Prepared(entry, sha256, True)
    except (Unreadable, EnvelopeError, ValueError, UnicodeDecodeError):
        return _Prepared(entry, sha256, False)


def import_bundle(
    session: Session,
    path: Path,
    server_key: PublicKey | None = None,
    confirm: Confirm | None = None,
) -> ImportResult:
    """Import one bundle; ImportRefused (console unchanged) for anything that is not acceptable."""
    pinned = settings.pinned_server_key(session.conn)
    if pinned is not None and server_key is not None and server_key != pinned:
        raise ImportRefused(
            f"the server key given ({server_key.fingerprint}) is not the pinned one "
            f"({pinned.fingerprint}); refusing"
        )
    refusal: list[str] = []

    def trusts(signer: PublicKey) -> bool:
        if pinned is not None:
            if signer != pinned:
                refusal.append(
                    f"bundle is signed by {signer.fingerprint}, not by the pinned server key "
                    f"{pinned.fingerprint}"
                )
            return signer == pinned
        if server_key is not None:
            if signer != server_key:
                refusal.append(
                    f"bundle is signed by {signer.fingerprint}, not by the key given with "
                    f"--server-key ({server_key.fingerprint})"
                )
            return signer == server_key
        if confirm is None:
            refusal.append(
                f"first import: the server key {signer.fingerprint} must be confirmed "
                "(run on a terminal, or give --server-key PUBFILE)"
            )
            return False
        if not confirm(signer):
            refusal.append(f"server key {signer.fingerprint} not confirmed; nothing imported")
            return False
        return True

    staging = session.home.staging_dir / records.new_id()
    staging.mkdir(mode=0o700, parents=True)
    try:
        return _import_staged(session, path, staging, trusts, refusal, pinned)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _import_staged(
    session: Session,
    path: Path,
    staging: Path,
    trusts: Callable[[PublicKey], bool],
    refusal: list[str],
    pinned: PublicKey | None,
) -> ImportResult:
    try:
        # With a pinned key the signature is checked before the manifest is even parsed.
        verified = bundle.read_bundle(
            path, "server-to-console", trusts, staging, known_signers=[pinned] if pinned else []
        )
    except bundle.UntrustedSigner as exc:
        if refusal:
            raise ImportRefused(refusal[0]) from None
        retired = {pin.key: pin for pin in settings.retired_server_pins(session.conn)}
        for key in bundle.signed_by(path, list(retired)):
            # A server rebuilt after a seizure: its old key may be in other hands now.
            raise ImportRefused(
                f"bundle refused: it is signed by the retired server key {key.fingerprint} "
                f"(replaced on {retired[key].retired_day}), not by the pinned server key"
            ) from None
        if pinned is not None:
            raise ImportRefused(
                "bundle refused: it is signed by another key, not by the pinned server key "
                f"({pinned.fingerprint})"
            ) from None
        raise ImportRefused(f"bundle refused: {exc}") from None
    except bundle.BundleError as exc:
        raise ImportRefused(refusal[0] if refusal else f"bundle refused: {exc}") from None
    except OSError as exc:
        raise ImportRefused(f"bundle refused: cannot stage it ({exc.strerror})") from None
    body = verified.manifest
    try:
        records.check_server_body(body, set(verified.items))
    except records.RecordError as exc:
        raise ImportRefused(f"bundle refused: {exc}") from None
    instance, sequence = str(body["instance"]), int(body["sequence"])
    result = ImportResult(instance=instance, sequence=sequence)
    known = settings.instance(session.conn)
    if known is not None and known != instance:
        raise ImportRefused(
            f"bundle comes from another server instance ({instance}), not {known}; refusing"
        )
    for pin in settings.retired_server_pins(session.conn):
        if pin.instance == instance:
            raise ImportRefused(
                f"bundle comes from the retired server instance {instance} (replaced on "
                f"{pin.retired_day}); refusing"
            )
    conn = session.conn
    if conn.execute(
        "SELECT 1 FROM imports WHERE instance = ? AND sequence = ?", (instance, sequence)
    ).fetchone():
        result.already_imported = True
        return result
    anchor = _anchor(body)
    if anchor is not None and not audit.holds(conn, anchor):
        # The server holds the head of this console's audit log as it left in an export; the log
        # here no longer holds it: it was rewritten, shortened or restored from an old copy.
        raise AuditRewritten(
            Text(
                "The audit log no longer holds the entries it had when the last response bundle "
                "left this console: it was changed. Nothing was imported. An administrator must "
                "look into it (audit verify)."
            ),
            f"the audit log no longer holds entry {anchor.count} as it was exported "
            "(its hash differs, or it is missing): the log was changed on this console. Nothing "
            "was imported; run `audit verify` and investigate",
        )
    last = conn.execute(
        "SELECT max(sequence) FROM imports WHERE instance = ?", (instance,)
    ).fetchone()[0]
    if last is not None and sequence > last + 1:
        result.gap = (last + 1, sequence - 1)
    elif last is None and sequence > 1:
        result.gap = (1, sequence - 1)

    # Consistency with what is held: a source's key and a report's source never change.
    for source in body.get("sources", []):
        row = conn.execute(
            "SELECT public_key FROM sources WHERE source_id = ?", (source["source_id"],)
        ).fetchone()
        if row is not None and row[0] != source["public_key"]:
            raise ImportRefused("bundle refused: a known source's key changed")
    for report in body.get("reports", []):
        row = conn.execute(
            "SELECT source_id FROM reports WHERE regno = ?", (report["regno"],)
        ).fetchone()
        if row is not None and row[0] != report["source_id"]:
            raise ImportRefused(f"bundle refused: report {report['regno']} changed its source")

    # The manifest's hash of each item (verified against the bytes while staging) is what the
    # console later sends back as its acknowledgement.
    item_hashes = {item["name"]: item["sha256"] for item in body["items"]}
    prepared: list[_Prepared] = []
    retained: list[tuple[str, str]] = []
    for entry in body.get("entries", []):
        if conn.execute(
            "SELECT 1 FROM entries WHERE entry_id = ?", (entry["entry_id"],)
        ).fetchone():
            result.held_entries += 1
            continue
        if conn.execute(
            "SELECT 1 FROM retained WHERE entry_id = ?", (entry["entry_id"],)
        ).fetchone():
            # Removed here by retention, sent again by the server: acknowledged once more so
            # that the server deletes its copy, never brought back.
            retained.append((entry["entry_id"], item_hashes[entry["item"]]))
            continue
        prepared.append(
            _prepare(session, entry, verified.items[entry["item"]], item_hashes[entry["item"]])
        )
    result.retained_entries = len(retained)
    # A report comes in only with an entry of its own that is new here (or is held already).
    wanted = {p.entry["regno"] for p in prepared}
    if len({p.entry["item"] for p in prepared}) != len(prepared):
        raise ImportRefused("bundle refused: two entries share one item")

    moved: list[Path] = []
    today = dates.today().isoformat()
    try:
        with schema.transaction(conn):
            if pinned is None:
                schema.set_setting(conn, "server_key", verified.signer.to_line())
                result.pinned = verified.signer.fingerprint
            if known is None:
                schema.set_setting(conn, "server_instance", instance)
            for entry_id, sha256 in retained:
                conn.execute(
                    "UPDATE retained SET sha256 = ?, ack_seq = NULL WHERE entry_id = ?",
                    (sha256, entry_id),
                )
            reports_in = [r for r in body.get("reports", []) if r["regno"] in wanted]
            sources_in = {r["source_id"] for r in reports_in}
            for source in body.get("sources", []):
                if source["source_id"] not in sources_in:
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO sources(source_id, public_key, designation, "
                    "created_day) VALUES (?, ?, ?, ?)",
                    (
                        source["source_id"],
                        source["public_key"],
                        source["designation"],
                        source["created_day"],
                    ),
                )
            for report in reports_in:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO reports(regno, source_id, received_day, status, "
                    "status_day) VALUES (?, ?, ?, 'received', ?)",
                    (
                        report["regno"],
                        report["source_id"],
                        report["received_day"],
                        report["received_day"],
                    ),
                )
                result.new_reports += cursor.rowcount
            for item in prepared:
                entry = item.entry
                conn.execute(
                    "INSERT INTO entries(entry_id, regno, kind, day, parent, import_seq, "
                    "readable, name, media_type, size, sha256)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry["entry_id"],
                        entry["regno"],
                        entry["kind"],
                        entry["day"],
                        entry.get("parent"),
                        sequence,
                        int(item.readable),
                        item.name,
                        item.media_type,
                        item.size,
                        item.sha256,
                    ),
                )
                if item.category is not None:
                    conn.execute(
                        "UPDATE reports SET category = ? WHERE regno = ?",
                        (item.category, entry["regno"]),
                    )
                if not item.readable and entry["regno"] not in result.unreadable:
                    result.unreadable.append(entry["regno"])
                target = session.home.entry_path(entry["entry_id"])
                os.replace(verified.items[entry["item"]], target)
                moved.append(target)
            result.new_entries = len(prepared)
            if anchor is not None:
                audit.remember_anchor(conn, anchor, today)
            conn.execute(
                "INSERT INTO imports(instance, sequence, created_day, imported_day, new_entries) "
                "VALUES (?, ?, ?, ?, ?)",
                (instance, sequence, body["created_day"], today, len(prepared)),
            )
            audit.append(
                conn,
                session.investigator,
                "imported",
                None,
                {
                    "instance": instance,
                    "sequence": sequence,
                    "new_reports": result.new_reports,
                    "new_entries": result.new_entries,
                    "retained_again": result.retained_entries,
                    "server_key": verified.signer.fingerprint,
                },
            )
            if moved:
                fsync_dir(session.home.entries_dir)
    except BaseException as exc:
        for target in moved:
            target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ConsoleError(f"import failed, nothing changed: {exc.strerror}") from None
        raise
    return result


def _anchor(body: dict[str, Any]) -> audit.Head | None:
    found = body.get("audit_anchor")
    return None if found is None else audit.Head(int(found["count"]), str(found["hash"]))


def recent_imports(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The latest bundles imported (sequence, created and imported days, new entries)."""
    rows = session.conn.execute(
        "SELECT sequence, created_day, imported_day, new_entries FROM imports "
        "ORDER BY imported_day DESC, sequence DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [dict(row) for row in rows]

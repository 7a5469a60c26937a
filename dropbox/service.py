"""The drop box's operations: create sources, file reports and follow-ups, show a source's
reports and responses (read by dropbox.report_views), delete replies. Routes orchestrate; this
module does; keys/ encrypts.

Ordering rule for everything stored: envelopes are written and committed to the store first, the
database rows last, in one transaction. A failure in between deletes the envelopes already
written; a crash in between leaves unreferenced envelopes, which `sweep_orphans` removes at
start-up. Neither ever leaves a row that points at nothing.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dropbox import db
from dropbox.instance import Instance
from dropbox.report_views import ReportView, source_reports
from dropbox.store import PendingFile, Store, coarsen_times
from keys import codename, payload
from keys.codename import CodenameDeriver, SourceSecrets
from keys.documents import FollowupDocument, ReportDocument
from keys.encoding import canonical_json
from keys.keyfiles import parse_public_key, recipient_public_key
from keys.keytypes import RecipientIdentity, RecipientKey
from keys.records import new_id, new_regno, today

MAX_FILENAME_CHARS = 255


class SourceGone(Exception):
    """The source no longer exists: the daily job forgot it (no report within a day) while its
    session was still open. Nothing of the submission was kept."""


def _clean_media_type(media_type: str) -> str:
    """A media type is short printable ASCII (RFC 6838); anything else is not worth keeping."""
    cleaned = media_type.strip()[:127]
    if not cleaned.isascii() or not cleaned.isprintable() or "/" not in cleaned:
        return "application/octet-stream"
    return cleaned


class EncryptedUpload:
    """One uploaded file, encrypted while Werkzeug writes it: the stream factory's product.

    Werkzeug writes each file part into this object and calls seek(0) at the end; the plaintext
    only ever passes through the PayloadWriter's one-chunk buffer on its way to the store.
    """

    def __init__(
        self,
        store: Store,
        recipients: Sequence[RecipientKey],
        filename: str,
        media_type: str,
    ) -> None:
        self._store = store
        # 255 characters stay under the 4 KiB metadata cap even when every one is escaped.
        meta = {
            "kind": "file",
            "name": filename[:MAX_FILENAME_CHARS],
            "type": _clean_media_type(media_type),
        }
        self.pending: PendingFile = store.new_pending()
        try:
            self._writer = payload.PayloadWriter(self.pending, recipients, meta)
        except BaseException:
            store.discard(self.pending)
            raise
        self.finished = False
        self.committed = False

    def write(self, data: bytes) -> int:
        return self._writer.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        # Werkzeug rewinds the container when the part ends; there is nothing to rewind to.
        return 0

    def read(self, size: int = -1) -> bytes:
        raise OSError("an encrypted upload cannot be read back")

    def close(self) -> None:
        """Called by Werkzeug's FileStorage cleanup; finishing is explicit (finish/discard)."""

    @property
    def size(self) -> int:
        return self._writer.content_bytes

    def finish(self) -> None:
        """Write the envelope's final chunk; the pending file then holds a whole envelope."""
        if self.finished:
            return
        self._writer.close()
        self.pending.close()
        # A kept upload may wait in store/pending for a while: no time of day on it either.
        coarsen_times(self.pending.path)
        self.finished = True

    def discard(self) -> None:
        if not self.committed:
            self._store.discard(self.pending)


class DropBox:
    def __init__(self, instance: Instance, deriver: CodenameDeriver | None = None) -> None:
        self.instance = instance
        self.store = Store(instance.data_dir / "store")
        self.db_path = instance.data_dir / "dropbox.db"
        self._db_key = instance.db_key()
        self.deriver = deriver or CodenameDeriver(
            *instance.codename_salts(), scheme=instance.codename_scheme
        )
        self.recipients = instance.recipient_keys
        self._per_thread = threading.local()

    # -- storage plumbing -------------------------------------------------------------------

    def setup(self) -> None:
        """Create store directories and schema; remove what a crash left behind."""
        self.store.create_dirs()
        with self.connection() as connection:
            db.initialise(connection)
        self.store.clean_pending()
        self.sweep_orphans()
        # Files written at install or by an older version keep no time of day either.
        for path in (*self.instance.data_dir.iterdir(), self.store.root, self.instance.data_dir):
            coarsen_times(path)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection to the database, opened at its first use and kept.

        Opening costs more than most requests (the key check, and SQLCipher's memory security,
        which stays on: a running server may be seized). A worker thread serves one request at
        a time, so a thread's connection is never shared; a use that ends inside a transaction
        is rolled back, and a connection that failed is closed and opened afresh next time.
        """
        connection: sqlite3.Connection | None = getattr(self._per_thread, "connection", None)
        if connection is None:
            connection = db.connect(self.db_path, self._db_key)
            self._per_thread.connection = connection
        try:
            yield connection
        except db.EngineError:
            self.close()
            raise
        finally:
            if self._per_thread.connection is connection and connection.in_transaction:
                connection.rollback()
            # The database file's mtime would tell the time of the last report, and its atime
            # (relatime updates it on a read after a write) the time of the last visit.
            coarsen_times(self.db_path)
            coarsen_times(self.instance.data_dir)

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads' ends)."""
        connection = getattr(self._per_thread, "connection", None)
        self._per_thread.connection = None
        if connection is not None:
            connection.close()

    def sweep_orphans(self) -> int:
        """Delete committed envelopes that no row references (a crash between file and row)."""
        with self.connection() as connection:
            known = {row[0] for row in connection.execute("SELECT entry_id FROM entries")}
            known |= {row[0] for row in connection.execute("SELECT response_id FROM responses")}
        removed = 0
        for path in self.store.items_dir.glob("*.env"):
            if path.stem not in known:
                self.store.delete_item(path.stem)
                removed += 1
        coarsen_times(self.store.items_dir)  # listing it touched its access time
        return removed

    def new_upload(self, filename: str, media_type: str) -> EncryptedUpload:
        return EncryptedUpload(self.store, self.recipients, filename, media_type)

    # -- sources ------------------------------------------------------------------------------

    def derive(self, codename_text: str) -> SourceSecrets:
        return self.deriver.derive(codename_text)

    def create_source(self, secrets_: SourceSecrets) -> str:
        """Store a new source; returns its source_id. The codename itself is never stored."""
        words = codename.wordlist("id")
        designation = f"{secrets.choice(words)} {secrets.choice(words)}"
        source_id = new_id()
        with self.connection() as connection, db.transaction(connection):
            connection.execute(
                "INSERT INTO sources(source_id, lookup_id, public_key, designation, created_day)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    source_id,
                    secrets_.lookup_id,
                    recipient_public_key(secrets_.public_key).to_line(),
                    designation,
                    today(),
                ),
            )
        return source_id

    def find_source(self, lookup_id: str) -> str | None:
        with self.connection() as connection:
            row = connection.execute(
                "SELECT source_id FROM sources WHERE lookup_id = ?", (lookup_id,)
            ).fetchone()
        return str(row["source_id"]) if row else None

    def source_public_key(self, source_id: str) -> RecipientKey:
        with self.connection() as connection:
            row = connection.execute(
                "SELECT public_key FROM sources WHERE source_id = ?", (source_id,)
            ).fetchone()
        if row is None:
            raise LookupError("unknown source")
        return parse_public_key(row["public_key"], "recipient").as_recipient()

    # -- submissions ----------------------------------------------------------------------

    @contextmanager
    def _items_until_rows(self) -> Iterator[list[str]]:
        """The ids of the items a submission writes, deleted again if anything fails before
        their rows are committed (a full disk while the last file is sealed, a forgotten
        source): a failed submission leaves no envelope behind, not even until the next
        start-up's sweep."""
        written: list[str] = []
        try:
            yield written
        except BaseException:
            self._delete_items(written)
            raise

    def _commit_uploads(
        self, uploads: Sequence[EncryptedUpload], written: list[str]
    ) -> list[tuple[str, int]]:
        committed = []
        for upload in uploads:
            upload.finish()
            entry_id = new_id()
            self.store.commit(upload.pending, entry_id)
            upload.committed = True
            written.append(entry_id)
            committed.append((entry_id, upload.size))
        return committed

    def _write_document(
        self, document: ReportDocument | FollowupDocument, written: list[str]
    ) -> tuple[str, int]:
        content = document.to_bytes()
        entry_id = new_id()
        self.store.write_item(
            entry_id, payload.seal_bytes({"kind": document.KIND}, content, self.recipients)
        )
        written.append(entry_id)
        return entry_id, len(content)

    def source_exists(self, source_id: str) -> bool:
        with self.connection() as connection:
            return _source_exists(connection, source_id)

    def file_report(
        self, source_id: str, fields: dict[str, str], uploads: Sequence[EncryptedUpload]
    ) -> str:
        """Encrypt and store a report and its files; returns the new register number.

        Raises SourceGone, storing nothing, if the source was forgotten meanwhile."""
        source_key = self._public_key_or_gone(source_id)
        card = payload.seal_bytes(
            {"kind": "card"}, canonical_json({"category": fields.get("category", "")}), [source_key]
        )
        day = today()
        with self._items_until_rows() as written:
            files = self._commit_uploads(uploads, written)
            report_id, report_size = self._write_document(ReportDocument(**fields), written)
            with self.connection() as connection, db.transaction(connection):
                if not _source_exists(connection, source_id):
                    raise SourceGone(source_id)
                regno = self._unused_regno(connection)
                connection.execute(
                    "INSERT INTO reports(regno, source_id, received_day, card) VALUES (?, ?, ?, ?)",
                    (regno, source_id, day, card),
                )
                self._insert_entry(connection, report_id, regno, "report", None, day, report_size)
                for entry_id, size in files:
                    self._insert_entry(connection, entry_id, regno, "file", report_id, day, size)
        return regno

    def _public_key_or_gone(self, source_id: str) -> RecipientKey:
        try:
            return self.source_public_key(source_id)
        except LookupError as exc:
            raise SourceGone(source_id) from exc

    def _delete_items(self, item_ids: Sequence[str]) -> None:
        for item_id in item_ids:
            self.store.delete_item(item_id)

    def add_followup(
        self, source_id: str, regno: str, message: str, uploads: Sequence[EncryptedUpload]
    ) -> None:
        """Store a follow-up to one of the source's reports. Raises SourceGone (the source was
        forgotten) or LookupError (not the source's report), storing nothing."""
        if not self.source_exists(source_id):
            raise SourceGone(source_id)
        if not self.owns_report(source_id, regno):
            raise LookupError("no such report for this source")
        day = today()
        with self._items_until_rows() as written:
            files = self._commit_uploads(uploads, written)
            followup_id, size = self._write_document(FollowupDocument(message), written)
            with self.connection() as connection, db.transaction(connection):
                if not _source_exists(connection, source_id):
                    raise SourceGone(source_id)
                self._insert_entry(connection, followup_id, regno, "followup", None, day, size)
                for entry_id, file_size in files:
                    self._insert_entry(
                        connection, entry_id, regno, "file", followup_id, day, file_size
                    )

    @staticmethod
    def _unused_regno(connection: sqlite3.Connection) -> str:
        while True:
            regno = new_regno()
            if not connection.execute("SELECT 1 FROM reports WHERE regno = ?", (regno,)).fetchone():
                return regno

    @staticmethod
    def _insert_entry(
        connection: sqlite3.Connection,
        entry_id: str,
        regno: str,
        kind: str,
        parent: str | None,
        day: str,
        size: int,
    ) -> None:
        connection.execute(
            "INSERT INTO entries(entry_id, regno, kind, parent, day, size)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (entry_id, regno, kind, parent, day, size),
        )

    def owns_report(self, source_id: str, regno: str) -> bool:
        with self.connection() as connection:
            return (
                connection.execute(
                    "SELECT 1 FROM reports WHERE regno = ? AND source_id = ?", (regno, source_id)
                ).fetchone()
                is not None
            )

    # -- what a returning source sees ---------------------------------------------------

    def reports_for(
        self, source_id: str, source_key: RecipientIdentity
    ) -> tuple[int, list[ReportView]]:
        """The source's reports with statuses and replies, decrypted in memory only, and the
        views generation they were read at (one read transaction: a change that lands meanwhile
        gives a later generation, so a cached copy of these views is never taken for newer)."""
        with self.connection() as connection:
            connection.execute("BEGIN")
            try:
                generation = _views_generation(connection)
                return generation, source_reports(connection, self.store, source_id, source_key)
            finally:
                connection.execute("COMMIT")

    def views_generation(self) -> int:
        """A number that changes whenever anything a /lookup page shows may have changed."""
        with self.connection() as connection:
            return _views_generation(connection)

    def delete_reply(self, source_id: str, response_id: str) -> bool:
        """Delete one of the source's own replies; False if it is not theirs or not a reply."""
        with self.connection() as connection, db.transaction(connection):
            row = connection.execute(
                "SELECT r.response_id FROM responses r JOIN reports p ON p.regno = r.regno"
                " WHERE r.response_id = ? AND r.kind = 'reply' AND p.source_id = ?",
                (response_id, source_id),
            ).fetchone()
            if row is None:
                return False
            connection.execute("DELETE FROM responses WHERE response_id = ?", (response_id,))
        self.store.delete_item(response_id)
        return True


def _source_exists(connection: sqlite3.Connection, source_id: str) -> bool:
    found = connection.execute("SELECT 1 FROM sources WHERE source_id = ?", (source_id,))
    return found.fetchone() is not None


def _views_generation(connection: sqlite3.Connection) -> int:
    return int(db.get_meta(connection, "views_generation", "0") or 0)

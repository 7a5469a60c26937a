"""Uploads are encrypted while they stream in: a Werkzeug request class whose file stream
factory returns an EncryptedUpload instead of a temporary file.

Werkzeug's default factory spools files over 500 KiB to a plaintext temporary file; this one
never does. Text fields stay in memory (bounded by MAX_FORM_MEMORY_SIZE). What waitress buffers
before the app runs is handled in dropbox/serve.py (the spill directory must be RAM-backed).

A file part becomes an envelope in the store only in a request whose upload ticket was already
checked (dropbox/source/guards.py `take_ticket`): any other request's file parts are read and
thrown away, so a forged or replayed form, or a file sent to a route that takes none, writes
nothing to disk. Uploads not committed or kept by the end of the request are securely deleted in
teardown.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Request, current_app, g

from dropbox.service import DropBox, EncryptedUpload


class _DiscardSink:
    """For an empty file input (no file chosen): browsers still send an empty part."""

    def write(self, data: bytes) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


class EncryptingRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        if not filename or not g.get("upload_authorised"):
            return _DiscardSink()  # type: ignore[return-value]
        dropbox: DropBox = current_app.extensions["dropbox"]
        upload = dropbox.new_upload(filename, content_type or "application/octet-stream")
        pending_uploads().append(upload)
        return upload  # type: ignore[return-value]


def pending_uploads() -> list[EncryptedUpload]:
    if "uploads" not in g:
        g.uploads = []
    uploads: list[EncryptedUpload] = g.uploads
    return uploads


def keep(uploads: list[EncryptedUpload]) -> list[EncryptedUpload]:
    """Hand these uploads over to a ticket: the teardown below leaves them in the store."""
    for upload in uploads:
        upload.finish()
    held = g.setdefault("kept", [])
    held.extend(uploads)
    return uploads


def discard_unfinished(_: Any = None) -> None:
    """Teardown: a request that failed half-way leaves no envelope behind, except the uploads it
    kept for the next submission of the same form (their ticket owns them now)."""
    kept = {id(upload) for upload in g.pop("kept", [])}
    for upload in g.pop("uploads", []):
        if not upload.committed and id(upload) not in kept:
            upload.discard()

"""Reading the envelopes the console holds, with the inspectorate key of an unlocked session.

Small documents (a report, a follow-up, a reply, a status change) are decrypted in memory; files
are streamed into a sink the caller chose (a new file in a folder the investigator named, a
download, an archive, or nowhere when an import only checks them). Nothing is ever decrypted into
the home. A missing, unreadable or undecryptable envelope is an Unreadable error: the console
shows that report, entry or file as unreadable instead of failing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from journalist_console.errors import Unreadable
from journalist_console.session import Session
from keys import envelope, payload
from keys.errors import EnvelopeError
from keys.keytypes import RecipientIdentity

MAX_DOCUMENT_BYTES = 1024 * 1024  # a report, follow-up or response document


class Discard:
    """A sink that keeps nothing: decrypting into it checks an envelope whole."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        return len(data)


def identities(session: Session) -> list[RecipientIdentity]:
    """The inspectorate keys to read with: the current one, then every retired one (so what was
    sealed before a recipient rotation, here or in an archive, still opens)."""
    return session.vault.identities


def open_document(session: Session, path: Path) -> tuple[dict[str, Any], bytes]:
    """Decrypt a small envelope (report, follow-up, response) in memory: (metadata, content)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unreadable("its envelope is missing from the console's store") from None
    except OSError as exc:
        raise Unreadable(f"its envelope cannot be read ({exc.strerror})") from None
    try:
        return payload.open_bytes(data, identities(session), max_content=MAX_DOCUMENT_BYTES)
    except EnvelopeError as exc:
        raise Unreadable(f"it cannot be decrypted with this console's key ({exc})") from None


def decrypt_file(
    session: Session, entry_id: str, sink: envelope.Writable
) -> tuple[dict[str, Any], int]:
    """Stream a file entry's content into `sink`; a partial write must be discarded on error."""
    path = session.home.entry_path(entry_id)
    try:
        source: BinaryIO = path.open("rb")
    except FileNotFoundError:
        raise Unreadable("the file's envelope is missing from the console's store") from None
    except OSError as exc:
        raise Unreadable(f"the file's envelope cannot be read ({exc.strerror})") from None
    with source:
        try:
            return payload.read_payload(source, identities(session), sink)
        except EnvelopeError as exc:
            raise Unreadable(f"the file cannot be decrypted ({exc})") from None


def file_bytes(session: Session, entry_id: str) -> bytes:
    """A file entry's content in memory (the caller has checked that its size is reasonable)."""
    out = io.BytesIO()
    decrypt_file(session, entry_id, out)
    return out.getvalue()


def probe_file(session: Session, path: Path) -> tuple[dict[str, Any], int]:
    """Decrypt a staged file envelope to nowhere: checks it whole and returns (meta, size)."""
    with path.open("rb") as source:
        return payload.read_payload(source, identities(session), Discard())

"""What goes inside an envelope: a small metadata block, then the content.

    plaintext = u16be(len(meta)) || meta || content          meta: canonical JSON, <= 4 KiB

The metadata (kind, file name, media type) exists only inside the ciphertext, so the server never
stores a file's name or type. The content's size is not written anywhere: it is the authenticated
length of what follows the metadata, known exactly once decryption succeeds.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from typing import Any, BinaryIO

import nacl.public

from keys import envelope
from keys.encoding import canonical_json
from keys.errors import PayloadError

MAX_META_BYTES = 4096
_LENGTH = struct.Struct(">H")


def _meta_block(meta: dict[str, Any]) -> bytes:
    encoded = canonical_json(meta)
    if len(encoded) > MAX_META_BYTES:
        raise ValueError("payload metadata too large")
    return _LENGTH.pack(len(encoded)) + encoded


class PayloadWriter(envelope.EnvelopeWriter):
    """An EnvelopeWriter that starts with the metadata block; `content_bytes` counts the rest."""

    def __init__(
        self,
        sink: envelope.Writable,
        recipients: Sequence[nacl.public.PublicKey],
        meta: dict[str, Any],
    ) -> None:
        super().__init__(sink, recipients)
        super().write(_meta_block(meta))
        self._meta_length = self.plaintext_bytes

    @property
    def content_bytes(self) -> int:
        return self.plaintext_bytes - self._meta_length


class _PayloadSplitter:
    """Feeds decrypted chunks, peels off the metadata block, passes the content on."""

    def __init__(self, sink: envelope.Writable | None, max_content: int | None) -> None:
        self._pending = bytearray()
        self._meta: dict[str, Any] | None = None
        self._sink = sink
        self._max_content = max_content
        self.content = bytearray()
        self.size = 0

    def feed(self, chunk: bytes | memoryview) -> None:
        """Take the next piece of plaintext (a view is only read during the call)."""
        if self._meta is None:
            self._pending += chunk
            if len(self._pending) < _LENGTH.size:
                return
            (length,) = _LENGTH.unpack_from(self._pending)
            if length > MAX_META_BYTES:
                raise PayloadError("payload metadata too large")
            if len(self._pending) < _LENGTH.size + length:
                return
            self._meta = _parse_meta(bytes(self._pending[_LENGTH.size : _LENGTH.size + length]))
            chunk = bytes(self._pending[_LENGTH.size + length :])
            self._pending.clear()
        self.size += len(chunk)
        if self._max_content is not None and self.size > self._max_content:
            raise PayloadError("payload content larger than allowed here")
        if self._sink is None:
            self.content += chunk
        else:
            self._sink.write(chunk)

    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            raise PayloadError("payload has no metadata block")
        return self._meta


def _parse_meta(raw: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PayloadError("payload metadata is not JSON") from exc
    if not isinstance(meta, dict):
        raise PayloadError("payload metadata is not an object")
    return meta


def read_payload(
    source: BinaryIO, identities: Sequence[nacl.public.PrivateKey], sink: envelope.Writable
) -> tuple[dict[str, Any], int]:
    """Decrypt a payload, streaming its content into `sink`; returns (metadata, content size).

    As with envelope.decrypt, content written before an exception must be discarded.
    """
    splitter = _PayloadSplitter(sink, None)
    for piece in envelope.iter_plaintext_views(source, identities):
        splitter.feed(piece)
    return splitter.meta(), splitter.size


def seal_bytes(
    meta: dict[str, Any], content: bytes, recipients: Sequence[nacl.public.PublicKey]
) -> bytes:
    out = io.BytesIO()
    with PayloadWriter(out, recipients, meta) as writer:
        writer.write(content)
    return out.getvalue()


def open_bytes(
    data: bytes,
    identities: Sequence[nacl.public.PrivateKey],
    max_content: int | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Decrypt a small payload in memory; `max_content` refuses anything larger mid-stream."""
    splitter = _PayloadSplitter(None, max_content)
    for piece in envelope.iter_plaintext_views(io.BytesIO(data), identities):
        splitter.feed(piece)
    return splitter.meta(), bytes(splitter.content)

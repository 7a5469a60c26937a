"""The envelope: a streaming, multi-recipient, authenticated encryption format.

Layout (all integers big-endian; see docs/protocol.md, "Envelope"):

    magic        6  b"WBSENV"
    version      1  0x01
    chunk_log2   1  16            (64 KiB plaintext chunks; other values refused in v1)
    count        2  1..16 recipients
    stanzas   80*n  crypto_box_seal(file_key, recipient_pk)    (libsodium sealed box)
    header_mac  32  BLAKE2b-256(key=mac_key, everything above)
    ss_header   24  secretstream header
    chunks          secretstream messages of CHUNK plaintext bytes + 17; the last one holds
                    0..CHUNK bytes and carries TAG_FINAL; every other one carries TAG_MESSAGE.

    mac_key     = BLAKE2b-256(key=file_key, person="wbs-env-v1", b"header-mac")
    payload_key = BLAKE2b-256(key=file_key, person="wbs-env-v1", b"payload")

The file key is fresh for every envelope, so the per-envelope keys never repeat. The header MAC
binds the stanzas to the file key (no stanza can be added, dropped or swapped); secretstream's
chained state and final tag detect a changed, reordered, dropped or appended chunk. Memory use is
one chunk each way whatever the size. Decryption writes plaintext as it goes and raises at the
first bad byte: callers must write to a scratch place and keep the output only if no error came.
"""

from __future__ import annotations

import hmac
import io
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, Protocol, Self

import nacl.bindings as sodium
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.public
import nacl.utils

from keys.errors import (
    ChunkTampered,
    HeaderTampered,
    MalformedEnvelope,
    NotARecipient,
    TrailingData,
    TruncatedEnvelope,
    UnsupportedVersion,
)

MAGIC = b"WBSENV"
VERSION = 1
CHUNK_LOG2 = 16
CHUNK_SIZE = 1 << CHUNK_LOG2
MAX_RECIPIENTS = 16  # bounds trial decryption: a forged header cannot make us try 65,535 stanzas
FILE_KEY_BYTES = 32
STANZA_BYTES = FILE_KEY_BYTES + sodium.crypto_box_SEALBYTES  # 80
MAC_BYTES = 32
SS_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_FIXED = struct.Struct(">6sBBH")
_PERSON = b"wbs-env-v1"


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _subkey(file_key: bytes, label: bytes) -> bytes:
    return nacl.hash.blake2b(
        label, digest_size=32, key=file_key, person=_PERSON, encoder=nacl.encoding.RawEncoder
    )


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    return nacl.hash.blake2b(
        header,
        digest_size=MAC_BYTES,
        key=_subkey(file_key, b"header-mac"),
        encoder=nacl.encoding.RawEncoder,
    )


def header_length(recipient_count: int) -> int:
    return _FIXED.size + STANZA_BYTES * recipient_count + MAC_BYTES + SS_HEADER_BYTES


def ciphertext_length(plaintext_length: int, recipient_count: int) -> int:
    """Exact envelope size for a given plaintext size: used to check sizes and in docs."""
    # The final chunk holds 1..CHUNK bytes (0 only for an empty plaintext): never an empty extra.
    chunks = max(1, -(-plaintext_length // CHUNK_SIZE))
    return header_length(recipient_count) + plaintext_length + chunks * ABYTES


class EnvelopeWriter:
    """A write-only file object that encrypts as data arrives.

    It holds at most one chunk of plaintext, so a 1 GiB upload streamed into it never sits in
    memory. `close()` writes the final chunk; an envelope whose writer was never closed is
    truncated by construction and will be refused on decryption.
    """

    def __init__(self, sink: Writable, recipients: Sequence[nacl.public.PublicKey]) -> None:
        if not 1 <= len(recipients) <= MAX_RECIPIENTS:
            raise ValueError(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients")
        self._sink = sink
        file_key = nacl.utils.random(FILE_KEY_BYTES)
        fixed = _FIXED.pack(MAGIC, VERSION, CHUNK_LOG2, len(recipients))
        stanzas = b"".join(
            sodium.crypto_box_seal(file_key, bytes(recipient)) for recipient in recipients
        )
        header = fixed + stanzas
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        ss_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, _subkey(file_key, b"payload")
        )
        sink.write(header + _header_mac(file_key, header) + ss_header)
        self._buffer = bytearray()
        self._closed = False
        self.plaintext_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed envelope")
        view = memoryview(data).cast("B")
        self.plaintext_bytes += len(view)
        offset = 0
        while offset < len(view):
            # A full chunk is pushed only once more data arrives: until then it may be the last
            # one, which close() must push with the final tag.
            if len(self._buffer) == CHUNK_SIZE:
                self._push(bytes(self._buffer), TAG_MESSAGE)
                self._buffer.clear()
            take = min(CHUNK_SIZE - len(self._buffer), len(view) - offset)
            self._buffer += view[offset : offset + take]
            offset += take
        return len(view)

    def _push(self, chunk: bytes, tag: int) -> None:
        self._sink.write(
            sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag)
        )

    def close(self) -> None:
        if self._closed:
            return
        self._push(bytes(self._buffer), TAG_FINAL)
        self._buffer.clear()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # On an exception the final chunk is deliberately not written: the partial envelope is
        # unusable rather than a well-formed envelope of partial data.
        if exc_type is None:
            self.close()


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _open_file_key(
    stanzas: bytes, count: int, identities: Iterable[nacl.public.PrivateKey]
) -> bytes:
    for identity in identities:
        public = bytes(identity.public_key)
        secret = bytes(identity)
        for index in range(count):
            stanza = stanzas[index * STANZA_BYTES : (index + 1) * STANZA_BYTES]
            try:
                return bytes(sodium.crypto_box_seal_open(stanza, public, secret))
            except nacl.exceptions.CryptoError:
                continue
    raise NotARecipient("none of the given keys can open this envelope")


def read_header(source: BinaryIO) -> tuple[int, bytes, bytes, bytes]:
    """Parse the header without keys: (recipient count, header bytes, MAC, secretstream header)."""
    fixed = _read_exactly(source, _FIXED.size)
    if len(fixed) < _FIXED.size:
        raise MalformedEnvelope("too short to be an envelope")
    magic, version, chunk_log2, count = _FIXED.unpack(fixed)
    if magic != MAGIC:
        raise MalformedEnvelope("not an envelope (bad magic)")
    if version != VERSION:
        raise UnsupportedVersion(f"unsupported envelope version {version}")
    if chunk_log2 != CHUNK_LOG2:
        raise UnsupportedVersion(f"unsupported chunk size 2^{chunk_log2}")
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedEnvelope(f"impossible recipient count {count}")
    rest = _read_exactly(source, STANZA_BYTES * count + MAC_BYTES + SS_HEADER_BYTES)
    if len(rest) < STANZA_BYTES * count + MAC_BYTES + SS_HEADER_BYTES:
        raise TruncatedEnvelope("envelope header is truncated")
    stanzas = rest[: STANZA_BYTES * count]
    mac = rest[STANZA_BYTES * count : STANZA_BYTES * count + MAC_BYTES]
    return count, fixed + stanzas, mac, rest[-SS_HEADER_BYTES:]


def iter_plaintext(
    source: BinaryIO, identities: Sequence[nacl.public.PrivateKey]
) -> Iterator[bytes]:
    """Yield plaintext chunks; raises an EnvelopeError subclass at the first problem.

    A caller that consumes the iterator to its end without an exception has the whole, authentic
    plaintext; anything it yielded before an exception must be discarded.
    """
    count, header, mac, ss_header = read_header(source)
    file_key = _open_file_key(header[_FIXED.size :], count, identities)
    if not hmac.compare_digest(_header_mac(file_key, header), mac):
        raise HeaderTampered("envelope header was modified")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    try:
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            state, ss_header, _subkey(file_key, b"payload")
        )
    except nacl.exceptions.CryptoError as exc:
        raise ChunkTampered("bad secretstream header") from exc
    while True:
        sealed = _read_exactly(source, CHUNK_SIZE + ABYTES)
        if len(sealed) < ABYTES:
            raise TruncatedEnvelope("envelope ends before its final chunk")
        try:
            chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, sealed, None)
        except nacl.exceptions.CryptoError as exc:
            raise ChunkTampered("an envelope chunk failed authentication") from exc
        if tag == TAG_FINAL:
            if source.read(1):
                raise TrailingData("data follows the final chunk")
            yield chunk
            return
        if tag != TAG_MESSAGE or len(sealed) != CHUNK_SIZE + ABYTES:
            # Only the final chunk may be short; any other tag is not produced by this format.
            raise ChunkTampered("unexpected chunk tag or length")
        yield chunk


def encrypt(source: BinaryIO, sink: Writable, recipients: Sequence[nacl.public.PublicKey]) -> int:
    """Encrypt a whole stream; returns the plaintext length."""
    with EnvelopeWriter(sink, recipients) as writer:
        while block := source.read(CHUNK_SIZE):
            writer.write(block)
    return writer.plaintext_bytes


def decrypt(source: BinaryIO, sink: Writable, identities: Sequence[nacl.public.PrivateKey]) -> int:
    """Decrypt a whole stream into `sink`; returns the plaintext length. See iter_plaintext."""
    total = 0
    for chunk in iter_plaintext(source, identities):
        sink.write(chunk)
        total += len(chunk)
    return total


def encrypt_bytes(data: bytes, recipients: Sequence[nacl.public.PublicKey]) -> bytes:
    out = io.BytesIO()
    encrypt(io.BytesIO(data), out, recipients)
    return out.getvalue()


def decrypt_bytes(
    data: bytes, identities: Sequence[nacl.public.PrivateKey], max_size: int | None = None
) -> bytes:
    """Decrypt a small envelope held in memory; `max_size` bounds the plaintext kept."""
    out = bytearray()
    for chunk in iter_plaintext(io.BytesIO(data), identities):
        out += chunk
        if max_size is not None and len(out) > max_size:
            raise MalformedEnvelope("plaintext larger than allowed here")
    return bytes(out)

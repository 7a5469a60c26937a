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
chained state and final tag detect a changed, reordered, dropped or appended chunk. Files are read
and written a batch of 16 chunks at a time (keys/streaming.py): memory use is about 1 MiB each way
whatever the size, and an envelope of one chunk allocates only that chunk. Decryption writes
plaintext as it goes and raises at the first bad chunk: callers must write to a scratch place and
keep the output only if no error came.
"""

from __future__ import annotations

import hmac
import io
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, Protocol, Self, cast

import nacl.bindings as sodium
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.public
import nacl.utils

from keys import streaming
from keys.errors import (
    ChunkTampered,
    EnvelopeError,
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
CHUNK_SIZE = streaming.CHUNK_SIZE
MAX_RECIPIENTS = 16  # bounds trial decryption: a forged header cannot make us try 65,535 stanzas
FILE_KEY_BYTES = 32
STANZA_BYTES = FILE_KEY_BYTES + sodium.crypto_box_SEALBYTES  # 80
MAC_BYTES = 32
SS_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
ABYTES = streaming.ABYTES  # 17
SEALED_CHUNK = streaming.SEALED_CHUNK
TAG_MESSAGE = streaming.TAG_MESSAGE
TAG_FINAL = streaming.TAG_FINAL
_FIXED = struct.Struct(">6sBBH")
_PERSON = b"wbs-env-v1"


class Writable(Protocol):
    """Where plaintext or ciphertext goes. As with io's raw streams, `data` may be a view of a
    buffer that is reused after the call returns: copy it to keep it."""

    def write(self, data: bytes | memoryview, /) -> object: ...


class ReadableInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


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

    It holds at most one batch of plaintext (keys/streaming.py), so a 1 GiB upload streamed into
    it never sits in memory. `close()` writes the final chunk; an envelope whose writer was never
    closed is truncated by construction and will be refused on decryption.
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
        self._stream = streaming.Pusher(_subkey(file_key, b"payload"))
        sink.write(header + _header_mac(file_key, header) + self._stream.header)
        # One chunk to start with; a whole batch once more than a chunk arrives.
        self._plain = bytearray(CHUNK_SIZE)
        self._filled = 0
        self._sealed = bytearray()
        self._closed = False
        self.plaintext_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed envelope")
        view = memoryview(data).cast("B")
        offset = 0
        while offset < len(view):
            room = self._room()
            take = min(len(room), len(view) - offset)
            room[:take] = view[offset : offset + take]
            room.release()
            self._filled += take
            offset += take
        self.plaintext_bytes += len(view)
        return len(view)

    def write_from(self, source: ReadableInto) -> None:
        """Read `source` to its end straight into the batch buffer and encrypt it."""
        if self._closed:
            raise ValueError("write to a closed envelope")
        while True:
            room = self._room()
            try:
                got = source.readinto(room)
            finally:
                room.release()
            if not got:
                return
            self._filled += got
            self.plaintext_bytes += got

    def _room(self) -> memoryview:
        """The free part of the plaintext buffer, never empty. A full buffer is sealed except
        for its last chunk, which may turn out to be the final one (close() seals it with the
        final tag): it moves to the front of the buffer."""
        if self._filled == len(self._plain):
            if len(self._plain) < streaming.WRITER_PLAIN:
                self._plain.extend(bytes(streaming.WRITER_PLAIN - len(self._plain)))
            else:
                self._seal(streaming.BATCH_PLAIN, final=False)
                self._plain[:CHUNK_SIZE] = self._plain[streaming.BATCH_PLAIN :]
                self._filled = CHUNK_SIZE
        return memoryview(self._plain)[self._filled :]

    def _seal(self, length: int, final: bool) -> None:
        needed = length + max(1, -(-length // CHUNK_SIZE)) * ABYTES
        if len(self._sealed) < needed:
            self._sealed = bytearray(needed if final else streaming.WRITER_SEALED)
        written = self._stream.push(self._plain, length, self._sealed, final)
        with memoryview(self._sealed)[:written] as sealed:
            self._sink.write(sealed)

    def close(self) -> None:
        if self._closed:
            return
        self._seal(self._filled, final=True)
        self._filled = 0
        streaming.wipe(self._plain)
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
        else:
            streaming.wipe(self._plain)


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
    """Yield the plaintext in pieces of at most one batch; raises an EnvelopeError subclass at
    the first bad chunk.

    A caller that consumes the iterator to its end without an exception has the whole, authentic
    plaintext; anything it yielded before an exception must be discarded.
    """
    for piece in iter_plaintext_views(source, identities):
        yield bytes(piece)


def iter_plaintext_views(
    source: BinaryIO, identities: Sequence[nacl.public.PrivateKey]
) -> Iterator[memoryview]:
    """As iter_plaintext, without copies: each piece is a view of a buffer that the next one
    overwrites (and that is zeroed at the end), so copy what must be kept."""
    count, header, mac, ss_header = read_header(source)
    file_key = _open_file_key(header[_FIXED.size :], count, identities)
    if not hmac.compare_digest(_header_mac(file_key, header), mac):
        raise HeaderTampered("envelope header was modified")
    try:
        stream = streaming.Puller(ss_header, _subkey(file_key, b"payload"))
    except nacl.exceptions.CryptoError as exc:
        raise ChunkTampered("bad secretstream header") from exc
    # The first chunk alone (most envelopes are that one chunk), then whole batches.
    sealed, plain = bytearray(SEALED_CHUNK), bytearray(CHUNK_SIZE)
    stream.use(sealed, plain)
    try:
        while True:
            got = _read_into(source, sealed)
            opened, ended, problem = _open_batch(stream, got, len(sealed))
            if opened:
                with memoryview(plain)[:opened] as piece:
                    yield piece
            if problem is not None:
                raise problem
            if ended:
                if source.read(1):
                    raise TrailingData("data follows the final chunk")
                return
            if len(sealed) < streaming.BATCH_SEALED:
                streaming.wipe(plain)
                sealed, plain = bytearray(streaming.BATCH_SEALED), bytearray(streaming.BATCH_PLAIN)
                stream.use(sealed, plain)
    finally:
        streaming.wipe(plain)


def _read_into(source: BinaryIO, buffer: bytearray) -> int:
    """Fill `buffer` from `source`; fewer bytes only at the end of the stream."""
    # Every binary stream of io (files, BytesIO) has readinto; typing's BinaryIO does not say so.
    reader = cast(ReadableInto, source)
    filled = 0
    with memoryview(buffer) as view:
        while filled < len(buffer):
            got = reader.readinto(view[filled:])
            if not got:
                break
            filled += got
    return filled


def _open_batch(
    stream: streaming.Puller, length: int, capacity: int
) -> tuple[int, bool, EnvelopeError | None]:
    """Open the chunks in the first `length` bytes of the stream's sealed buffer: (plaintext
    bytes opened, whether the final chunk was among them, the error that stopped it). A batch
    shorter than the buffer's `capacity` is the end of the stream, so it must end with the final
    chunk."""
    opened = 0
    for start in range(0, max(length, 1), SEALED_CHUNK):
        size = min(SEALED_CHUNK, length - start)
        if size < ABYTES:
            return opened, False, TruncatedEnvelope("envelope ends before its final chunk")
        try:
            got, tag = stream.pull(start, size, opened)
        except nacl.exceptions.CryptoError:
            return opened, False, ChunkTampered("an envelope chunk failed authentication")
        opened += got
        if tag == TAG_FINAL:
            if start + size != length:
                return opened, True, TrailingData("data follows the final chunk")
            return opened, True, None
        if tag != TAG_MESSAGE or size != SEALED_CHUNK:
            # Only the final chunk may be short; any other tag is not produced by this format.
            return opened, False, ChunkTampered("unexpected chunk tag or length")
    if length < capacity:
        return opened, False, TruncatedEnvelope("envelope ends before its final chunk")
    return opened, False, None


def encrypt(
    source: ReadableInto, sink: Writable, recipients: Sequence[nacl.public.PublicKey]
) -> int:
    """Encrypt a whole stream; returns the plaintext length."""
    with EnvelopeWriter(sink, recipients) as writer:
        writer.write_from(source)
    return writer.plaintext_bytes


def decrypt(source: BinaryIO, sink: Writable, identities: Sequence[nacl.public.PrivateKey]) -> int:
    """Decrypt a whole stream into `sink`; returns the plaintext length. See iter_plaintext."""
    total = 0
    for piece in iter_plaintext_views(source, identities):
        sink.write(piece)
        total += len(piece)
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

"""libsodium's secretstream on buffers the caller allocates once, a batch of chunks per call.

PyNaCl's binding takes a `bytes` message and returns a new `bytes` ciphertext: for every 64 KiB
chunk an allocation and two copies on top of the cipher, and the envelope had to copy each chunk
out of its buffer first. Streaming a file, that costs more than the reads and writes. These calls
go through the same cffi handle PyNaCl's binding uses (`nacl._sodium`), with the same libsodium
functions and the same state; only the buffers are ours: a batch of chunks is sealed from one
plaintext buffer into one ciphertext buffer (or opened the other way), so the file is read and
written a batch at a time, and nothing is allocated per chunk.

The format is the envelope's (keys/envelope.py); nothing here knows about headers or files.
"""

from __future__ import annotations

import nacl.bindings as sodium
import nacl.exceptions
from nacl._sodium import ffi, lib

CHUNK_SIZE = 1 << 16
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
SEALED_CHUNK = CHUNK_SIZE + ABYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
# 16 chunks, 1 MiB of plaintext: big enough that reads and writes cost little per byte, small
# enough that the constant-memory promise stays a promise (a few MiB whatever the file's size).
BATCH_CHUNKS = 16
BATCH_PLAIN = BATCH_CHUNKS * CHUNK_SIZE
BATCH_SEALED = BATCH_CHUNKS * SEALED_CHUNK
# A writer holds one chunk more than a batch: the chunk that may turn out to be the last one,
# which must be sealed with the final tag, stays behind until more data arrives.
WRITER_PLAIN = BATCH_PLAIN + CHUNK_SIZE
WRITER_SEALED = BATCH_SEALED + SEALED_CHUNK


class Pusher:
    """The sending side of one stream."""

    def __init__(self, key: bytes) -> None:
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)

    def push(self, plain: bytearray, length: int, sealed: bytearray, final: bool) -> int:
        """Seal plain[:length] into `sealed` as CHUNK_SIZE messages (the last may be shorter; a
        length of 0 is one empty message); the last carries TAG_FINAL when `final`. Returns the
        number of bytes written to `sealed`, which must have room for them."""
        count = max(1, -(-length // CHUNK_SIZE))
        if len(sealed) < length + count * ABYTES:
            raise ValueError("no room for the sealed chunks")
        source, target, state = ffi.from_buffer(plain), ffi.from_buffer(sealed), self._state
        written = 0
        for index in range(count):
            start = index * CHUNK_SIZE
            size = min(CHUNK_SIZE, length - start)
            tag = TAG_FINAL if final and index == count - 1 else TAG_MESSAGE
            code = lib.crypto_secretstream_xchacha20poly1305_push(
                state.statebuf, target + written, ffi.NULL, source + start, size, ffi.NULL, 0, tag
            )
            if code != 0:
                raise RuntimeError("secretstream push failed")
            written += size + ABYTES
        return written


class Puller:
    """The receiving side of one stream; CryptoError if `header` does not start a stream."""

    def __init__(self, header: bytes, key: bytes) -> None:
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        self._length = ffi.new("unsigned long long *")
        self._tag = ffi.new("unsigned char *")
        self._sealed: bytearray = bytearray()
        self._plain: bytearray = bytearray()
        self._sealed_at = self._plain_at = ffi.NULL

    def use(self, sealed: bytearray, plain: bytearray) -> None:
        """The buffers the next pulls read from and write to (kept: they must not be resized)."""
        self._sealed, self._plain = sealed, plain
        self._sealed_at, self._plain_at = ffi.from_buffer(sealed), ffi.from_buffer(plain)

    def pull(self, start: int, size: int, into: int) -> tuple[int, int]:
        """Open the message sealed[start:start + size] into plain[into:]; returns (plaintext
        length, tag). CryptoError when it fails authentication (the state is then spent)."""
        if size < ABYTES or start + size > len(self._sealed):
            raise ValueError("message out of bounds")
        if into + size - ABYTES > len(self._plain):
            raise ValueError("no room for the message")
        code = lib.crypto_secretstream_xchacha20poly1305_pull(
            self._state.statebuf,
            self._plain_at + into,
            self._length,
            self._tag,
            self._sealed_at + start,
            size,
            ffi.NULL,
            0,
        )
        if code != 0:
            raise nacl.exceptions.CryptoError("secretstream message failed authentication")
        return int(self._length[0]), int(self._tag[0])


def wipe(buffer: bytearray) -> None:
    """Zero a buffer that held plaintext (libsodium's memzero, which the compiler keeps)."""
    if buffer:
        lib.sodium_memzero(ffi.from_buffer(buffer), len(buffer))

"""The envelope (docs/protocol.md §3): sizes, recipients, and every way of damaging one."""

from __future__ import annotations

import hashlib
import io
import struct
import tracemalloc
from pathlib import Path

import nacl.bindings as sodium
import nacl.public
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import envelope
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

CHUNK = envelope.CHUNK_SIZE
SEALED_CHUNK = CHUNK + envelope.ABYTES
IDENTITIES = [nacl.public.PrivateKey(bytes([i + 1]) * 32) for i in range(17)]
PUBLICS = [identity.public_key for identity in IDENTITIES]
A, B, STRANGER = IDENTITIES[0], IDENTITIES[1], IDENTITIES[16]


def pattern(length: int) -> bytes:
    block = bytes(range(251))
    return (block * (length // 251 + 1))[:length]


def header_len(recipients: int) -> int:
    return envelope.header_length(recipients)


def chunks_of(data: bytes, recipients: int) -> tuple[bytes, list[bytes]]:
    """Split an envelope into its header and its sealed chunks."""
    start = header_len(recipients)
    body = data[start:]
    return data[:start], [body[i : i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)]


# Built once: a small two-recipient envelope (exhaustive tests) and a three-chunk one.
SMALL_PLAIN = pattern(200)
SMALL = envelope.encrypt_bytes(SMALL_PLAIN, [PUBLICS[0], PUBLICS[1]])
MULTI_PLAIN = pattern(2 * CHUNK + 1000)
MULTI = envelope.encrypt_bytes(MULTI_PLAIN, [PUBLICS[0]])


def flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# --- sizes and recipients -------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * 1024 * 1024 + 5]
)
def test_round_trip_at_chunk_edges(size: int) -> None:
    plaintext = pattern(size)
    data = envelope.encrypt_bytes(plaintext, [PUBLICS[0]])
    assert len(data) == envelope.ciphertext_length(size, 1)
    assert envelope.decrypt_bytes(data, [A]) == plaintext
    out = io.BytesIO()
    assert envelope.decrypt(io.BytesIO(data), out, [A]) == size
    assert out.getvalue() == plaintext


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK + 3),
    pieces=st.lists(st.integers(min_value=1, max_value=CHUNK + 7), max_size=8),
    recipients=st.integers(min_value=1, max_value=3),
)
def test_any_size_and_any_write_pattern(size: int, pieces: list[int], recipients: int) -> None:
    """However the plaintext is fed to the writer, the envelope is the same format and length."""
    plaintext = pattern(size)
    sink = io.BytesIO()
    with envelope.EnvelopeWriter(sink, PUBLICS[:recipients]) as writer:
        offset = 0
        for piece in pieces:
            writer.write(plaintext[offset : offset + piece])
            offset += piece
        writer.write(plaintext[offset:])
    data = sink.getvalue()
    assert writer.plaintext_bytes == size
    assert len(data) == envelope.ciphertext_length(size, recipients)
    assert envelope.decrypt_bytes(data, [IDENTITIES[recipients - 1]]) == plaintext


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, as a pipe or a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._offset, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        piece = self._data[self._offset : self._offset + min(self._step, len(buffer))]
        buffer[: len(piece)] = piece
        self._offset += len(piece)
        return len(piece)


BATCH = 16 * CHUNK  # the plaintext the writer and the reader handle per file write or read


@pytest.mark.parametrize(
    "size",
    [BATCH - 1, BATCH, BATCH + 1, BATCH + CHUNK - 1, BATCH + CHUNK, BATCH + CHUNK + 1,
     2 * BATCH, 2 * BATCH + CHUNK, 3 * BATCH - CHUNK + 5],
)
def test_batch_edges_stream_and_write_paths_agree(size: int) -> None:
    """Whole files are read and written in batches of chunks: at and around every batch edge,
    from a stream that reads short, through write() in odd pieces, and back through a reader
    that reads short, the envelope has the format's exact length and the same plaintext."""
    plaintext = pattern(size)
    streamed = io.BytesIO()
    assert envelope.encrypt(Trickle(plaintext, 40_000), streamed, [PUBLICS[0]]) == size
    written = io.BytesIO()
    with envelope.EnvelopeWriter(written, [PUBLICS[0]]) as writer:
        for offset in range(0, size, 99_991):
            writer.write(plaintext[offset : offset + 99_991])
    for data in (streamed.getvalue(), written.getvalue()):
        assert len(data) == envelope.ciphertext_length(size, 1)
        out = io.BytesIO()
        assert envelope.decrypt(Trickle(data, 30_001), out, [A]) == size  # type: ignore[arg-type]
        assert out.getvalue() == plaintext
        header, chunks = chunks_of(data, 1)
        with pytest.raises((TruncatedEnvelope, ChunkTampered)):
            envelope.decrypt_bytes(header + b"".join(chunks[:-1]), [A])


@pytest.mark.parametrize("count", range(1, envelope.MAX_RECIPIENTS + 1))
def test_every_recipient_decrypts(count: int) -> None:
    plaintext = pattern(300)
    data = envelope.encrypt_bytes(plaintext, PUBLICS[:count])
    assert len(data) == envelope.ciphertext_length(300, count)
    for identity in IDENTITIES[:count]:
        assert envelope.decrypt_bytes(data, [identity]) == plaintext
    with pytest.raises(NotARecipient):
        envelope.decrypt_bytes(data, [STRANGER])


def test_identity_order_and_extra_identities_do_not_matter() -> None:
    assert envelope.decrypt_bytes(SMALL, [STRANGER, B]) == SMALL_PLAIN
    assert envelope.decrypt_bytes(SMALL, [B, A]) == SMALL_PLAIN


@pytest.mark.parametrize("count", [0, envelope.MAX_RECIPIENTS + 1])
def test_recipient_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="recipients"):
        envelope.EnvelopeWriter(io.BytesIO(), PUBLICS[:count])


def test_foreign_key_is_not_a_recipient() -> None:
    with pytest.raises(NotARecipient):
        envelope.decrypt_bytes(SMALL, [STRANGER])
    with pytest.raises(NotARecipient):
        envelope.decrypt_bytes(SMALL, [])


@pytest.mark.parametrize(
    ("plaintext", "recipients"),
    [(0, 1), (1, 1), (CHUNK, 1), (CHUNK + 1, 2), (10 * CHUNK, 16)],
)
def test_ciphertext_length_formula(plaintext: int, recipients: int) -> None:
    chunks = max(1, -(-plaintext // CHUNK))
    expected = 66 + 80 * recipients + plaintext + 17 * chunks
    assert envelope.ciphertext_length(plaintext, recipients) == expected
    assert envelope.header_length(recipients) == 66 + 80 * recipients


def test_header_layout() -> None:
    magic, version, chunk_log2, count = struct.unpack(">6sBBH", SMALL[:10])
    assert (magic, version, chunk_log2, count) == (b"WBSENV", 1, 16, 2)
    parsed_count, header, mac, ss_header = envelope.read_header(io.BytesIO(SMALL))
    assert parsed_count == 2
    assert header == SMALL[:170]
    assert mac == SMALL[170:202]
    assert ss_header == SMALL[202:226]


# --- tampering ------------------------------------------------------------------------------


def test_every_single_bit_flip_in_a_small_envelope_fails() -> None:
    """Exhaustive: each of the ~3,500 bits, for each of the two recipients."""
    for bit in range(len(SMALL) * 8):
        damaged = flip(SMALL, bit)
        for identity in (A, B):
            with pytest.raises(EnvelopeError):
                envelope.decrypt_bytes(damaged, [identity])


@settings(max_examples=150, deadline=None)
@given(bit=st.integers(min_value=0, max_value=len(MULTI) * 8 - 1))
def test_a_bit_flip_anywhere_in_a_multi_chunk_envelope_fails(bit: int) -> None:
    with pytest.raises(EnvelopeError):
        envelope.decrypt_bytes(flip(MULTI, bit), [A])


def test_bit_flip_error_classes_by_region() -> None:
    """Which check catches a flip depends on where it is (docs/protocol.md §3.4)."""
    with pytest.raises(MalformedEnvelope):
        envelope.decrypt_bytes(flip(SMALL, 0), [A])  # magic
    with pytest.raises(UnsupportedVersion):
        envelope.decrypt_bytes(flip(SMALL, 6 * 8), [A])  # version
    with pytest.raises(UnsupportedVersion):
        envelope.decrypt_bytes(flip(SMALL, 7 * 8), [A])  # chunk size
    with pytest.raises(HeaderTampered):
        envelope.decrypt_bytes(flip(SMALL, (10 + 80 + 40) * 8), [A])  # b's stanza, read by a
    with pytest.raises(HeaderTampered):
        envelope.decrypt_bytes(flip(SMALL, 180 * 8), [A])  # header MAC
    with pytest.raises(ChunkTampered):
        envelope.decrypt_bytes(flip(SMALL, 210 * 8), [A])  # secretstream header
    with pytest.raises(ChunkTampered):
        envelope.decrypt_bytes(flip(SMALL, (len(SMALL) - 1) * 8), [A])  # chunk tag


def test_every_truncation_of_a_small_envelope_fails() -> None:
    for length in range(len(SMALL)):
        with pytest.raises((TruncatedEnvelope, ChunkTampered, MalformedEnvelope)):
            envelope.decrypt_bytes(SMALL[:length], [A])


def test_truncation_at_chunk_boundaries_is_truncation() -> None:
    start = header_len(1)
    for boundary in (start, start + SEALED_CHUNK, start + 2 * SEALED_CHUNK):
        with pytest.raises(TruncatedEnvelope):
            envelope.decrypt_bytes(MULTI[:boundary], [A])
        with pytest.raises((TruncatedEnvelope, ChunkTampered)):
            envelope.decrypt_bytes(MULTI[: boundary + 16], [A])
        with pytest.raises(ChunkTampered):
            envelope.decrypt_bytes(MULTI[: boundary + 17], [A])


@settings(max_examples=120, deadline=None)
@given(length=st.integers(min_value=0, max_value=len(MULTI) - 1))
def test_any_truncation_of_a_multi_chunk_envelope_fails(length: int) -> None:
    with pytest.raises((TruncatedEnvelope, ChunkTampered, MalformedEnvelope)):
        envelope.decrypt_bytes(MULTI[:length], [A])


def test_truncated_stream_yields_no_complete_result() -> None:
    """The iterator may have yielded early chunks, but it never ends without an error."""
    seen = bytearray()
    with pytest.raises(TruncatedEnvelope):
        for chunk in envelope.iter_plaintext(
            io.BytesIO(MULTI[: header_len(1) + 2 * SEALED_CHUNK]), [A]
        ):
            seen += chunk
    assert len(seen) == 2 * CHUNK  # what a caller must throw away


def test_swapped_chunks_fail() -> None:
    header, chunks = chunks_of(MULTI, 1)
    assert len(chunks) == 3
    for order in ([1, 0, 2], [0, 2, 1], [2, 1, 0], [0, 0, 2], [0, 2], [1, 2], [0, 1, 1, 2]):
        with pytest.raises(EnvelopeError) as caught:
            envelope.decrypt_bytes(header + b"".join(chunks[i] for i in order), [A])
        assert isinstance(caught.value, (ChunkTampered, TrailingData, TruncatedEnvelope))


def test_a_chunk_from_another_envelope_fails() -> None:
    other = envelope.encrypt_bytes(MULTI_PLAIN, [PUBLICS[0]])
    header, chunks = chunks_of(MULTI, 1)
    other_header, other_chunks = chunks_of(other, 1)
    for index in range(3):
        mixed = list(chunks)
        mixed[index] = other_chunks[index]
        with pytest.raises(ChunkTampered):
            envelope.decrypt_bytes(header + b"".join(mixed), [A])
    # Another envelope's header in front of this body: another file key, another stream.
    with pytest.raises(ChunkTampered):
        envelope.decrypt_bytes(other_header + b"".join(chunks), [A])


FULL_FINAL = envelope.encrypt_bytes(pattern(2 * CHUNK), [PUBLICS[0]])


@pytest.mark.parametrize("extra", [b"\x00", pattern(17), pattern(SEALED_CHUNK), None])
def test_appended_bytes_are_trailing_data(extra: bytes | None) -> None:
    """After a full final chunk, anything appended is reported as such."""
    suffix = extra if extra is not None else chunks_of(FULL_FINAL, 1)[1][-1]
    assert envelope.decrypt_bytes(FULL_FINAL, [A]) == pattern(2 * CHUNK)
    with pytest.raises(TrailingData):
        envelope.decrypt_bytes(FULL_FINAL + suffix, [A])


@pytest.mark.parametrize("extra", [b"\x00", pattern(17), pattern(SEALED_CHUNK)])
def test_bytes_appended_after_a_short_final_chunk_are_refused(extra: bytes) -> None:
    """A short final chunk is read up to a full chunk's length, so appended bytes become part of
    it and it fails authentication (docs/protocol.md §3.4): still refused, as ChunkTampered."""
    with pytest.raises(ChunkTampered):
        envelope.decrypt_bytes(MULTI + extra, [A])
    with pytest.raises(ChunkTampered):
        envelope.decrypt_bytes(SMALL + extra, [B])


def _reseal(stanza_owner: nacl.public.PublicKey) -> bytes:
    return bytes(sodium.crypto_box_seal(bytes(32 * [7]), bytes(stanza_owner)))


def test_changed_header_is_header_tampered() -> None:
    fixed, stanza_a, stanza_b = SMALL[:10], SMALL[10:90], SMALL[90:170]
    rest = SMALL[170:]
    # b's stanza replaced by a stanza of another file key: a still opens its own, MAC fails.
    with pytest.raises(HeaderTampered):
        envelope.decrypt_bytes(fixed + stanza_a + _reseal(PUBLICS[1]) + rest, [A])
    # Stanzas swapped.
    with pytest.raises(HeaderTampered):
        envelope.decrypt_bytes(fixed + stanza_b + stanza_a + rest, [A])
    # A recipient added: a third stanza and count 3 (the MAC no longer lines up either).
    three = fixed[:8] + struct.pack(">H", 3)
    with pytest.raises(HeaderTampered):
        envelope.decrypt_bytes(three + stanza_a + stanza_b + _reseal(PUBLICS[2]) + rest, [A])
    # A recipient dropped.
    one = fixed[:8] + struct.pack(">H", 1)
    with pytest.raises((HeaderTampered, ChunkTampered)):
        envelope.decrypt_bytes(one + stanza_a + rest, [A])


@pytest.mark.parametrize(
    ("offset", "value", "error"),
    [
        (6, 0, UnsupportedVersion),
        (6, 2, UnsupportedVersion),
        (6, 255, UnsupportedVersion),
        (7, 15, UnsupportedVersion),
        (7, 17, UnsupportedVersion),
        (7, 20, UnsupportedVersion),
        (0, ord("X"), MalformedEnvelope),
    ],
)
def test_version_and_chunk_size_changes(offset: int, value: int, error: type) -> None:
    changed = bytearray(SMALL)
    changed[offset] = value
    with pytest.raises(error):
        envelope.decrypt_bytes(bytes(changed), [A])


@pytest.mark.parametrize("count", [0, 17, 0xFFFF])
def test_impossible_recipient_count_is_malformed(count: int) -> None:
    with pytest.raises(MalformedEnvelope):
        envelope.decrypt_bytes(SMALL[:8] + struct.pack(">H", count) + SMALL[10:], [A])


@pytest.mark.parametrize("data", [b"", b"WBSENV", b"not an envelope at all"])
def test_short_or_foreign_input_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        envelope.decrypt_bytes(data, [A])


# --- writers that were not closed -------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 10, CHUNK, 2 * CHUNK + 5])
def test_a_writer_never_closed_gives_a_truncated_envelope(size: int) -> None:
    sink = io.BytesIO()
    writer = envelope.EnvelopeWriter(sink, [PUBLICS[0]])
    writer.write(pattern(size))
    assert not writer.closed
    with pytest.raises(TruncatedEnvelope):
        envelope.decrypt_bytes(sink.getvalue(), [A])


def test_an_exception_inside_the_writer_leaves_no_final_chunk() -> None:
    sink = io.BytesIO()
    with pytest.raises(RuntimeError), envelope.EnvelopeWriter(sink, [PUBLICS[0]]) as writer:
        writer.write(pattern(CHUNK + 10))
        raise RuntimeError("upload aborted")
    with pytest.raises(TruncatedEnvelope):
        envelope.decrypt_bytes(sink.getvalue(), [A])


def test_write_after_close_is_refused_and_close_is_idempotent() -> None:
    sink = io.BytesIO()
    writer = envelope.EnvelopeWriter(sink, [PUBLICS[0]])
    writer.write(b"abc")
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"d")
    assert envelope.decrypt_bytes(sink.getvalue(), [A]) == b"abc"


def test_decrypt_bytes_max_size() -> None:
    assert envelope.decrypt_bytes(SMALL, [A], max_size=200) == SMALL_PLAIN
    with pytest.raises(MalformedEnvelope):
        envelope.decrypt_bytes(SMALL, [A], max_size=199)


# --- streaming in constant memory -----------------------------------------------------------


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_64_mib_file_to_file_in_constant_memory(tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    plain, sealed, opened = tmp_path / "plain", tmp_path / "sealed", tmp_path / "opened"
    block = pattern(1 << 20)
    with plain.open("wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
    limit = 3 * 1024 * 1024
    tracemalloc.start()
    try:
        with plain.open("rb") as source, sealed.open("wb") as sink:
            assert envelope.encrypt(source, sink, [PUBLICS[0]]) == size
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with sealed.open("rb") as source, opened.open("wb") as sink:
            assert envelope.decrypt(source, sink, [A]) == size
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert encrypt_peak < limit, f"encryption peaked at {encrypt_peak} bytes"
    assert decrypt_peak < limit, f"decryption peaked at {decrypt_peak} bytes"
    assert sealed.stat().st_size == envelope.ciphertext_length(size, 1)
    assert _hash_file(opened) == _hash_file(plain)

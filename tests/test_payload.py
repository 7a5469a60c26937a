"""The payload inside an envelope (docs/protocol.md §4): metadata block, content, limits."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import envelope, keytypes, payload
from keys.encoding import canonical_json
from keys.errors import ChunkTampered, EnvelopeError, PayloadError

A = keytypes.recipient_identity(bytes([1]) * 32)
B = keytypes.recipient_identity(bytes([2]) * 32)
RECIPIENTS = [A.public_key, B.public_key]
CHUNK = envelope.CHUNK_SIZE

json_text = st.text(max_size=40)
metas = st.fixed_dictionaries(
    {"kind": st.sampled_from(["report", "followup", "file", "reply", "status"])},
    optional={"name": json_text, "type": json_text, "n": st.integers(-(2**40), 2**40)},
)


@settings(max_examples=40, deadline=None)
@given(meta=metas, content=st.binary(max_size=3000))
def test_metadata_and_content_round_trip(meta: dict[str, Any], content: bytes) -> None:
    sealed = payload.seal_bytes(meta, content, RECIPIENTS)
    for identity in (A, B):
        assert payload.open_bytes(sealed, [identity]) == (meta, content)
    plaintext = envelope.decrypt_bytes(sealed, [A])
    block = canonical_json(meta)
    assert plaintext == struct.pack(">H", len(block)) + block + content


@pytest.mark.parametrize("size", [0, 1, CHUNK - 20, CHUNK, 3 * CHUNK + 7])
def test_streaming_round_trip(size: int) -> None:
    content = bytes(i % 253 for i in range(size))
    meta = {"kind": "file", "name": "bukti.zip", "type": "application/zip"}
    sink = io.BytesIO()
    writer = payload.PayloadWriter(sink, RECIPIENTS, meta)
    with writer:
        for start in range(0, size, 10_000):
            writer.write(content[start : start + 10_000])
    assert writer.content_bytes == size
    out = io.BytesIO()
    got_meta, got_size = payload.read_payload(io.BytesIO(sink.getvalue()), [B], out)
    assert (got_meta, got_size, out.getvalue()) == (meta, size, content)


def test_metadata_never_appears_in_the_ciphertext() -> None:
    name = "laporan-rahasia-pengadaan-2024.pdf"
    media = "application/vnd.oasis.opendocument.text"
    meta = {"kind": "file", "name": name, "type": media}
    sealed = payload.seal_bytes(meta, b"%PDF-1.7 " * 500, RECIPIENTS)
    for needle in (name, media, "laporan", "rahasia", "file", "%PDF"):
        assert needle.encode() not in sealed
        assert needle.encode("utf-16-le") not in sealed
    assert canonical_json(meta) not in sealed


def test_max_content_is_enforced() -> None:
    content = bytes(5000)
    sealed = payload.seal_bytes({"kind": "followup"}, content, RECIPIENTS)
    assert payload.open_bytes(sealed, [A], max_content=5000) == ({"kind": "followup"}, content)
    with pytest.raises(PayloadError, match="larger"):
        payload.open_bytes(sealed, [A], max_content=4999)
    with pytest.raises(PayloadError):
        payload.open_bytes(sealed, [A], max_content=0)


def test_max_content_stops_before_the_end_of_a_large_payload() -> None:
    """The limit applies while streaming: a limit passed in the first chunk fails even though the
    rest of this envelope is damaged (the damage is never reached)."""
    sealed = bytearray(payload.seal_bytes({"kind": "file"}, bytes(3 * CHUNK), RECIPIENTS))
    sealed[-1] ^= 1
    with pytest.raises(PayloadError):
        payload.open_bytes(bytes(sealed), [A], max_content=1000)
    with pytest.raises(ChunkTampered):
        payload.open_bytes(bytes(sealed), [A])


def test_metadata_at_the_size_limit() -> None:
    filler = "x" * (payload.MAX_META_BYTES - len(canonical_json({"kind": "file", "name": ""})))
    meta = {"kind": "file", "name": filler}
    assert len(canonical_json(meta)) == payload.MAX_META_BYTES
    sealed = payload.seal_bytes(meta, b"abc", RECIPIENTS)
    assert payload.open_bytes(sealed, [A]) == (meta, b"abc")
    with pytest.raises(ValueError, match="too large"):
        payload.seal_bytes({"kind": "file", "name": filler + "x"}, b"abc", RECIPIENTS)


def _raw(plaintext: bytes) -> bytes:
    """An authentic envelope whose plaintext does not follow the payload layout."""
    return envelope.encrypt_bytes(plaintext, RECIPIENTS)


def _block(meta_bytes: bytes) -> bytes:
    return struct.pack(">H", len(meta_bytes)) + meta_bytes


@pytest.mark.parametrize(
    ("plaintext", "message"),
    [
        (b"", "no metadata"),
        (b"\x00", "no metadata"),
        (struct.pack(">H", 20) + b'{"kind":"x"}', "no metadata"),
        (struct.pack(">H", 4097) + b"{}" * 3000, "too large"),
        (struct.pack(">H", 0xFFFF), "too large"),
        (_block(b"not json"), "not JSON"),
        (_block(b'{"kind":'), "not JSON"),
        (_block(b"\xff\xfe{}"), "not JSON"),
        (_block(b'["kind","file"]'), "not an object"),
        (_block(b'"file"'), "not an object"),
        (_block(b"null"), "not an object"),
        (_block(b""), "not JSON"),
    ],
)
def test_malformed_metadata_is_refused(plaintext: bytes, message: str) -> None:
    sealed = _raw(plaintext)
    with pytest.raises(PayloadError, match=message):
        payload.open_bytes(sealed, [A])
    with pytest.raises(PayloadError, match=message):
        payload.read_payload(io.BytesIO(sealed), [A], io.BytesIO())


def test_payload_errors_are_envelope_errors() -> None:
    """A caller that refuses every EnvelopeError also refuses a malformed payload."""
    assert issubclass(PayloadError, EnvelopeError)


def test_non_canonical_but_valid_metadata_is_read() -> None:
    """Readers parse ordinary JSON; only writers must be canonical (docs/protocol.md §4)."""
    meta_bytes = json.dumps({"name": "a.txt", "kind": "file"}, indent=2).encode()
    sealed = _raw(_block(meta_bytes) + b"content")
    assert payload.open_bytes(sealed, [A]) == ({"kind": "file", "name": "a.txt"}, b"content")


def test_tampered_payload_is_an_envelope_error() -> None:
    sealed = bytearray(payload.seal_bytes({"kind": "report"}, b"{}", RECIPIENTS))
    sealed[len(sealed) // 2] ^= 0x40
    with pytest.raises(EnvelopeError):
        payload.open_bytes(bytes(sealed), [A])

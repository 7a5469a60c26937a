"""Signed bundles (docs/protocol.md §8): round trips and every way the USB holder could meddle."""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import bundle, envelope, keytypes
from keys.bundle import BundleError, ItemSource
from keys.encoding import canonical_json
from keys.keyfiles import PublicKey, verify_public_key

SERVER = keytypes.signing_key(bytes([3]) * 32)
OTHER = keytypes.signing_key(bytes([4]) * 32)
SERVER_PUBLIC = verify_public_key(SERVER)
CONTEXT = b"wbs-manifest-v1\x00"
BODY = {"instance": "0" * 32, "sequence": 7, "created_day": "2025-01-15"}
ITEMS = {"e1": b"", "e2": bytes(range(256)) * 4, "e3": bytes(i % 241 for i in range(70_000))}


def trust_server(key: PublicKey) -> bool:
    return key == SERVER_PUBLIC


def write(
    directory: Path,
    items: dict[str, bytes],
    key: keytypes.SigningKey = SERVER,
    direction: bundle.Direction = "server-to-console",
    body: dict[str, Any] | None = None,
) -> Path:
    sources = []
    for name, data in items.items():
        path = directory / f"src-{name}"
        path.write_bytes(data)
        sources.append(ItemSource(name, path))
    out = directory / "out.bundle"
    bundle.write_bundle(out, direction, dict(body or BODY), sources, key)
    return out


def read(
    data: bytes,
    direction: bundle.Direction = "server-to-console",
    trusts: Callable[[PublicKey], bool] = trust_server,
) -> bundle.VerifiedBundle:
    """Verify bundle bytes from a fresh file into a fresh, empty staging directory."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "in.bundle"
        path.write_bytes(data)
        staging = Path(scratch) / "staging"
        staging.mkdir()
        verified = bundle.read_bundle(path, direction, trusts, staging)
        # Copy out before the scratch directory disappears.
        items = {name: item.read_bytes() for name, item in verified.items.items()}
    return bundle.VerifiedBundle(verified.manifest, verified.signer, items)  # type: ignore[arg-type]


def assemble(manifest_bytes: bytes, signature: bytes, items: bytes, version: int = 1) -> bytes:
    return (
        b"WBSBUNDL"
        + struct.pack(">BI", version, len(manifest_bytes))
        + manifest_bytes
        + (signature + items)
    )


def sign(manifest_bytes: bytes, key: keytypes.SigningKey = SERVER) -> bytes:
    return bytes(key.sign(CONTEXT + manifest_bytes).signature)


def manifest_for(
    contents: dict[str, bytes], key: keytypes.SigningKey = SERVER, **changes: Any
) -> dict[str, Any]:
    manifest = dict(
        BODY,
        format="wbs-bundle",
        version=1,
        direction="server-to-console",
        signer=verify_public_key(key).to_line(),
        items=[
            {"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
            for n, d in contents.items()
        ],
    )
    manifest.update(changes)
    return manifest


def signed(manifest: dict[str, Any], items: bytes, key: keytypes.SigningKey = SERVER) -> bytes:
    manifest_bytes = canonical_json(manifest)
    return assemble(manifest_bytes, sign(manifest_bytes, key), items)


@pytest.fixture(scope="module")
def good() -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        return write(Path(scratch), ITEMS).read_bytes()


def regions(data: bytes) -> dict[str, tuple[int, int]]:
    (manifest_len,) = struct.unpack(">I", data[9:13])
    manifest_end = 13 + manifest_len
    spans = {"prefix": (0, 13), "manifest": (13, manifest_end),
             "signature": (manifest_end, manifest_end + 64)}  # fmt: skip
    offset = manifest_end + 64
    for name, item in ITEMS.items():
        spans[name] = (offset, offset + len(item))
        offset += len(item)
    assert offset == len(data)
    return spans


# --- round trips ----------------------------------------------------------------------------


def test_round_trip(good: bytes) -> None:
    verified = read(good)
    assert verified.items == ITEMS  # type: ignore[comparison-overlap]
    assert verified.signer == SERVER_PUBLIC
    manifest = verified.manifest
    assert {k: manifest[k] for k in BODY} == BODY
    assert manifest["format"] == "wbs-bundle" and manifest["version"] == 1
    assert manifest["direction"] == "server-to-console"
    assert [entry["name"] for entry in manifest["items"]] == list(ITEMS)


def test_round_trip_with_a_multi_mib_item(tmp_path: Path) -> None:
    big = bytes(i % 239 for i in range(256)) * (12 * 1024 + 3)  # about 3 MiB
    items = {"empty": b"", "big.env": big, "small": b"x"}
    path = write(tmp_path, items, key=OTHER, direction="console-to-server")
    staging = tmp_path / "staging"
    staging.mkdir()
    verified = bundle.read_bundle(
        path, "console-to-server", lambda key: key == verify_public_key(OTHER), staging
    )
    assert {name: p.read_bytes() for name, p in verified.items.items()} == items
    assert all(p.parent == staging for p in verified.items.values())
    assert not list(tmp_path.glob("*.partial"))


def test_the_manifest_lists_what_follows_and_the_body_cannot_override_it(tmp_path: Path) -> None:
    body = dict(BODY, signer="wbs-verify-v1:forged", items=[], direction="x", format="y")
    data = write(tmp_path, {"a": b"abc"}, body=body).read_bytes()
    manifest = read(data).manifest
    assert manifest["signer"] == SERVER_PUBLIC.to_line()
    assert manifest["items"] == [
        {"name": "a", "size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}
    ]


@pytest.mark.parametrize(
    "names", [["a", "a"], ["../x"], [".hidden"], ["a/b"], [""], ["x" * 129], ["caf\u00e9"]]
)
def test_writer_refuses_unsafe_or_duplicate_names(tmp_path: Path, names: list[str]) -> None:
    path = tmp_path / "item"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="unique and safe"):
        bundle.write_bundle(
            tmp_path / "out",
            "server-to-console",
            BODY,
            [ItemSource(n, path) for n in names],
            SERVER,
        )


# --- damage ---------------------------------------------------------------------------------


def _flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def test_a_flipped_byte_in_every_region_is_refused(good: bytes) -> None:
    positions: set[int] = set(range(13))  # every prefix byte
    for start, end in regions(good).values():
        if end > start:
            step = max(1, (end - start) // 40)
            positions.update(range(start, end, step))
            positions.update({start, (start + end) // 2, end - 1})
    for position in sorted(positions):
        with pytest.raises(BundleError):
            read(_flip(good, position))


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_a_flipped_byte_anywhere_is_refused(good: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(good) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    changed = bytearray(good)
    changed[position] ^= mask
    with pytest.raises(BundleError):
        read(bytes(changed))


def test_truncation_at_many_points_is_refused(good: bytes) -> None:
    spans = regions(good)
    lengths = set(range(0, spans["signature"][1] + 3, 5))
    for start, end in spans.values():
        lengths.update({start - 1, start, start + 1, end - 1})
    lengths.add(len(good) - 1)
    for length in sorted(n for n in lengths if 0 <= n < len(good)):
        with pytest.raises(BundleError):
            read(good[:length])


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_truncation_is_refused(good: bytes, data: st.DataObject) -> None:
    length = data.draw(st.integers(min_value=0, max_value=len(good) - 1))
    with pytest.raises(BundleError):
        read(good[:length])


@pytest.mark.parametrize("extra", [b"\x00", b"more items", bytes(1 << 20)])
def test_appended_data_is_refused(good: bytes, extra: bytes) -> None:
    with pytest.raises(BundleError, match="data follows"):
        read(good + extra)


def test_items_removed_added_or_reordered_in_the_bytes_are_refused(good: bytes) -> None:
    spans = regions(good)
    head = good[: spans["signature"][1]]
    e1, e2, e3 = (good[slice(*spans[n])] for n in ("e1", "e2", "e3"))
    for body in (e1 + e3, e1 + e2, e1 + e3 + e2, e3 + e2, e1 + e2 + e2 + e3, e2 + e3[:-1]):
        with pytest.raises(BundleError):
            read(head + body)
    with pytest.raises(BundleError):
        read(head + e1 + e2 + e3 + e2)


def test_a_rewritten_manifest_needs_the_trusted_key(good: bytes) -> None:
    fewer = {"e1": ITEMS["e1"], "e2": ITEMS["e2"]}
    rest = ITEMS["e1"] + ITEMS["e2"]
    # The old signature kept: it does not cover the new manifest.
    old_signature = good[slice(*regions(good)["signature"])]
    with pytest.raises(BundleError, match="signature"):
        read(assemble(canonical_json(manifest_for(fewer)), old_signature, rest))
    # Re-signed with another key but still naming the server as signer.
    with pytest.raises(BundleError, match="signature"):
        read(signed(manifest_for(fewer), rest, key=OTHER))
    # Re-signed with another key, naming that key: verifies, but that key is not trusted.
    with pytest.raises(BundleError, match="untrusted"):
        read(signed(manifest_for(fewer, key=OTHER), rest, key=OTHER))
    # Reordered manifest entries re-signed by another key: likewise untrusted.
    reordered = manifest_for(ITEMS, key=OTHER)
    reordered["items"].reverse()
    with pytest.raises(BundleError, match="untrusted"):
        read(signed(reordered, ITEMS["e3"] + ITEMS["e2"] + ITEMS["e1"], key=OTHER))
    # Only the trusted key makes a bundle that verifies (the control).
    assert read(signed(manifest_for(fewer), rest)).items == fewer  # type: ignore[comparison-overlap]


def test_trust_is_asked_only_after_the_signature_verified(good: bytes, tmp_path: Path) -> None:
    asked: list[PublicKey] = []

    def record(key: PublicKey) -> bool:
        asked.append(key)
        return False

    foreign = write(tmp_path, ITEMS, key=OTHER).read_bytes()
    with pytest.raises(BundleError, match="untrusted") as caught:
        read(foreign, trusts=record)
    assert asked == [verify_public_key(OTHER)]
    assert verify_public_key(OTHER).fingerprint in str(caught.value)
    asked.clear()
    forged = _flip(good, regions(good)["signature"][0])
    with pytest.raises(BundleError, match="signature"):
        read(forged, trusts=record)
    assert asked == []


def test_wrong_direction_is_refused(good: bytes, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="expects"):
        read(good, direction="console-to-server")
    reply = write(tmp_path, {"r1": b"x"}, direction="console-to-server").read_bytes()
    with pytest.raises(BundleError, match="expects"):
        read(reply)
    assert read(reply, direction="console-to-server").items == {"r1": b"x"}  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"WBSBUND",
        b"WBSBUNDL",
        b"WBSBUNDL\x01\x00\x00",
        b"PK\x03\x04 a zip file",
        json.dumps({"format": "wbs-bundle"}).encode(),
        envelope.encrypt_bytes(
            b"hello", [keytypes.signing_key(bytes(32)).to_curve25519_private_key().public_key]
        ),
    ],
)
def test_non_bundle_files_are_refused(data: bytes) -> None:
    with pytest.raises(BundleError):
        read(data)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.bundle", tmp_path):
        with pytest.raises(BundleError, match="cannot read"):
            bundle.read_bundle(path, "server-to-console", trust_server, tmp_path)


def test_version_and_size_limits(good: bytes) -> None:
    changed = bytearray(good)
    changed[8] = 3
    with pytest.raises(BundleError, match="unsupported bundle version"):
        read(bytes(changed))
    changed[8] = 2  # co-signed: only a reader that takes two signatures (the server) reads it
    with pytest.raises(BundleError, match="co-signed"):
        read(bytes(changed))
    too_large = b"WBSBUNDL" + struct.pack(">BI", 1, bundle.MAX_MANIFEST_BYTES + 1)
    with pytest.raises(BundleError, match="too large"):
        read(too_large + bytes(100))


def test_non_canonical_manifests_are_refused() -> None:
    manifest = manifest_for(ITEMS)
    items = b"".join(ITEMS.values())
    canonical = canonical_json(manifest)
    variants = [
        json.dumps(manifest, indent=1, sort_keys=True).encode(),
        json.dumps(manifest, separators=(",", ":")).encode(),  # keys not sorted
        canonical.replace(b"server-to-console", b"server\\u002dto-console"),  # needless escape
        canonical.replace(b"{", b'{"created_day":"1999-01-01",', 1),  # duplicate key
        canonical + b" ",
        b" " + canonical,
        canonical.replace(b'"sequence":7', b'"sequence":NaN'),
        canonical.replace(b'"sequence":7', b'"sequence":Infinity'),
    ]
    assert variants[1] != canonical
    for manifest_bytes in variants:
        assert manifest_bytes != canonical
        with pytest.raises(BundleError):
            read(assemble(manifest_bytes, sign(manifest_bytes), items))
    assert read(assemble(canonical, sign(canonical), items)).items == ITEMS  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    "manifest_bytes",
    [b"[" * 100_000 + b"]" * 100_000, b"not json", b"[]", b'"text"', b"{}", b'{"signer":5}',
     b'{"signer":"wbs-recipient-v1:AAAA"}', b"\xff\xfe"],
)  # fmt: skip
def test_unreadable_manifests_are_refused(manifest_bytes: bytes) -> None:
    with pytest.raises(BundleError, match="unreadable"):
        read(assemble(manifest_bytes, bytes(64), b""))


@pytest.mark.parametrize(
    "change",
    [
        {"format": "wbs-envelope"},
        {"version": 2},
        {"items": {"e1": {}}},
        {"items": [{"name": "../e1", "size": 0, "sha256": hashlib.sha256(b"").hexdigest()}]},
        {"items": [{"name": "e1", "size": -1, "sha256": hashlib.sha256(b"").hexdigest()}]},
        {"items": [{"name": "e1", "size": True, "sha256": hashlib.sha256(b"").hexdigest()}]},
        {"items": [{"name": "e1", "size": 0, "sha256": hashlib.sha256(b"").hexdigest().upper()}]},
        {"items": [{"name": "e1", "size": 0}]},
        {"items": [{"name": "e1", "size": 0, "sha256": hashlib.sha256(b"").hexdigest()}] * 2},
        {"items": [{"name": "e1", "size": 0, "sha256": hashlib.sha256(b"x").hexdigest()}]},
        {"items": [{"name": "e1", "size": 1, "sha256": hashlib.sha256(b"").hexdigest()}]},
    ],
)
def test_signed_but_malformed_manifests_are_refused(change: dict[str, Any]) -> None:
    """Even the trusted key cannot make the reader accept a malformed item list."""
    with pytest.raises(BundleError):
        read(signed(manifest_for({"e1": b""}, **change), b""))


def test_item_bytes_must_match_their_hash() -> None:
    manifest = manifest_for({"e1": b"abc"})
    with pytest.raises(BundleError, match="does not match its hash"):
        read(signed(manifest, b"abd"))


def test_staging_directory_must_be_fresh(good: bytes, tmp_path: Path) -> None:
    """Items are created exclusively: a planted file is never silently taken as an item."""
    path = tmp_path / "in.bundle"
    path.write_bytes(good)
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "e2").write_bytes(b"planted")
    with pytest.raises(FileExistsError):
        bundle.read_bundle(path, "server-to-console", trust_server, staging)


def test_known_signers_refuse_an_unsigned_file_before_parsing(tmp_path: Path) -> None:
    # A manifest that is not even JSON: with known signers it is refused on the signature alone.
    trusted = keytypes.new_signing_key()
    raw = bundle.MAGIC + bytes([bundle.VERSION]) + (5).to_bytes(4, "big") + b"{{{{{" + bytes(64)
    path = tmp_path / "junk.bundle"
    path.write_bytes(raw)
    staging = tmp_path / "stage"
    staging.mkdir()
    with pytest.raises(bundle.BundleError, match="not signed by a trusted key"):
        bundle.read_bundle(path, "console-to-server", lambda key: True, staging,
                           known_signers=[verify_public_key(trusted)])

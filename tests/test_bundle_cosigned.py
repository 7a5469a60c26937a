"""Co-signed bundles (docs/protocol.md §8.1 version 2, §9.4): the console's signing-key change is
one bundle signed by the key the server trusts and by the new key it announces."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from keys import bundle, keytypes, records
from keys.bundle import BundleError, ItemSource, UntrustedSigner
from keys.encoding import canonical_json
from keys.keyfiles import PublicKey, recipient_public_key, verify_public_key

OLD = keytypes.signing_key(bytes([3]) * 32)
NEW = keytypes.signing_key(bytes([4]) * 32)
STRANGER = keytypes.signing_key(bytes([5]) * 32)
OLD_PUBLIC, NEW_PUBLIC = verify_public_key(OLD), verify_public_key(NEW)
CONTEXT = b"wbs-manifest-v1\x00"
BODY: dict[str, Any] = {
    "instance": "0" * 32,
    "sequence": 3,
    "created_day": "2025-03-01",
    "key_change": {"new_console_key": NEW_PUBLIC.to_line()},
}


def write(tmp: Path, key: keytypes.SigningKey = OLD,
          co_signer: keytypes.SigningKey | None = NEW) -> Path:
    item = tmp / "item"
    item.write_bytes(b"envelope bytes")
    out = tmp / "out.bundle"
    bundle.write_bundle(out, "console-to-server", dict(BODY), [ItemSource("r1", item)], key,
                        co_signer=co_signer)
    return out


def read(path: Path, trusted: tuple[PublicKey, ...] = (OLD_PUBLIC,), max_signers: int = 2,
         known: bool = True) -> bundle.VerifiedBundle:
    staging = path.parent / f"staging-{len(list(path.parent.iterdir()))}"
    staging.mkdir()
    return bundle.read_bundle(path, "console-to-server", lambda key: key in trusted, staging,
                              known_signers=trusted if known else (), max_signers=max_signers)


def parts(path: Path) -> tuple[bytes, bytes, bytes]:
    """(manifest bytes, count byte and signatures, items) of a version-2 bundle."""
    data = path.read_bytes()
    assert data[8] == 2
    length = struct.unpack(">I", data[9:13])[0]
    manifest = data[13:13 + length]
    count = data[13 + length]
    end = 14 + length + 64 * count
    return manifest, data[13 + length:end], data[end:]


def assemble(manifest: bytes, signatures: bytes, items: bytes) -> bytes:
    return b"WBSBUNDL" + struct.pack(">BI", 2, len(manifest)) + manifest + signatures + items


def test_round_trip_names_both_signers(tmp_path: Path) -> None:
    path = write(tmp_path)
    manifest = json.loads(parts(path)[0])
    assert manifest["version"] == 2 and "signer" not in manifest
    assert manifest["signers"] == [OLD_PUBLIC.to_line(), NEW_PUBLIC.to_line()]
    verified = read(path)
    assert verified.signers == (OLD_PUBLIC, NEW_PUBLIC) and verified.signer == OLD_PUBLIC
    assert verified.items["r1"].read_bytes() == b"envelope bytes"
    # Either signer being trusted is enough: each signed the whole manifest.
    assert read(path, trusted=(NEW_PUBLIC,)).signers == (OLD_PUBLIC, NEW_PUBLIC)
    assert bundle.signed_by(path, [verify_public_key(STRANGER), NEW_PUBLIC]) == [NEW_PUBLIC]


def test_without_a_co_signer_the_bundle_stays_version_1(tmp_path: Path) -> None:
    path = write(tmp_path, co_signer=None)
    assert path.read_bytes()[8] == 1
    assert read(path).signers == (OLD_PUBLIC,)


def test_a_reader_of_single_signatures_refuses_version_2(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="co-signed"):
        read(write(tmp_path), max_signers=1)


def test_nobody_trusted_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, STRANGER, NEW)
    with pytest.raises(UntrustedSigner):
        read(path)  # checked before the manifest is parsed
    with pytest.raises(UntrustedSigner, match="untrusted key"):
        read(path, known=False)


def test_a_removed_or_reordered_signature_is_refused(tmp_path: Path) -> None:
    manifest, signatures, items = parts(write(tmp_path))
    first, second = signatures[1:65], signatures[65:]
    cases = {
        "one signature": bytes([1]) + first,
        "swapped": bytes([2]) + second + first,
        "twice the same": bytes([2]) + first + first,
        "none": bytes([0]),
        "three": bytes([3]) + first + second + second,
    }
    for name, block in cases.items():
        path = tmp_path / f"{name}.bundle"
        path.write_bytes(assemble(manifest, block, items))
        with pytest.raises(BundleError):
            read(path)
        with pytest.raises(BundleError):
            read(path, known=False)


def test_the_signers_must_match_the_signatures(tmp_path: Path) -> None:
    manifest, signatures, items = parts(write(tmp_path))

    def signed(value: dict[str, Any], keys: list[keytypes.SigningKey]) -> Path:
        text = canonical_json(value)
        block = bytes([len(keys)]) + b"".join(
            bytes(key.sign(CONTEXT + text).signature) for key in keys)
        path = tmp_path / f"case-{len(list(tmp_path.iterdir()))}.bundle"
        path.write_bytes(assemble(text, block, items))
        return path

    good = json.loads(manifest)
    duplicated = dict(good, signers=[OLD_PUBLIC.to_line(), OLD_PUBLIC.to_line()])
    with pytest.raises(BundleError, match="unreadable"):
        read(signed(duplicated, [OLD, OLD]))
    both_fields = dict(good, signer=OLD_PUBLIC.to_line())
    with pytest.raises(BundleError, match="unreadable"):
        read(signed(both_fields, [OLD, NEW]))
    one_listed = dict(good, signers=[OLD_PUBLIC.to_line()])
    with pytest.raises(BundleError, match="unreadable"):
        read(signed(one_listed, [OLD, NEW]))
    version_1_inside = dict(good, version=1)  # a v2 layout whose signed manifest says version 1
    with pytest.raises(BundleError, match="version"):
        read(signed(version_1_inside, [OLD, NEW]))
    stranger_signs_for_new = signed(good, [OLD, STRANGER])
    with pytest.raises(BundleError, match="does not verify"):
        read(stranger_signs_for_new)


def test_writer_refuses_the_same_key_twice(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two different keys"):
        write(tmp_path, OLD, OLD)


def _console_body(change: Any) -> dict[str, Any]:
    return {"instance": "0" * 32, "sequence": 1, "created_day": "2025-03-01",
            "key_change": change}


def test_key_change_records_are_checked() -> None:
    first = recipient_public_key(keytypes.recipient_identity(bytes([1]) * 32)).to_line()
    second = recipient_public_key(keytypes.recipient_identity(bytes([2]) * 32)).to_line()
    verify = NEW_PUBLIC.to_line()
    for good in ({"new_console_key": verify}, {"new_recipient": second},
                 {"new_recipient": second, "retired_recipient": first, "new_console_key": verify}):
        records.check_console_body(_console_body(good), set())
    bad: list[Any] = [
        {}, [], "x", {"new_console_key": second}, {"new_recipient": verify},
        {"retired_recipient": first}, {"new_recipient": first, "retired_recipient": first},
        {"new_recipient": second.lower()}, {"new_recipient": second[:-1] + "A"},
        {"new_console_key": verify, "other": verify}, {"new_console_key": 7},
    ]
    for change in bad:
        with pytest.raises(records.RecordError):
            records.check_console_body(_console_body(change), set())

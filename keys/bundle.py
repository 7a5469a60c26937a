"""Signed bundles: the only thing that crosses between the server and the air-gapped console.

Layout (see docs/protocol.md, "Bundle"):

    magic          8  b"WBSBUNDL"
    version        1  0x01 (one signer) or 0x02 (co-signed)
    manifest_len   4  u32be, at most MAX_MANIFEST_BYTES
    manifest       canonical JSON (signed bytes, exactly as written)
    count          1  version 2 only: the number of signatures, 1 to MAX_SIGNERS
    signature  64 each  Ed25519(signer, "wbs-manifest-v1\\0" || manifest), in the manifest's order
    items             each manifest item's bytes, in manifest order, back to back; nothing after

The manifest names its direction, its signer's verify key (version 2: `signers`, the list of keys
that signed it), a sequence number and, for each item, its name, size and SHA-256. Version 2 exists
for one purpose: the console's signing-key change, where one bundle is signed by the key the server
trusts and by the new key it announces (the new key's signature proves the console holds it).

A reader verifies every signature before it reads any item, checks that a signer is one it trusts,
streams every item into a staging directory while hashing it, and only
returns when every item matched and the file ended exactly where the manifest said. Whoever holds
the USB stick can therefore not alter, drop, add, reorder or truncate anything unnoticed; replay is
refused by the receivers, which remember the sequence numbers they applied.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import nacl.signing

from keys.encoding import canonical_json
from keys.errors import CryptoFormatError, KeyFileError, SignatureError
from keys.keyfiles import PublicKey, parse_public_key, verify_public_key
from keys.signing import SIGNATURE_BYTES, sign_manifest, verify_manifest_bytes

MAGIC = b"WBSBUNDL"
VERSION = 1
COSIGNED_VERSION = 2
MAX_SIGNERS = 2
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
COPY_BLOCK = 1024 * 1024
ITEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
Direction = Literal["server-to-console", "console-to-server"]
DIRECTIONS: tuple[Direction, ...] = ("server-to-console", "console-to-server")
_PREFIX = struct.Struct(">8sBI")


class BundleError(CryptoFormatError):
    """The file is not a valid bundle for this receiver; nothing from it may be applied."""


class UntrustedSigner(BundleError):
    """The bundle is not signed by a key this receiver trusts."""


@dataclass(frozen=True)
class ItemSource:
    """An item to put in a bundle: its name in the manifest and the file that holds its bytes."""

    name: str
    path: Path


@dataclass(frozen=True)
class VerifiedBundle:
    manifest: dict[str, Any]
    signer: PublicKey  # the first signer (the only one of a version-1 bundle)
    items: dict[str, Path]  # item name -> verified copy in the staging directory
    signers: tuple[PublicKey, ...] = ()  # every key whose signature verified, in manifest order

    def __post_init__(self) -> None:
        if not self.signers:
            object.__setattr__(self, "signers", (self.signer,))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, as manifests and acknowledgements list it."""
    return _hash_file(path)[1]


def _open_quietly(path: Path) -> BinaryIO:
    """Open for reading without updating the file's access time where the OS allows it (the
    owner may): a seized server's atimes must not tell when an export ran."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)
    return os.fdopen(fd, "rb")


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with _open_quietly(path) as handle:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def write_bundle(
    out_path: Path,
    direction: Direction,
    body: dict[str, Any],
    items: Sequence[ItemSource],
    signing_key: nacl.signing.SigningKey,
    co_signer: nacl.signing.SigningKey | None = None,
) -> dict[str, Any]:
    """Write a signed bundle atomically (temp file, fsync, rename); returns the manifest.

    `body` holds the sender's records (sequence number, sources, reports...). The item list is
    computed here from the files, so the hashes always describe the bytes that follow. With a
    `co_signer` the bundle is version 2, signed by both keys (in that order); without, version 1.
    """
    names = [item.name for item in items]
    if len(set(names)) != len(names) or not all(ITEM_NAME.match(name) for name in names):
        raise ValueError("item names must be unique and safe")
    listed = []
    for item in items:
        size, sha256 = _hash_file(item.path)
        listed.append({"name": item.name, "size": size, "sha256": sha256})
    keys = [signing_key] if co_signer is None else [signing_key, co_signer]
    lines = [verify_public_key(key).to_line() for key in keys]
    if len(set(lines)) != len(lines):
        raise ValueError("a bundle is co-signed by two different keys")
    version = VERSION if co_signer is None else COSIGNED_VERSION
    manifest = dict(body)
    manifest.pop("signer", None)
    manifest.pop("signers", None)
    manifest.update(format="wbs-bundle", version=version, direction=direction, items=listed)
    if version == VERSION:
        manifest["signer"] = lines[0]
    else:
        manifest["signers"] = lines
    manifest_bytes = canonical_json(manifest)
    signatures = b"".join(sign_manifest(manifest, key) for key in keys)
    partial = out_path.with_name(out_path.name + ".partial")
    with partial.open("wb") as out:
        out.write(_PREFIX.pack(MAGIC, version, len(manifest_bytes)))
        out.write(manifest_bytes)
        if version == COSIGNED_VERSION:
            out.write(bytes([len(keys)]))
        out.write(signatures)
        for item, entry in zip(items, listed, strict=True):
            _copy_exact(item.path, out, entry)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, out_path)
    return manifest


def _copy_exact(path: Path, out: BinaryIO, entry: dict[str, Any]) -> None:
    """Copy an item, refusing it if it changed since it was hashed (size or content)."""
    digest = hashlib.sha256()
    size = 0
    with _open_quietly(path) as handle:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
            size += len(block)
            out.write(block)
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise BundleError(f"item {entry['name']} changed while the bundle was written")


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise BundleError("bundle is truncated")
    return data


def _check_manifest(manifest: Any, direction: Direction, version: int) -> list[dict[str, Any]]:
    if not isinstance(manifest, dict) or manifest.get("format") != "wbs-bundle":
        raise BundleError("not a bundle manifest")
    if manifest.get("version") != version:
        raise BundleError("unsupported bundle version")
    if manifest.get("direction") != direction:
        raise BundleError(
            f"bundle goes {manifest.get('direction')!r}, this side expects {direction!r}"
        )
    items = manifest.get("items")
    if not isinstance(items, list):
        raise BundleError("manifest has no item list")
    seen: set[str] = set()
    for entry in items:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and ITEM_NAME.match(entry["name"])
            and type(entry.get("size")) is int
            and entry["size"] >= 0
            and isinstance(entry.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
        ):
            raise BundleError("malformed item entry in manifest")
        if entry["name"] in seen:
            raise BundleError("duplicate item in manifest")
        seen.add(entry["name"])
    return items


def read_bundle(
    path: Path,
    direction: Direction,
    trusts_signer: Callable[[PublicKey], bool],
    staging_dir: Path,
    known_signers: Sequence[PublicKey] = (),
    max_signers: int = 1,
) -> VerifiedBundle:
    """Verify a bundle whole and stage its items; raise BundleError (or a subclass) otherwise.

    `trusts_signer` decides whether a signer is acceptable (pinned, or configured); it is asked
    only after every signature has verified, and one trusted signer is enough: what it signed is
    the whole manifest. A reader that already knows the keys it trusts passes them as
    `known_signers`: one signature must then verify under one of them before a single byte of the
    manifest is parsed, so an unsigned file costs no JSON parsing. `max_signers` is how many
    signatures this reader takes (1: version-1 bundles only; the server takes the console's
    co-signed key change, 2).
    """
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from exc
    with source:
        version, manifest_bytes, signatures = _read_signed_head(source, max_signers)
        if known_signers and not any(
            _signed_by_any(manifest_bytes, signature, known_signers) for signature in signatures
        ):
            raise UntrustedSigner("bundle is not signed by a trusted key")
        try:
            manifest = json.loads(manifest_bytes)
            signers = _signer_keys(manifest, version, len(signatures))
        except (ValueError, KeyError, TypeError, KeyFileError, RecursionError) as exc:
            raise BundleError("manifest is unreadable") from exc
        for signer, signature in zip(signers, signatures, strict=True):
            try:
                verify_manifest_bytes(manifest_bytes, signature, signer.as_verify_key())
            except SignatureError as exc:
                raise BundleError("bundle signature does not verify") from exc
        try:
            canonical = canonical_json(manifest)  # NaN / Infinity parse but cannot be re-encoded
        except (ValueError, RecursionError) as exc:
            raise BundleError("manifest is not in canonical form") from exc
        if canonical != manifest_bytes:
            raise BundleError("manifest is not in canonical form")
        if not any(trusts_signer(signer) for signer in signers):
            names = ", ".join(signer.fingerprint for signer in signers)
            raise UntrustedSigner(f"bundle is signed by an untrusted key ({names})")
        items = _check_manifest(manifest, direction, version)
        staged = _stage_items(source, items, staging_dir)
        if source.read(1):
            raise BundleError("data follows the last item")
    return VerifiedBundle(manifest=manifest, signer=signers[0], items=staged, signers=signers)


def _read_signed_head(source: BinaryIO, max_signers: int) -> tuple[int, bytes, list[bytes]]:
    """(version, manifest bytes, signatures): everything up to the first item, unparsed."""
    prefix = source.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        raise BundleError("not a bundle file")
    _magic, version, manifest_len = _PREFIX.unpack(prefix)
    if version not in (VERSION, COSIGNED_VERSION):
        raise BundleError(f"unsupported bundle version {version}")
    if version == COSIGNED_VERSION and max_signers < 2:
        # Only the server reads co-signed bundles: nothing else ever announces a key change.
        raise BundleError("a co-signed bundle (version 2) is not accepted here")
    if manifest_len > MAX_MANIFEST_BYTES:
        raise BundleError("manifest too large")
    manifest_bytes = _read_exactly(source, manifest_len)
    count = 1
    if version == COSIGNED_VERSION:
        count = _read_exactly(source, 1)[0]
        if not 1 <= count <= min(max_signers, MAX_SIGNERS):
            raise BundleError(f"a bundle signed by {count} keys is not accepted here")
    raw = _read_exactly(source, SIGNATURE_BYTES * count)
    signatures = [raw[i : i + SIGNATURE_BYTES] for i in range(0, len(raw), SIGNATURE_BYTES)]
    return version, manifest_bytes, signatures


def _signer_keys(manifest: Any, version: int, count: int) -> tuple[PublicKey, ...]:
    """The signers a manifest names: `signer` (version 1) or `signers` (version 2), one per
    signature, all different."""
    if version == VERSION:
        if "signers" in manifest:
            raise ValueError("a version-1 manifest names one signer")
        return (parse_public_key(str(manifest["signer"]), "verify"),)
    if "signer" in manifest:
        raise ValueError("a version-2 manifest names its signers in `signers`")
    lines = manifest["signers"]
    if not isinstance(lines, list) or len(lines) != count or len(set(map(str, lines))) != count:
        raise ValueError("the signers do not match the signatures")
    return tuple(parse_public_key(str(line), "verify") for line in lines)


def _signed_by_any(manifest_bytes: bytes, signature: bytes, keys: Sequence[PublicKey]) -> bool:
    for key in keys:
        try:
            verify_manifest_bytes(manifest_bytes, signature, key.as_verify_key())
        except SignatureError:
            continue
        return True
    return False


def signed_by(path: Path, keys: Sequence[PublicKey]) -> list[PublicKey]:
    """Which of `keys` signed the bundle at `path` (nothing parsed, nothing staged): to tell a
    bundle signed by a retired key from one signed by a stranger. [] if unreadable."""
    try:
        with path.open("rb") as source:
            _version, manifest_bytes, signatures = _read_signed_head(source, MAX_SIGNERS)
    except (OSError, BundleError):
        return []
    return [
        key
        for key in keys
        if any(_signed_by_any(manifest_bytes, signature, [key]) for signature in signatures)
    ]


def _stage_items(
    source: BinaryIO, items: list[dict[str, Any]], staging_dir: Path
) -> dict[str, Path]:
    staged: dict[str, Path] = {}
    for entry in items:
        target = staging_dir / entry["name"]
        digest = hashlib.sha256()
        remaining = entry["size"]
        with target.open("xb") as out:
            while remaining:
                block = source.read(min(COPY_BLOCK, remaining))
                if not block:
                    raise BundleError("bundle is truncated")
                digest.update(block)
                out.write(block)
                remaining -= len(block)
        if digest.hexdigest() != entry["sha256"]:
            raise BundleError(f"item {entry['name']} does not match its hash")
        staged[entry["name"]] = target
    return staged

"""Key files: one-line public keys with a type prefix and checksum, passphrase-protected secrets.

Public key line (see docs/protocol.md, "Key files"):

    <type>:<BASE32(key32 || checksum4)>      type: wbs-recipient-v1 | wbs-verify-v1

The checksum is BLAKE2b-32 over the type and key, so a typo, a truncated copy or a recipient key
pasted where a verify key belongs is refused with a one-line error instead of silently encrypting to
the wrong key. The fingerprint is 80 bits of another BLAKE2b, grouped for reading aloud.

Private-key files are JSON: the secret is sealed with XChaCha20-Poly1305 under a key derived from
the passphrase with
argon2id; every header field (type, KDF parameters, public key) is the AEAD's
associated data, so none can be swapped without the open failing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.utils
from argon2.low_level import Type, hash_secret_raw

from keys.encoding import b32decode, b32encode, b64decode, b64encode, canonical_json
from keys.errors import KeyFileError, WrongPassphrase
from keys.keytypes import (
    RecipientIdentity,
    RecipientKey,
    SigningKey,
    VerifyKey,
    recipient_identity,
    signing_key,
)

PublicKind = Literal["recipient", "verify"]
SecretKind = Literal["x25519-recipient", "ed25519-signing"]

PUBLIC_PREFIX: dict[PublicKind, str] = {
    "recipient": "wbs-recipient-v1",
    "verify": "wbs-verify-v1",
}
KEY_BYTES = 32
CHECKSUM_BYTES = 4
FINGERPRINT_BYTES = 10
SECRET_FILE_FORMAT = "wbs-secret-key"  # noqa: S105 (a format name, not a secret)
SECRET_FILE_VERSION = 1
# Files on disk are small; anything larger is not ours and is refused before parsing.
MAX_KEY_FILE_BYTES = 16 * 1024


@dataclass(frozen=True)
class KdfParams:
    """argon2id cost for passphrase-protected files; stored in each file, so it can rise later."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 1

    def check_bounds(self) -> None:
        # A crafted key file must not make us allocate gigabytes or spin for minutes.
        if not (1 <= self.time_cost <= 16):
            raise KeyFileError("argon2id time cost out of range")
        if not (8 * 1024 <= self.memory_cost_kib <= 1024 * 1024):
            raise KeyFileError("argon2id memory cost out of range")
        if not (1 <= self.parallelism <= 8):
            raise KeyFileError("argon2id parallelism out of range")


DEFAULT_KDF = KdfParams()


def _blake2b(data: bytes, size: int, person: bytes) -> bytes:
    return nacl.hash.blake2b(
        data, digest_size=size, person=person, encoder=nacl.encoding.RawEncoder
    )


@dataclass(frozen=True)
class PublicKey:
    """A public key with its kind; the kind is part of its checksum and fingerprint."""

    kind: PublicKind
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEY_BYTES:
            raise KeyFileError("public key must be 32 bytes")

    @property
    def prefix(self) -> str:
        return PUBLIC_PREFIX[self.kind]

    def to_line(self) -> str:
        checksum = _blake2b(self.prefix.encode() + self.raw, CHECKSUM_BYTES, b"wbs-key-cksum")
        return f"{self.prefix}:{b32encode(self.raw + checksum)}"

    @property
    def fingerprint(self) -> str:
        """80 bits as four groups of four base32 characters, e.g. `K3QF 7TZA P2LM XW4C`."""
        digest = _blake2b(self.prefix.encode() + self.raw, FINGERPRINT_BYTES, b"wbs-fingerprint")
        text = b32encode(digest)
        return " ".join(text[i : i + 4] for i in range(0, len(text), 4))

    def as_recipient(self) -> RecipientKey:
        if self.kind != "recipient":
            raise KeyFileError("not a recipient key")
        return RecipientKey(self.raw)

    def as_verify_key(self) -> VerifyKey:
        if self.kind != "verify":
            raise KeyFileError("not a verify key")
        return VerifyKey(self.raw)


def recipient_public_key(key: RecipientKey | RecipientIdentity) -> PublicKey:
    public = key.public_key if isinstance(key, RecipientIdentity) else key
    return PublicKey("recipient", bytes(public))


def verify_public_key(key: SigningKey | VerifyKey) -> PublicKey:
    verify = key.verify_key if isinstance(key, SigningKey) else key
    return PublicKey("verify", bytes(verify))


def parse_public_key(line: str, expected: PublicKind) -> PublicKey:
    text = line.strip()
    prefix, sep, body = text.partition(":")
    if not sep:
        raise KeyFileError("not a public key line (no type prefix)")
    kinds = {v: k for k, v in PUBLIC_PREFIX.items()}
    if prefix not in kinds:
        raise KeyFileError(f"unknown key type {prefix[:40]!r}")
    if kinds[prefix] != expected:
        raise KeyFileError(f"wrong key type: expected {PUBLIC_PREFIX[expected]}, found {prefix}")
    try:
        decoded = b32decode(body)
    except ValueError as exc:
        raise KeyFileError("key is not valid base32") from exc
    if len(decoded) != KEY_BYTES + CHECKSUM_BYTES:
        raise KeyFileError("key has the wrong length")
    key = PublicKey(expected, decoded[:KEY_BYTES])
    if key.to_line() != f"{prefix}:{body.upper()}":
        raise KeyFileError("key checksum does not match (damaged or mistyped)")
    return key


def _read_small_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: too large to be a key file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{path}: not a text key file") from exc


def read_public_key(path: Path, expected: PublicKind) -> PublicKey:
    """Load a one-line public-key file; errors name the file and say what is wrong."""
    text = _read_small_text(path)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise KeyFileError(f"{path}: a public-key file holds exactly one line")
    try:
        return parse_public_key(lines[0], expected)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create a file that must not exist yet: keys are never silently overwritten."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise KeyFileError(f"{path}: already exists, refusing to overwrite a key") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_public_key(path: Path, key: PublicKey) -> None:
    _write_new_file(path, (key.to_line() + "\n").encode("ascii"), 0o644)


def derive_passphrase_key(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    params.check_bounds()
    if len(salt) != 16:  # argon2 itself raises HashingError below 8 bytes; we always write 16
        raise KeyFileError("argon2id salt must be 16 bytes")
    return hash_secret_raw(
        secret=passphrase,
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _secret_header(kind: SecretKind, public_line: str, kdf: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": SECRET_FILE_FORMAT,
        "version": SECRET_FILE_VERSION,
        "type": kind,
        "public": public_line,
        "kdf": kdf,
    }


def public_line_for_secret(kind: SecretKind, secret: bytes) -> str:
    if kind == "x25519-recipient":
        return recipient_public_key(recipient_identity(secret)).to_line()
    return verify_public_key(signing_key(secret)).to_line()


def encode_secret_key(
    kind: SecretKind, secret: bytes, passphrase: bytes | None, params: KdfParams = DEFAULT_KDF
) -> bytes:
    """Serialise a secret key; `passphrase=None` writes it unprotected (server signing key only)."""
    public_line = public_line_for_secret(kind, secret)
    if passphrase is None:
        document = _secret_header(kind, public_line, {"name": "none"})
        document["secret"] = b64encode(secret)
        return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"
    salt = nacl.utils.random(16)
    kdf = {
        "name": "argon2id",
        "salt": b64encode(salt),
        "time_cost": params.time_cost,
        "memory_cost_kib": params.memory_cost_kib,
        "parallelism": params.parallelism,
    }
    header = _secret_header(kind, public_line, kdf)
    box_key = derive_passphrase_key(passphrase, salt, params)
    nonce = nacl.utils.random(24)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret, canonical_json(header), nonce, box_key
    )
    document = dict(header, nonce=b64encode(nonce), ciphertext=b64encode(ciphertext))
    return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"


def write_secret_key(
    path: Path,
    kind: SecretKind,
    secret: bytes,
    passphrase: bytes | None,
    params: KdfParams = DEFAULT_KDF,
) -> None:
    _write_new_file(path, encode_secret_key(kind, secret, passphrase, params), 0o600)


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise KeyFileError(f"field {name!r} missing or of the wrong type")
    return value


def decode_secret_key(data: str, expected: SecretKind, passphrase: bytes | None) -> bytes:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise KeyFileError("not a secret-key file (not JSON)") from exc
    if not isinstance(document, dict) or document.get("format") != SECRET_FILE_FORMAT:
        raise KeyFileError("not a secret-key file")
    if document.get("version") != SECRET_FILE_VERSION:
        raise KeyFileError("unsupported secret-key file version")
    if document.get("type") != expected:
        raise KeyFileError(f"wrong key type: expected {expected}, found {document.get('type')!r}")
    public_line = _field(document, "public", str)
    kdf = _field(document, "kdf", dict)
    header = _secret_header(expected, public_line, kdf)
    try:
        if kdf.get("name") == "none":
            if passphrase is not None:
                # A caller expecting a protected key must not silently accept an unprotected one
                # that someone with write access swapped in.
                raise KeyFileError("key file is not protected by a passphrase")
            secret = b64decode(_field(document, "secret", str))
        elif kdf.get("name") == "argon2id":
            if passphrase is None:
                raise WrongPassphrase("this key file needs a passphrase")
            params = KdfParams(
                time_cost=_field(kdf, "time_cost", int),
                memory_cost_kib=_field(kdf, "memory_cost_kib", int),
                parallelism=_field(kdf, "parallelism", int),
            )
            salt = b64decode(_field(kdf, "salt", str))
            box_key = derive_passphrase_key(passphrase, salt, params)
            secret = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                b64decode(_field(document, "ciphertext", str)),
                canonical_json(header),
                b64decode(_field(document, "nonce", str)),
                box_key,
            )
        else:
            raise KeyFileError("unknown key-derivation function")
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase("wrong passphrase, or the key file was altered") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError("damaged secret-key file") from exc
    if len(secret) != KEY_BYTES or public_line_for_secret(expected, secret) != public_line:
        raise KeyFileError("secret key does not match its public key")
    return bytes(secret)


def read_secret_key(path: Path, expected: SecretKind, passphrase: bytes | None) -> bytes:
    text = _read_small_text(path)
    try:
        return decode_secret_key(text, expected, passphrase)
    except WrongPassphrase as exc:
        raise WrongPassphrase(f"{path}: {exc}") from None
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def read_recipient_identity(path: Path, passphrase: bytes | None) -> RecipientIdentity:
    return recipient_identity(read_secret_key(path, "x25519-recipient", passphrase))


def read_signing_key(path: Path, passphrase: bytes | None) -> SigningKey:
    return signing_key(read_secret_key(path, "ed25519-signing", passphrase))

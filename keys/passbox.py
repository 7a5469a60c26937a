"""A passphrase box: a small secret sealed under a passphrase (argon2id + XChaCha20-Poly1305).

Used by the console for its vault (recipient key, signing key, database key in one box, so one
unlock costs one argon2id run) and for per-investigator wrappings of the vault key. The document is
JSON; its header (purpose, KDF parameters) is the AEAD's associated data, so a box made for one
purpose cannot be opened as another and its cost parameters cannot be lowered by an attacker.
"""

from __future__ import annotations

import json
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.utils

from keys.encoding import b64decode, b64encode, canonical_json
from keys.errors import KeyFileError, WrongPassphrase
from keys.keyfiles import DEFAULT_KDF, KdfParams, derive_passphrase_key

FORMAT = "wbs-passbox"
VERSION = 1
MAX_SECRET_BYTES = 64 * 1024
NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
TAG_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16


def seal(secret: bytes, passphrase: bytes, purpose: str, params: KdfParams = DEFAULT_KDF) -> bytes:
    if len(secret) > MAX_SECRET_BYTES:
        raise ValueError("secret too large for a passphrase box")
    salt = nacl.utils.random(16)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "purpose": purpose,
        "kdf": {
            "name": "argon2id",
            "salt": b64encode(salt),
            "time_cost": params.time_cost,
            "memory_cost_kib": params.memory_cost_kib,
            "parallelism": params.parallelism,
        },
    }
    nonce = nacl.utils.random(24)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret, canonical_json(header), nonce, derive_passphrase_key(passphrase, salt, params)
    )
    document = dict(header, nonce=b64encode(nonce), ciphertext=b64encode(ciphertext))
    return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"


def open_box(document: bytes, passphrase: bytes, purpose: str) -> bytes:
    """Return the secret; WrongPassphrase for a wrong passphrase, KeyFileError for a bad box."""
    try:
        box: Any = json.loads(document)
        kdf = box["kdf"]
        params = KdfParams(
            time_cost=int(kdf["time_cost"]),
            memory_cost_kib=int(kdf["memory_cost_kib"]),
            parallelism=int(kdf["parallelism"]),
        )
        header = {
            "format": box["format"],
            "version": box["version"],
            "purpose": box["purpose"],
            "kdf": kdf,
        }
        salt = b64decode(kdf["salt"])
        nonce = b64decode(box["nonce"])
        ciphertext = b64decode(box["ciphertext"])
        # libsodium's own checks raise ValueError/TypeError, not a format error: a nonce of the
        # wrong length or a ciphertext shorter than its tag is a damaged box.
        if len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
            raise ValueError("nonce or ciphertext of the wrong length")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
        raise KeyFileError("damaged passphrase box") from exc
    if header["format"] != FORMAT or header["version"] != VERSION or kdf.get("name") != "argon2id":
        raise KeyFileError("not a passphrase box of a known version")
    if header["purpose"] != purpose:
        raise KeyFileError(f"passphrase box is for {header['purpose']!r}, not {purpose!r}")
    box_key = derive_passphrase_key(passphrase, salt, params)
    try:
        return bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext, canonical_json(header), nonce, box_key
            )
        )
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase("wrong passphrase, or the box was altered") from exc

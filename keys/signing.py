"""Ed25519 signatures over canonical manifest bytes (used by the bundles)."""

from __future__ import annotations

from typing import Any

import nacl.exceptions
import nacl.signing

from keys.encoding import canonical_json
from keys.errors import SignatureError

SIGNATURE_BYTES = 64
# Domain separation: a signature made for one purpose cannot be replayed as another.
_CONTEXT = b"wbs-manifest-v1\x00"


def sign_manifest(manifest: dict[str, Any], signing_key: nacl.signing.SigningKey) -> bytes:
    return bytes(signing_key.sign(_CONTEXT + canonical_json(manifest)).signature)


def verify_manifest_bytes(
    manifest_bytes: bytes, signature: bytes, verify_key: nacl.signing.VerifyKey
) -> None:
    """Raise SignatureError unless `signature` is verify_key's over exactly these bytes."""
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError("signature has the wrong length")
    try:
        verify_key.verify(_CONTEXT + manifest_bytes, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureError("signature does not verify") from exc

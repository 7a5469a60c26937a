"""Tokens that let the source site keep no server-side state for visitors who are not logged in.

Two kinds, both under a key that is random per server process and never leaves its memory (a
restart invalidates every token):

- a *bound token* (`bind`/`is_bound`): a keyed MAC of a purpose and a random value the visitor's
  browser holds in a SameSite=Strict cookie. A form that carries it proves it was rendered for
  this browser by this server: the anti-forgery token of the anonymous forms (log in, create a
  codename), without a session to remember it.
- a *sealed value* (`seal`/`unseal`): XChaCha20-Poly1305 of a small document with an expiry,
  the purpose as associated data. It carries the codename shown by /generate to /create inside
  the page itself, so that no flood of page views can evict it from server memory before the
  reporter continues, and nothing about it is stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_ABYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError

_BIND_PERSON = b"wbs-form-bind-v1"
_SEAL_CONTEXT = b"wbs-sealed-v1:"
MAX_SEALED_CHARS = 4096


def new_process_key() -> bytes:
    return secrets.token_bytes(32)


def new_nonce() -> str:
    """A random value for a visitor's cookie: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def bind(key: bytes, purpose: str, nonce: str) -> str:
    """The token that ties a form for `purpose` to the browser holding `nonce`."""
    mac = hashlib.blake2b(
        f"{purpose}\n{nonce}".encode(), key=key, digest_size=32, person=_BIND_PERSON
    )
    return mac.hexdigest()


def is_bound(key: bytes, purpose: str, nonce: str, token: str) -> bool:
    if not nonce or len(nonce) > 128 or len(token) != 64:
        return False
    return hmac.compare_digest(bind(key, purpose, nonce), token)


def seal(key: bytes, purpose: str, document: dict[str, Any], lifetime_seconds: int) -> str:
    """`document` (JSON-serialisable) sealed for `purpose` until now + lifetime."""
    body = json.dumps(
        {"d": document, "exp": int(time.time()) + lifetime_seconds}, separators=(",", ":")
    ).encode()
    nonce = secrets.token_bytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
        body, _SEAL_CONTEXT + purpose.encode(), nonce, key
    )
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(key: bytes, purpose: str, token: str, now: float | None = None) -> dict[str, Any] | None:
    """The sealed document if `token` is authentic, for `purpose`, and unexpired; else None."""
    if not token or len(token) > MAX_SEALED_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
    if len(raw) < nonce_size + crypto_aead_xchacha20poly1305_ietf_ABYTES:
        return None
    try:
        body = crypto_aead_xchacha20poly1305_ietf_decrypt(
            raw[nonce_size:], _SEAL_CONTEXT + purpose.encode(), raw[:nonce_size], key
        )
        opened = json.loads(body)
    except (CryptoError, ValueError):
        return None
    if not isinstance(opened, dict) or not isinstance(opened.get("d"), dict):
        return None
    expires = opened.get("exp")
    if not isinstance(expires, int) or expires < (now if now is not None else time.time()):
        return None
    document: dict[str, Any] = opened["d"]
    return document

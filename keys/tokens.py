"""Short-lived tokens authenticated with a per-process key (BLAKE2b keyed MAC).

Used for upload tickets: a form that uploads carries a token naming the source and an expiry, so
a slow upload (waitress receives the whole body before the app runs) is still accepted after the
in-memory session idled out. The key is random per process: a restart invalidates every token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

_PERSON = b"wbs-ticket-v1"


def new_process_key() -> bytes:
    return secrets.token_bytes(32)


def _mac(key: bytes, message: str) -> str:
    return hashlib.blake2b(
        message.encode("utf-8"), key=key, digest_size=32, person=_PERSON
    ).hexdigest()


def issue(key: bytes, subject: str, lifetime_seconds: int, now: float | None = None) -> str:
    """A token `subject.expiry.mac`; `subject` must not contain a dot."""
    if "." in subject:
        raise ValueError("subject must not contain '.'")
    expires = int((now if now is not None else time.time()) + lifetime_seconds)
    message = f"{subject}.{expires}"
    return f"{message}.{_mac(key, message)}"


def check(key: bytes, token: str, now: float | None = None) -> str | None:
    """The token's subject if it is authentic and unexpired, else None."""
    if len(token) > 256:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    subject, expires, mac = parts
    if not hmac.compare_digest(_mac(key, f"{subject}.{expires}"), mac):
        return None
    if int(expires) < (now if now is not None else time.time()):
        return None
    return subject

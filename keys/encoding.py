"""Small, dependency-free encodings shared by the formats: canonical JSON and base32 / base64."""

import base64
import binascii
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that is signed or MACed.

    Sorted keys, no insignificant whitespace, ASCII only: two implementations that agree on the
    value agree on the bytes, so a signature never depends on how a dict happened to be ordered.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict base64: rejects stray characters instead of silently skipping them."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def b32decode(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("invalid base32") from exc

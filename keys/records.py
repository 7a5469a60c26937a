"""The shared vocabulary of the protocol: register numbers, statuses, categories, bundle records.

Both the server and the console build and check bundle bodies through this module, so the two
sides cannot drift apart. Every record is checked field by field on import: a signed bundle from a
buggy or compromised peer still cannot make the receiver store a malformed row.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from keys.errors import KeyFileError
from keys.keyfiles import PublicKind, parse_public_key

# Register numbers: "WBS-" + 8 random characters of Crockford base32 without Z (31 symbols, 39.6
# bits, not sequential: they reveal nothing about how many reports exist) + 1 check character,
# grouped for reading aloud: WBS-7K3M-Q2XP-M. The check is a weighted sum mod 31, which catches any
# single wrong character and any swap of two neighbours only because there are exactly 31 symbols
# (with a 32nd, Z = 31 = 0 mod 31, so 0 <-> Z went unnoticed).
REGNO_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXY"
REGNO_PATTERN = re.compile(r"^WBS-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]\Z")
_REGNO_FOLD = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def _check_char(body: str) -> str:
    total = sum((index + 1) * REGNO_ALPHABET.index(char) for index, char in enumerate(body))
    return REGNO_ALPHABET[total % 31]


def new_regno() -> str:
    body = "".join(secrets.choice(REGNO_ALPHABET) for _ in range(8))
    return f"WBS-{body[:4]}-{body[4:]}-{_check_char(body)}"


def compact_regno(text: str) -> str:
    """What a person typed of a register number, whole or in part, without the "WBS" prefix,
    spaces and dashes, misread O/I/L/U folded: what searches compare."""
    compact = re.sub(r"[\s-]+", "", text.upper()).translate(_REGNO_FOLD)
    return compact[3:] if compact.startswith("WBS") else compact


def normalize_regno(text: str) -> str | None:
    """Accept what a person types (any case, spaces, misread O/I/L); None when invalid."""
    if len(text) > 40:
        return None
    compact = compact_regno(text)
    if len(compact) != 9 or any(char not in REGNO_ALPHABET for char in compact):
        return None
    body, check = compact[:8], compact[8]
    if _check_char(body) != check:
        return None
    return f"WBS-{body[:4]}-{body[4:]}-{check}"


# Statuses, report categories and the reporter's relation to the ministry: the protocol's machine
# names. What people read for them is each interface's (its message catalog): dropbox/labels.py
# and journalist_console/labels.py.
STATUSES = (
    "received",
    "verifying",
    "needs_info",
    "investigating",
    "forwarded",
    "closed",
    "rejected",
)
FINAL_STATUSES = frozenset({"closed", "rejected", "forwarded"})
CATEGORIES = (
    "corruption",
    "bribery",
    "extortion",
    "embezzlement",
    "procurement_fraud",
    "conflict_of_interest",
    "abuse_of_authority",
    "code_of_conduct",
    "poor_service",
    "other",
)
RELATIONS = ("employee", "public")

# Entry kinds carried from the server to the console, and response kinds carried back.
ENTRY_KINDS = frozenset({"report", "followup", "file"})
RESPONSE_KINDS = frozenset({"reply", "status"})
_HEX_ID = re.compile(r"^[0-9a-f]{32}\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
_DESIGNATION = re.compile(r"^[a-z]{2,16}( [a-z]{2,16}){1,2}\Z")


class RecordError(ValueError):
    """A bundle record is malformed; the whole bundle is refused."""


def new_id() -> str:
    """A random 128-bit identifier (sources, entries, responses): never derived from content."""
    return secrets.token_hex(16)


def today() -> str:
    """Days only: the threat model allows the server to know the day, never the time."""
    return dt.datetime.now(dt.UTC).date().isoformat()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RecordError(message)


def _is_day(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_HEX_ID.match(value))


def _is_member(value: Any, allowed: set[str] | frozenset[str]) -> bool:
    # A list or dict from JSON is unhashable: test the type first so it is a RecordError too.
    return isinstance(value, str) and value in allowed


def _is_regno(value: Any) -> bool:
    return isinstance(value, str) and normalize_regno(value) == value


def _list_of_dicts(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    _require(isinstance(value, list), f"{name} must be a list")
    _require(all(isinstance(entry, dict) for entry in value), f"{name} entries must be objects")
    return list(value)


def _check_header(body: dict[str, Any]) -> None:
    _require(_is_id(body.get("instance")), "bad instance id")
    sequence = body.get("sequence")
    _require(type(sequence) is int and sequence >= 1, "bad sequence number")
    _require(_is_day(body.get("created_day")), "bad created_day")


def _check_audit_head(body: dict[str, Any], name: str) -> None:
    """An optional head of the console's audit log: {count, hash}, the number of entries and
    the SHA-256 of the last one (docs/protocol.md, 9.3)."""
    if name not in body:
        return
    head = body[name]
    _require(isinstance(head, dict) and set(head) == {"count", "hash"}, f"bad {name}")
    count = head["count"]
    _require(type(count) is int and count >= 1, f"bad {name} count")
    _require(isinstance(head["hash"], str) and bool(_SHA256.match(head["hash"])), f"bad {name}")


# What a console bundle may announce (docs/protocol.md, 9.2): a new inspectorate recipient key
# (with the one it replaces) and a new console verify key, which must also sign that bundle.
KEY_CHANGE_FIELDS: dict[str, PublicKind] = {
    "new_recipient": "recipient",
    "retired_recipient": "recipient",
    "new_console_key": "verify",
}


def _is_key_line(value: Any, kind: PublicKind) -> bool:
    if not isinstance(value, str) or len(value) > 200:
        return False
    try:
        return parse_public_key(value, kind).to_line() == value
    except KeyFileError:
        return False


def _check_key_change(body: dict[str, Any]) -> None:
    if "key_change" not in body:
        return
    change = body["key_change"]
    _require(
        isinstance(change, dict) and bool(change) and set(change) <= set(KEY_CHANGE_FIELDS),
        "bad key_change",
    )
    for name, kind in KEY_CHANGE_FIELDS.items():
        if name in change:
            _require(_is_key_line(change[name], kind), f"bad key_change {name}")
    if "retired_recipient" in change:
        _require("new_recipient" in change, "key_change retires a recipient key without a new one")
        _require(change["retired_recipient"] != change["new_recipient"], "bad key_change")


def check_server_body(body: dict[str, Any], item_names: set[str]) -> None:
    """Validate a server-to-console bundle body (see docs/protocol.md, "Records")."""
    _check_header(body)
    _check_audit_head(body, "audit_anchor")
    sources = _list_of_dicts(body, "sources")
    for source in sources:
        _require(_is_id(source.get("source_id")), "bad source_id")
        key = source.get("public_key")
        _require(isinstance(key, str) and key.startswith("wbs-recipient-v1:"), "bad source key")
        designation = source.get("designation")
        _require(
            isinstance(designation, str) and bool(_DESIGNATION.match(designation)),
            "bad designation",
        )
        _require(_is_day(source.get("created_day")), "bad source created_day")
    source_ids = {source["source_id"] for source in sources}
    for report in _list_of_dicts(body, "reports"):
        _require(_is_regno(report.get("regno")), "bad regno")
        _require(_is_member(report.get("source_id"), source_ids), "report names an unlisted source")
        _require(_is_day(report.get("received_day")), "bad received_day")
    regnos = {report["regno"] for report in body.get("reports", [])}
    entry_ids: set[str] = set()
    for entry in _list_of_dicts(body, "entries"):
        _require(_is_id(entry.get("entry_id")), "bad entry_id")
        _require(_is_member(entry.get("kind"), ENTRY_KINDS), "bad entry kind")
        _require(_is_member(entry.get("regno"), regnos), "entry names an unlisted report")
        _require(_is_day(entry.get("day")), "bad entry day")
        _require(_is_member(entry.get("item"), item_names), "entry names a missing item")
        parent = entry.get("parent")
        _require(parent is None or _is_id(parent), "bad entry parent")
        entry_ids.add(entry["entry_id"])
    _require(len(entry_ids) == len(body.get("entries", [])), "duplicate entry ids")


def check_console_body(body: dict[str, Any], item_names: set[str]) -> None:
    """Validate a console-to-server bundle body (see docs/protocol.md, "Records")."""
    _check_header(body)
    _check_audit_head(body, "audit_head")
    _check_key_change(body)
    for response in _list_of_dicts(body, "responses"):
        _require(_is_id(response.get("response_id")), "bad response_id")
        _require(_is_member(response.get("kind"), RESPONSE_KINDS), "bad response kind")
        _require(_is_regno(response.get("regno")), "bad regno")
        _require(_is_day(response.get("day")), "bad response day")
        _require(_is_member(response.get("item"), item_names), "response names a missing item")
        closes = response.get("closes_report", False)
        _require(isinstance(closes, bool), "bad closes_report")
    acks = body.get("acks", [])
    _require(isinstance(acks, list), "bad acks")
    for ack in acks:
        # An acknowledgement names the entry and the SHA-256 of the envelope the console holds:
        # the server deletes its copy only if the hash matches the bytes it stored.
        _require(isinstance(ack, dict) and set(ack) == {"entry_id", "sha256"}, "bad ack")
        _require(_is_id(ack["entry_id"]), "bad ack entry_id")
        _require(
            isinstance(ack["sha256"], str) and bool(_SHA256.match(ack["sha256"])), "bad ack sha256"
        )

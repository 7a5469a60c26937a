"""The documents inside envelopes (docs/protocol.md §4): a report, a follow-up, a reply, a status.

    report    {"v":1,"category","relation","what","who","where","when","how","message",
               "pseudonym","contact","language"}                       the server writes it
    followup  {"v":1,"message"}                                        the server writes it
    reply     {"v":1,"message","author"}                               the console writes it
    status    {"v":1,"status","note"}                                  the console writes it

Every member but `v` is a string ("" when empty). `to_bytes()` writes the canonical JSON the
protocol requires, so the server, the console and the tests' fake server produce the same bytes
for the same document. `from_bytes()` reads any JSON text of the right shape: documents that the
server wrote before it wrote canonically (sorted keys, spaces, raw UTF-8) open as before. Reading
is liberal in form only: a member that is absent or null reads as "", but another version, a
member of another type, or (in a report) an unknown category or relation refuse the document
with DocumentError.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from keys.encoding import canonical_json
from keys.records import CATEGORIES, RELATIONS

VERSION = 1


class DocumentError(ValueError):
    """The content of an envelope is not a document of the expected kind and version."""


def _members(content: bytes, names: tuple[str, ...]) -> dict[str, str]:
    try:
        document: Any = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
        raise DocumentError("not a JSON document") from exc
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise DocumentError(f"not a version-{VERSION} document")
    members = {}
    for name in names:
        value = document.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise DocumentError(f"{name} is not text")
        members[name] = value
    return members


@dataclass(frozen=True)
class _Document:
    """What the four documents share: the member list is the dataclass's fields."""

    KIND: ClassVar[str]  # the payload metadata's kind (keys.payload)

    def members(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    def to_bytes(self) -> bytes:
        return canonical_json({"v": VERSION, **self.members()})

    @classmethod
    def from_bytes(cls, content: bytes) -> Self:
        names = tuple(field.name for field in dataclasses.fields(cls))
        return cls(**_members(content, names))


@dataclass(frozen=True)
class ReportDocument(_Document):
    """A report as the reporter filled in the form; `language` is the page's, "id" or "en"."""

    KIND: ClassVar[str] = "report"
    TEXT: ClassVar[tuple[str, ...]] = (
        "what",
        "who",
        "where",
        "when",
        "how",
        "message",
        "pseudonym",
        "contact",
    )

    category: str
    relation: str = ""
    what: str = ""
    who: str = ""
    where: str = ""
    when: str = ""
    how: str = ""
    message: str = ""
    pseudonym: str = ""
    contact: str = ""
    language: str = ""

    @classmethod
    def from_bytes(cls, content: bytes) -> Self:
        document = super().from_bytes(content)
        if document.category not in CATEGORIES:
            raise DocumentError("the report has an unknown category")
        if document.relation and document.relation not in RELATIONS:
            raise DocumentError("the report has an unknown relation")
        return document


@dataclass(frozen=True)
class FollowupDocument(_Document):
    """More information a reporter added to their report."""

    KIND: ClassVar[str] = "followup"

    message: str = ""


@dataclass(frozen=True)
class ReplyDocument(_Document):
    """The inspectorate's reply; `author` is the display name the reporter sees."""

    KIND: ClassVar[str] = "reply"

    message: str = ""
    author: str = ""


@dataclass(frozen=True)
class StatusDocument(_Document):
    """A status change; `note` is the optional note to the reporter ("" when none)."""

    KIND: ClassVar[str] = "status"

    status: str = ""
    note: str = ""

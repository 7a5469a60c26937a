"""Reading a retention archive back: `archive show FILE` and `archive extract FILE --out DIR`.

Administrators only (retention is theirs), and never one the archive records as recused from its
report; each opening is audited as `archive_opened` (the file name only). An archive is sealed,
not signed: anyone holding an inspectorate public key could make a file that opens as one, so
its content is untrusted input here: only the members the format allows (archive_format.py),
every name reduced to a safe base name, control and bidi characters escaped in what is printed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journalist_console import accounts, audit, files, render, schema
from journalist_console.archive_format import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    REPORT_MEMBER,
    ArchiveError,
    read_members,
)
from journalist_console.envelopes import Discard, identities
from journalist_console.errors import Recused
from journalist_console.session import Session
from journalist_console.texts import Text

MAX_REPORT_JSON_BYTES = 64 * 1024 * 1024


@dataclass
class Opened:
    """What `archive show` / `archive extract` found in an archive."""

    document: dict[str, Any]
    folder: Path | None = None
    written: list[Path] = field(default_factory=list)


class _Collect:
    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self._limit = limit

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self.data += data
        if len(self.data) > self._limit:
            raise ArchiveError("the archive's report.json is too large")
        return len(data)


def open_archive(session: Session, path: Path, out_dir: Path | None = None) -> Opened:
    """Decrypt an archive with this console's key; with `out_dir`, extract it into a new folder.

    Administrators only (retention is theirs), and never one who was recused from the report.
    The folder `<out_dir>/<register number>` (or "... (2)") gets report.json, report.txt, the
    files under safe names and any envelope that could not be decrypted; it is removed again if
    the archive turns out to be damaged.
    """
    accounts.require_admin(session.conn, session.investigator, "open retention archives")
    if out_dir is not None and not out_dir.is_dir():
        raise ArchiveError(
            Text("The destination folder does not exist."),
            f"{out_dir} is not an existing directory",
        )
    result = Opened(document={})
    report_json = _Collect(MAX_REPORT_JSON_BYTES)
    handles: list[Any] = []
    by_member: dict[str, dict[str, Any]] = {}

    def open_member(name: str, size: int) -> Any:
        if name == REPORT_MEMBER:
            if result.document:
                raise ArchiveError("the archive holds two report.json members")
            return report_json
        if not result.document:
            raise ArchiveError("the archive does not start with report.json")
        if result.folder is None:
            return Discard()
        item = by_member.get(name)
        if name.startswith("files/") and item is not None:
            fallback = f"file-{name.removeprefix('files/')[:8]}"
            target, fd = files.create_exclusive(
                result.folder, files.safe_name(item.get("name"), fallback)
            )
        else:
            target, fd = files.create_exclusive(result.folder, name.rsplit("/", 1)[-1])
        result.written.append(target)
        handle = os.fdopen(fd, "wb")
        handles.append(handle)
        return handle

    def close_member(name: str) -> None:
        if name == REPORT_MEMBER:
            result.document = _parse_document(bytes(report_json.data))
            _refuse_if_recused(session, result.document)
            for item in [*result.document["entries"], *result.document["responses"]]:
                if isinstance(item, dict) and isinstance(item.get("member"), str):
                    by_member[item["member"]] = item
            if out_dir is not None:
                result.folder = _new_folder(out_dir, str(result.document["regno"]))
                _write_new(result.folder / "report.json", bytes(report_json.data))
                _write_new(result.folder / "report.txt", render_text(result.document).encode())
            return
        while handles:
            handle = handles.pop()
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()

    try:
        read_members(path, identities(session), open_member, close_member)
        if not result.document:
            raise ArchiveError(f"{path} holds no report")
    except BaseException as exc:
        for handle in handles:
            handle.close()
        if result.folder is not None:
            shutil.rmtree(result.folder, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ArchiveError(f"cannot extract the archive: {exc.strerror or exc}") from None
        raise
    with schema.transaction(session.conn):
        audit.append(
            session.conn,
            session.investigator,
            "archive_opened",
            None,
            {"file": path.name, "extracted": out_dir is not None},
        )
    return result


def _parse_document(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ArchiveError("the archive's report.json is not JSON") from None
    if (
        not isinstance(document, dict)
        or document.get("format") != ARCHIVE_FORMAT
        or document.get("version") != ARCHIVE_VERSION
        or not isinstance(document.get("regno"), str)
        or not isinstance(document.get("entries"), list)
        or not isinstance(document.get("responses"), list)
        or not isinstance(document.get("notes"), list)
        or not isinstance(document.get("recusals"), list)
    ):
        raise ArchiveError("the archive's report.json is not a report archive of a known version")
    return document


def _refuse_if_recused(session: Session, document: dict[str, Any]) -> None:
    for recusal in document["recusals"]:
        if (
            isinstance(recusal, dict)
            and recusal.get("investigator") == session.investigator
            and recusal.get("lifted_day") is None
        ):
            regno = str(document["regno"])
            raise Recused.from_report(
                regno,
                str(recusal.get("day")),
                f"you ({session.investigator}) were recused from {regno} when it was archived: "
                "ask another administrator to open its archive",
            )


def _new_folder(out_dir: Path, regno: str) -> Path:
    base = files.safe_name(regno, "report")
    for candidate in [base] + [f"{base} ({n})" for n in range(2, 1000)]:
        folder = out_dir / candidate
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return folder
    raise ArchiveError(f"too many folders named like {base!r} in {out_dir}")


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def render_text(document: dict[str, Any]) -> str:
    """The archived report as text (report.txt, `archive show`); reporter text made safe."""

    def line(text: Any) -> str:
        return render.safe(str(text if text is not None else "-"), keep_newlines=False)

    def block(text: Any) -> str:
        return "\n".join("    " + part for part in render.safe(str(text or "")).split("\n"))

    out = [
        f"Report {line(document.get('regno'))} (archived {line(document.get('archived_day'))} "
        f"by {line(document.get('archived_by'))})",
        f"  category: {line(render.category_label(_text_or_none(document.get('category'))))}",
        f"  reporter: {line(document.get('designation'))}",
        f"  received: {line(document.get('received_day'))}   "
        f"closed: {line(document.get('closed_day'))}",
        f"  final status: {line(render.status_label(str(document.get('status'))))} "
        f"({line(document.get('status_day'))})",
    ]
    assignment = document.get("assignment")
    if isinstance(assignment, dict):
        out.append(f"  assigned to: {line(assignment.get('assignee'))}")
    fields = document.get("fields")
    if isinstance(fields, dict):
        out.append("")
        for name in ("relation", "what", "who", "where", "when", "how", "message", "pseudonym"):
            if fields.get(name):
                out.append(f"{name}:")
                out.append(block(fields[name]))
        if fields.get("contact"):
            out.append("contact:")
            out.append(block(fields["contact"]))
    elif document.get("problem"):
        out.append(f"  ({line(document.get('problem'))})")
    out.append("")
    out.append("Conversation and status history:")
    events: list[tuple[str, int, str]] = []
    for order, item in enumerate(document["entries"]):
        if not isinstance(item, dict):
            continue
        day = str(item.get("day"))
        if item.get("kind") == "followup":
            text = item.get("message") if "message" in item else f"({item.get('problem')})"
            events.append((day, order, f"{day} reporter (follow-up):\n{block(text)}"))
        elif item.get("kind") == "file":
            events.append(
                (day, order, f"{day} file {line(item.get('name'))} ({line(item.get('size'))} B)")
            )
    base = len(document["entries"])
    for order, item in enumerate(document["responses"]):
        if not isinstance(item, dict):
            continue
        day = str(item.get("day"))
        who = f"{line(item.get('author'))} / {line(item.get('actor'))}"
        if item.get("kind") == "reply":
            text = item.get("message") if "message" in item else f"({item.get('problem')})"
            events.append((day, base + order, f"{day} reply by {who}:\n{block(text)}"))
        else:
            note = f": {line(item.get('note'))}" if item.get("note") else ""
            status = line(render.status_label(str(item.get("status"))))
            events.append((day, base + order, f"{day} status {status} by {who}{note}"))
    out.extend(text for _day, _order, text in sorted(events))
    if document["notes"]:
        out.append("")
        out.append("Internal notes:")
        for note in document["notes"]:
            if isinstance(note, dict):
                out.append(f"{line(note.get('day'))} {line(note.get('author'))}:")
                out.append(block(note.get("text")))
    if document["recusals"]:
        out.append("")
        out.append("Recusals:")
        for recusal in document["recusals"]:
            if isinstance(recusal, dict):
                lifted = ""
                if recusal.get("lifted_day"):
                    lifted = (
                        f", lifted {line(recusal.get('lifted_day'))} "
                        f"by {line(recusal.get('lifted_by'))}"
                    )
                out.append(
                    f"{line(recusal.get('investigator'))} since {line(recusal.get('day'))}"
                    f"{lifted}: {line(recusal.get('reason') or '-')}"
                )
    return "\n".join(out) + "\n"

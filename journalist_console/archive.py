"""Retention archives: one finished report, with everything the console held of it, in one envelope.

When the retention policy is "archive" (journalist_console/retention.py), each report is written
into its own archive file before it is removed from the console:

    <folder>/wbs-archive-<random id>.wbsarchive
        a keys.payload envelope, metadata {"kind": "wbs-console-archive", "v": 1}, sealed to every
        inspectorate recipient key (this console's own and the `recipient` keys), whose content is
        a tar stream (GNU format, regular files only, modification time 0):

        report.json                       the register number, days, status, cached category, the
                                          decrypted report fields, every follow-up, reply and
                                          status change (with who wrote it), internal notes, the
                                          assignment and the recusals (with their reasons)
        files/<entry id>                  each attachment, decrypted (its name is in report.json)
        envelopes/entries/<id>.env        an envelope this console could not decrypt, as held
        envelopes/responses/<id>.env

The file name says nothing about the report (no register number): whoever sees the archive folder
learns how many reports were archived and their sizes, nothing else. The tar stream is written
straight into the envelope writer (files are decrypted chunk by chunk into it, never to disk in
the clear), so memory stays constant whatever the size. The archive is written to
`.<name>.partial` (O_EXCL, fsync), given its final name with link(2), which never replaces an
existing file (on FAT/exFAT, which have no hard links, a rename to the random name that does not
exist yet), and then decrypted once more and compared member by member (name, size, SHA-256)
with what was written: only a verified archive lets retention delete the report.

`archive show FILE` and `archive extract FILE --out DIR` read an archive back with this console's
key (administrators only, and not one recused from the report); any holder of an inspectorate
private key can also open it with keys.payload and tar.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journalist_console import accounts, audit, dates, files, render, schema
from journalist_console.console import Console
from journalist_console.errors import ConsoleError, Recused, Unreadable
from keys import payload
from keys.disk import fsync_dir, wipe_file
from keys.documents import (
    DocumentError,
    FollowupDocument,
    ReplyDocument,
    ReportDocument,
    StatusDocument,
)
from keys.errors import EnvelopeError
from keys.keytypes import RecipientIdentity, RecipientKey
from keys.records import new_id

ARCHIVE_KIND = "wbs-console-archive"
ARCHIVE_VERSION = 1
ARCHIVE_FORMAT = "wbs-console-report-archive"
ARCHIVE_PREFIX = "wbs-archive-"
ARCHIVE_SUFFIX = ".wbsarchive"
PARTIAL_SUFFIX = ".partial"
REPORT_MEMBER = "report.json"
MAX_REPORT_JSON_BYTES = 64 * 1024 * 1024
BLOCK = 512
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


class ArchiveError(ConsoleError):
    """An archive cannot be written, or the file given is not a readable archive of this console."""


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    write: Callable[[Any], None]  # streams the member's bytes into a sink


@dataclass(frozen=True)
class Written:
    path: Path
    size: int


# -- writing ------------------------------------------------------------------------------------


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict")


class _Counting:
    """A sink that counts and hashes what passes through it on its way into the envelope."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self._target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _copy_file(path: Path) -> Callable[[Any], None]:
    def write(sink: Any) -> None:
        with path.open("rb") as source:
            while chunk := source.read(64 * 1024):
                sink.write(chunk)

    return write


def _report_members(console: Console, regno: str) -> list[_Member]:
    """report.json and the member list of one report (bypassing recusal: nobody is shown it)."""
    conn = console.conn
    report = conn.execute(
        "SELECT r.*, s.designation FROM reports r JOIN sources s USING (source_id) "
        "WHERE r.regno = ?",
        (regno,),
    ).fetchone()
    if report is None:
        raise ArchiveError(f"no report {regno} to archive")
    members: list[_Member] = []
    raw: list[_Member] = []
    fields: dict[str, str] | None = None
    problem: str | None = "the report itself never arrived"
    entries_doc: list[dict[str, Any]] = []
    for row in conn.execute(
        "SELECT * FROM entries WHERE regno = ? ORDER BY import_seq, rowid", (regno,)
    ).fetchall():
        entry_id = row["entry_id"]
        path = console.home.entry_path(entry_id)
        item: dict[str, Any] = {
            "entry_id": entry_id,
            "kind": row["kind"],
            "day": row["day"],
            "parent": row["parent"],
        }
        if row["kind"] == "file":
            item |= {"name": row["name"], "media_type": row["media_type"], "size": row["size"]}
            if row["readable"] and row["size"] is not None:
                item["member"] = f"files/{entry_id}"
                members.append(
                    _Member(item["member"], int(row["size"]), _file_writer(console, entry_id))
                )
            else:
                item["member"] = f"envelopes/entries/{entry_id}.env"
                raw.append(_raw_member(item["member"], path))
            entries_doc.append(item)
            continue
        try:
            _meta, content = console.open_document(path)
            if row["kind"] == "report":
                fields = ReportDocument.from_bytes(content).members()
                problem = None
                item["fields"] = fields
            else:
                item["message"] = FollowupDocument.from_bytes(content).message
        except (Unreadable, DocumentError) as exc:
            item["problem"] = str(exc) if isinstance(exc, Unreadable) else "malformed content"
            if row["kind"] == "report":
                problem = f"the report is unreadable: {item['problem']}"
            item["member"] = f"envelopes/entries/{entry_id}.env"
            raw.append(_raw_member(item["member"], path))
        entries_doc.append(item)
    responses_doc: list[dict[str, Any]] = []
    for row in conn.execute(
        "SELECT * FROM responses WHERE regno = ? ORDER BY position", (regno,)
    ).fetchall():
        response_id = row["response_id"]
        item = {
            "response_id": response_id,
            "kind": row["kind"],
            "day": row["day"],
            "status": row["status"],
            "closes_report": bool(row["closes_report"]),
            "author": row["author"],
            "actor": row["actor"],
            "export_seq": row["export_seq"],
        }
        path = console.home.response_path(response_id)
        try:
            _meta, content = console.open_document(path)
            if row["kind"] == "reply":
                item["message"] = ReplyDocument.from_bytes(content).message
            else:
                item["note"] = StatusDocument.from_bytes(content).note
        except (Unreadable, DocumentError) as exc:
            item["problem"] = str(exc) if isinstance(exc, Unreadable) else "malformed content"
            item["member"] = f"envelopes/responses/{response_id}.env"
            raw.append(_raw_member(item["member"], path))
        responses_doc.append(item)
    notes = [
        {"day": row["day"], "author": row["author"], "text": row["text"]}
        for row in conn.execute("SELECT * FROM notes WHERE regno = ? ORDER BY note_id", (regno,))
    ]
    assigned = accounts.assignment(conn, regno)
    recusals = [
        {
            "investigator": row["investigator"],
            "day": row["day"],
            "reason": row["reason"],
            "lifted_day": row["lifted_day"],
            "lifted_by": row["lifted_by"],
        }
        for row in conn.execute(
            "SELECT * FROM recusals WHERE regno = ? ORDER BY recusal_id", (regno,)
        )
    ]
    document = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "archived_day": dates.today().isoformat(),
        "archived_by": console.user,
        "regno": regno,
        "designation": report["designation"],
        "received_day": report["received_day"],
        "category": report["category"],
        "status": report["status"],
        "status_day": report["status_day"],
        "acknowledged_day": report["acknowledged_day"],
        "first_response_day": report["first_response_day"],
        "closed_day": report["closed_day"],
        "fields": fields,
        "problem": problem,
        "entries": entries_doc,
        "responses": responses_doc,
        "notes": notes,
        "assignment": (
            {"assignee": assigned[0], "day": assigned[1], "by": assigned[2]} if assigned else None
        ),
        "recusals": recusals,
    }
    encoded = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")

    def write_json(sink: Any) -> None:
        sink.write(encoded)

    return [_Member(REPORT_MEMBER, len(encoded), write_json), *members, *raw]


def _file_writer(console: Console, entry_id: str) -> Callable[[Any], None]:
    def write(sink: Any) -> None:
        console.decrypt_file(entry_id, sink)

    return write


def _raw_member(name: str, path: Path) -> _Member:
    try:
        size = path.stat().st_size
    except OSError:
        missing = f"an envelope of the report is missing from the store ({name})"
        raise ArchiveError(missing) from None
    return _Member(name, size, _copy_file(path))


def write_archive(
    console: Console, regno: str, folder: Path, recipients: list[RecipientKey]
) -> Written:
    """Write and verify one report's archive in `folder`; ArchiveError leaves nothing behind."""
    members = _report_members(console, regno)
    name = f"{ARCHIVE_PREFIX}{new_id()}{ARCHIVE_SUFFIX}"
    final = folder / name
    partial = folder / f".{name}{PARTIAL_SUFFIX}"
    expected: list[tuple[str, int, str]] = []
    linked = False
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            with payload.PayloadWriter(
                handle, recipients, {"kind": ARCHIVE_KIND, "v": ARCHIVE_VERSION}
            ) as writer:
                for member in members:
                    writer.write(_header(member.name, member.size))
                    counting = _Counting(writer)
                    member.write(counting)
                    if counting.size != member.size:
                        raise ArchiveError(
                            f"{member.name} of {regno} is {counting.size} bytes, "
                            f"not {member.size} as recorded"
                        )
                    writer.write(b"\0" * (-member.size % BLOCK))
                    expected.append((member.name, member.size, counting.digest.hexdigest()))
                writer.write(b"\0" * (2 * BLOCK))
            handle.flush()
            os.fsync(handle.fileno())
        _publish(partial, final)
        linked = True
        fsync_dir(folder)
        found = verify_archive(final, console.identities())
        if found != expected:
            raise ArchiveError(f"the archive of {regno} does not read back as written")
        return Written(final, final.stat().st_size)
    except BaseException as exc:
        wipe_file(partial)
        if linked:
            wipe_file(final)
        if isinstance(exc, Unreadable):
            raise ArchiveError(f"cannot archive {regno}: {exc}") from None
        if isinstance(exc, OSError):
            raise ArchiveError(
                f"cannot write an archive into {folder}: {exc.strerror or exc}"
            ) from None
        raise


def _publish(partial: Path, final: Path) -> None:
    """Give the finished archive its name without ever replacing an existing file.

    link(2) fails if the name exists. File systems without hard links (FAT and exFAT, as on many
    USB sticks) refuse it; there the random 128-bit name is what keeps an existing file safe.
    """
    try:
        os.link(partial, final)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if final.exists() or final.is_symlink():
            raise FileExistsError(errno.EEXIST, "archive name already taken", str(final)) from None
        os.rename(partial, final)
    else:
        partial.unlink()


def remove_partials(folder: Path) -> None:
    """Overwrite and delete what an interrupted run left in the archive folder."""
    try:
        leftovers = [
            path
            for path in folder.iterdir()
            if path.name.startswith(f".{ARCHIVE_PREFIX}") and path.name.endswith(PARTIAL_SUFFIX)
        ]
    except OSError:
        return
    for path in leftovers:
        wipe_file(path)


# -- reading ------------------------------------------------------------------------------------


class _Discard:
    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        return len(data)


class _TarReader:
    """A push-style reader of the tar stream this module writes (regular files only).

    `open_member(name, size)` returns the sink for a member's bytes; `close_member(name)` is called
    after its last byte. Anything else in the stream (links, devices, directories, data after the
    end) is refused.
    """

    def __init__(
        self,
        open_member: Callable[[str, int], Any],
        close_member: Callable[[str], None],
    ) -> None:
        self._open = open_member
        self._close = close_member
        self._block = bytearray()
        self._name = ""
        self._sink: Any = None
        self._remaining = 0
        self._padding = 0
        self._zero_blocks = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._remaining:
                take = min(self._remaining, len(view) - pos)
                self._sink.write(view[pos : pos + take])
                self._remaining -= take
                pos += take
                if not self._remaining:
                    self._close(self._name)
            elif self._padding:
                take = min(self._padding, len(view) - pos)
                if any(view[pos : pos + take]):
                    raise ArchiveError("the archive's tar stream is damaged")
                self._padding -= take
                pos += take
            else:
                take = min(BLOCK - len(self._block), len(view) - pos)
                self._block += view[pos : pos + take]
                pos += take
                if len(self._block) == BLOCK:
                    self._header(bytes(self._block))
                    self._block.clear()
        return len(view)

    def _header(self, block: bytes) -> None:
        if not any(block):
            self._zero_blocks += 1  # two end the stream; tar pads with more to a 10 KiB record
            return
        if self._zero_blocks:
            raise ArchiveError("the archive's tar stream has data after its end")
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
        except (tarfile.HeaderError, UnicodeDecodeError) as exc:
            raise ArchiveError(f"the archive's tar stream is damaged ({exc})") from None
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or not _member_name_ok(info.name):
            raise ArchiveError("the archive holds something other than its own members")
        self._name = info.name
        self._sink = self._open(info.name, info.size)
        self._remaining = info.size
        self._padding = -info.size % BLOCK
        if not info.size:
            self._close(info.name)

    def finish(self) -> None:
        if self._remaining or self._padding or self._block or self._zero_blocks < 2:
            raise ArchiveError("the archive's tar stream is truncated")


def _member_name_ok(name: str) -> bool:
    parts = name.split("/")
    if name == REPORT_MEMBER:
        return True
    if len(parts) == 2 and parts[0] == "files":
        return _is_id(parts[1])
    return (
        len(parts) == 3
        and parts[0] == "envelopes"
        and parts[1] in ("entries", "responses")
        and parts[2].endswith(".env")
        and _is_id(parts[2].removesuffix(".env"))
    )


def _is_id(text: str) -> bool:
    return len(text) == 32 and all(ch in "0123456789abcdef" for ch in text)


def _read(
    path: Path,
    identities: list[RecipientIdentity],
    open_member: Callable[[str, int], Any],
    close_member: Callable[[str], None],
) -> None:
    reader = _TarReader(open_member, close_member)
    try:
        with path.open("rb") as source:
            meta, _size = payload.read_payload(source, identities, reader)
    except FileNotFoundError:
        raise ArchiveError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ArchiveError(f"{path} is a folder, not an archive file") from None
    except EnvelopeError as exc:
        raise ArchiveError(
            f"{path} is not an archive this console can open ({exc})", "archive_unreadable"
        ) from None
    if meta.get("kind") != ARCHIVE_KIND or meta.get("v") != ARCHIVE_VERSION:
        raise ArchiveError(f"{path} is an envelope, but not a report archive")
    reader.finish()


def verify_archive(path: Path, identities: list[RecipientIdentity]) -> list[tuple[str, int, str]]:
    """(name, size, SHA-256) of every member, in order, read back from the archive."""
    found: list[tuple[str, int, str]] = []
    current: list[Any] = []

    def open_member(name: str, size: int) -> Any:
        counting = _Counting(_Discard())
        current[:] = [name, size, counting]
        return counting

    def close_member(name: str) -> None:
        _name, size, counting = current
        found.append((name, size, counting.digest.hexdigest()))

    _read(path, identities, open_member, close_member)
    return found


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


def open_archive(console: Console, path: Path, out_dir: Path | None = None) -> Opened:
    """Decrypt an archive with this console's key; with `out_dir`, extract it into a new folder.

    Administrators only (retention is theirs), and never one who was recused from the report.
    The folder `<out_dir>/<register number>` (or "... (2)") gets report.json, report.txt, the
    files under safe names and any envelope that could not be decrypted; it is removed again if
    the archive turns out to be damaged.
    """
    accounts.require_admin(console, "open retention archives")
    if out_dir is not None and not out_dir.is_dir():
        raise ArchiveError(f"{out_dir} is not an existing directory", "not_a_directory")
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
            return _Discard()
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
            _refuse_if_recused(console, result.document)
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
        _read(path, console.identities(), open_member, close_member)
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
    with schema.transaction(console.conn):
        audit.append(
            console.conn,
            console.user,
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


def _refuse_if_recused(console: Console, document: dict[str, Any]) -> None:
    for recusal in document["recusals"]:
        if (
            isinstance(recusal, dict)
            and recusal.get("investigator") == console.user
            and recusal.get("lifted_day") is None
        ):
            regno = str(document["regno"])
            raise Recused(
                f"you ({console.user}) were recused from {regno} when it was archived: "
                "ask another administrator to open its archive",
                "recused",
                regno=regno,
                day=str(recusal.get("day")),
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

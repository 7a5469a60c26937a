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
key (administrators only, and not one recused from the report: archive_reading.py); any holder of
an inspectorate private key can also open it with keys.payload and tar. The byte format is
archive_format.py.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journalist_console import accounts, dates, reports
from journalist_console.archive_format import (
    ARCHIVE_FORMAT,
    ARCHIVE_KIND,
    ARCHIVE_VERSION,
    BLOCK,
    REPORT_MEMBER,
    ArchiveError,
    Counting,
    member_header,
    verify_archive,
)
from journalist_console.envelopes import decrypt_file, identities, open_document
from journalist_console.errors import Unreadable
from journalist_console.session import Session
from keys import payload
from keys.disk import fsync_dir, wipe_file
from keys.documents import (
    DocumentError,
    FollowupDocument,
    ReplyDocument,
    ReportDocument,
    StatusDocument,
)
from keys.keytypes import RecipientKey
from keys.records import new_id

ARCHIVE_PREFIX = "wbs-archive-"
ARCHIVE_SUFFIX = ".wbsarchive"
PARTIAL_SUFFIX = ".partial"
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    write: Callable[[Any], None]  # streams the member's bytes into a sink


@dataclass(frozen=True)
class Written:
    path: Path
    size: int


def _copy_file(path: Path) -> Callable[[Any], None]:
    def write(sink: Any) -> None:
        with path.open("rb") as source:
            while chunk := source.read(64 * 1024):
                sink.write(chunk)

    return write


def _report_members(session: Session, regno: str) -> list[_Member]:
    """report.json and the member list of one report (bypassing recusal: nobody is shown it)."""
    conn = session.conn
    report = reports.report_row(conn, regno)
    if report is None:
        raise ArchiveError(f"no report {regno} to archive")
    members: list[_Member] = []
    raw: list[_Member] = []
    fields: dict[str, str] | None = None
    problem: str | None = "the report itself never arrived"
    entries_doc: list[dict[str, Any]] = []
    for row in reports.entry_rows(conn, regno):
        entry_id = row["entry_id"]
        path = session.home.entry_path(entry_id)
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
                    _Member(item["member"], int(row["size"]), _file_writer(session, entry_id))
                )
            else:
                item["member"] = f"envelopes/entries/{entry_id}.env"
                raw.append(_raw_member(item["member"], path))
            entries_doc.append(item)
            continue
        try:
            _meta, content = open_document(session, path)
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
        path = session.home.response_path(response_id)
        try:
            _meta, content = open_document(session, path)
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
        "archived_by": session.investigator,
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


def _file_writer(session: Session, entry_id: str) -> Callable[[Any], None]:
    def write(sink: Any) -> None:
        decrypt_file(session, entry_id, sink)

    return write


def _raw_member(name: str, path: Path) -> _Member:
    try:
        size = path.stat().st_size
    except OSError:
        missing = f"an envelope of the report is missing from the store ({name})"
        raise ArchiveError(missing) from None
    return _Member(name, size, _copy_file(path))


def write_archive(
    session: Session, regno: str, folder: Path, recipients: list[RecipientKey]
) -> Written:
    """Write and verify one report's archive in `folder`; ArchiveError leaves nothing behind."""
    members = _report_members(session, regno)
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
                    writer.write(member_header(member.name, member.size))
                    counting = Counting(writer)
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
        found = verify_archive(final, identities(session))
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

"""Saving a report's files where the investigator says, under names that cannot do harm.

A reporter chooses the file names, so a name is only a suggestion: any path is stripped, control
and format characters and characters that filesystems or shells treat specially are replaced,
leading dots and spaces are removed (no hidden files), the length is capped (keeping the
extension), reserved device names are prefixed, and a name already present in the directory gets a
" (2)", " (3)"... suffix. Nothing is ever overwritten: each file is created with O_EXCL, decrypted
into it, and removed again if decryption fails.

For JPEG and PNG (recognised by content, not name), a second copy without metadata is written next
to the original ("<name>.stripped.<ext>"); the original is always kept as it came. The web
interface's downloads (`download`) get the same names and the same stripped copy. Saving and
downloading are audited (`files_saved`, `file_opened`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from journalist_console import audit, metastrip, reports, schema
from journalist_console.envelopes import decrypt_file, file_bytes
from journalist_console.errors import ConsoleError, InvalidInput, Unreadable
from journalist_console.reports import FileInfo
from journalist_console.session import Session
from journalist_console.texts import Text

MAX_NAME_CHARS = 120
MAX_STRIP_BYTES = 64 * 1024 * 1024
_SPECIAL = re.compile(r'[<>:"/\\|?*\x00]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?\Z", re.IGNORECASE)


def safe_name(name: str | None, fallback: str = "file") -> str:
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else ch
        for ch in text
    )
    text = _SPECIAL.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = text.lstrip(". ").rstrip(". ")
    if not text or set(text) <= {"_"}:
        text = fallback
    if _RESERVED.match(text):
        text = "_" + text
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            text = stem[: MAX_NAME_CHARS - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            text = text[:MAX_NAME_CHARS].rstrip(". ")
    return text


def _candidates(name: str) -> list[str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    return [name] + [f"{stem} ({n}){suffix}" for n in range(2, 1000)]


def create_exclusive(directory: Path, name: str) -> tuple[Path, int]:
    """Create a new file (never replacing one); returns its path and an open descriptor."""
    for candidate in _candidates(name):
        path = directory / candidate
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        return path, fd
    raise ConsoleError(f"too many files named like {name!r} in {directory}")


def stripped_name(name: str, kind: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ("jpg" if kind == "jpeg" else "png")
    return f"{stem}.stripped.{ext}"


@dataclass(frozen=True)
class SavedFile:
    entry_id: str
    path: Path | None
    stripped: Path | None
    problem: str | None = None


def _save_one(session: Session, info: FileInfo, out_dir: Path) -> SavedFile:
    if not info.readable:
        return SavedFile(info.entry_id, None, None, "unreadable: not saved")
    name = safe_name(info.name, fallback=f"file-{info.entry_id[:8]}")
    path, fd = create_exclusive(out_dir, name)
    try:
        with os.fdopen(fd, "wb") as handle:
            decrypt_file(session, info.entry_id, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, Unreadable):
            return SavedFile(info.entry_id, None, None, f"{exc}: not saved")
        raise
    stripped: Path | None = None
    problem: str | None = None
    if info.size is not None and info.size <= MAX_STRIP_BYTES:
        with path.open("rb") as handle:
            head = handle.read(16)
        if metastrip.kind_of(head):
            try:
                kind, clean = metastrip.strip(path.read_bytes())
            except metastrip.StripError as exc:
                problem = f"no metadata-free copy ({exc})"
            else:
                stripped, sfd = create_exclusive(out_dir, stripped_name(path.name, kind))
                with os.fdopen(sfd, "wb") as handle:
                    handle.write(clean)
    return SavedFile(info.entry_id, path, stripped, problem)


def save_files(
    session: Session, regno_text: str, out_dir: Path, entry_ids: list[str] | None = None
) -> list[SavedFile]:
    """Decrypt a report's files (or those named) into an existing folder, never overwriting."""
    regno = reports.resolve(session, regno_text)
    if not out_dir.is_dir():
        raise InvalidInput(
            Text("The destination folder does not exist."),
            f"{out_dir} is not an existing directory",
        )
    files = reports.files(session, regno)
    if entry_ids is not None:
        wanted = set(entry_ids)
        files = [info for info in files if info.entry_id in wanted]
        if len(files) != len(wanted):
            raise InvalidInput(f"report {regno} has no such file")
    if not files:
        raise InvalidInput(Text("This report has no files."), f"report {regno} has no files")
    saved: list[SavedFile] = []
    try:
        for info in files:
            saved.append(_save_one(session, info, out_dir))
    except OSError as exc:
        raise ConsoleError(f"cannot write into {out_dir}: {exc.strerror}") from None
    finally:
        written = [str(item.path.name) for item in saved if item.path is not None]
        if written:
            detail = {"count": len(written), "directory": str(out_dir)}
            _audit(session, "files_saved", regno, detail)
    return saved


def download(
    session: Session, regno_text: str, entry_id: str, stripped: bool, max_bytes: int
) -> tuple[str, bytes]:
    """(safe name, content) of one file for a browser download, or of its metadata-free copy.

    metastrip.StripError when a stripped copy is asked of something that is not an intact JPEG
    or PNG; InvalidInput for a file larger than `max_bytes` (those are saved to a folder).
    """
    regno = reports.resolve(session, regno_text)
    info = reports.file_info(session, regno, entry_id)
    if info.size is not None and info.size > max_bytes:
        raise InvalidInput(
            Text("The file is too large to download in the browser; save it to a folder."),
            "the file is too large to open here; save it to a folder instead",
        )
    data = file_bytes(session, entry_id)
    name = safe_name(info.name, fallback=f"file-{entry_id[:8]}")
    if stripped:
        kind, data = metastrip.strip(data)
        name = stripped_name(name, kind)
    _audit(session, "file_opened", regno, {"entry_id": entry_id, "stripped_copy": stripped})
    return name, data


def _audit(session: Session, action: str, regno: str, detail: dict[str, object]) -> None:
    with schema.transaction(session.conn):
        audit.append(session.conn, session.investigator, action, regno, detail)

"""Saving a report's files where the investigator says, under names that cannot do harm, and
the browser's downloads of an original or of its safe copy.

A reporter chooses the file names, so a name is only a suggestion: any path is stripped, control
and format characters and characters that filesystems or shells treat specially are replaced,
leading dots and spaces are removed (no hidden files), the length is capped (keeping the
extension), reserved device names are prefixed, and a name already present in the directory gets a
" (2)", " (3)"... suffix. Nothing is ever overwritten: each file is created with O_EXCL, decrypted
into it, and removed again if decryption fails.

Next to each original, `save` writes its safe copies ("<name>.safe.pdf", ".safe.png",
".safe.txt": journalist_console/rendition), converting in the sandbox whatever has no rendition
yet; with `safe_only` it writes the safe copies instead of the originals. Saving and downloading
are audited (`files_saved`, `file_opened` with the copy: "original" or "safe").
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from journalist_console import audit, reports, schema
from journalist_console.envelopes import decrypt_file, file_bytes
from journalist_console.errors import ConsoleError, InvalidInput, Unreadable
from journalist_console.rendition import copies, messages, store, worker
from journalist_console.rendition.sandbox import SandboxUnavailable
from journalist_console.reports import FileInfo
from journalist_console.session import Session
from journalist_console.texts import Text

MAX_NAME_CHARS = 120
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


@dataclass(frozen=True)
class SavedFile:
    entry_id: str
    path: Path | None  # the original (None: not written)
    safe: tuple[Path, ...] = ()  # its safe copies
    problem: str | None = None


def _write_new(out_dir: Path, name: str, data: bytes) -> Path:
    path, fd = create_exclusive(out_dir, name)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def _save_original(session: Session, info: FileInfo, out_dir: Path, name: str) -> Path:
    path, fd = create_exclusive(out_dir, name)
    try:
        with os.fdopen(fd, "wb") as handle:
            decrypt_file(session, info.entry_id, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _save_safe(session: Session, info: FileInfo, out_dir: Path, name: str) -> SavedFile:
    """The file's safe copies (made now if needed), or why there are none."""
    try:
        rendition = worker.ensure(session, info.entry_id)
    except SandboxUnavailable as exc:
        return SavedFile(info.entry_id, None, (), str(messages.sandbox_unavailable(str(exc))))
    if rendition is None:
        return SavedFile(info.entry_id, None, (), "no safe copy yet: it is being converted")
    try:
        made = copies.all_copies(session, rendition)
    except Unreadable as exc:
        return SavedFile(info.entry_id, None, (), f"no safe copy: {exc}")
    written = tuple(_write_new(out_dir, copies.copy_name(name, ext), data) for ext, data in made)
    why = messages.problem(rendition)
    return SavedFile(info.entry_id, None, written, None if why is None else str(why))


def _save_one(session: Session, info: FileInfo, out_dir: Path, safe_only: bool) -> SavedFile:
    if not info.readable:
        return SavedFile(info.entry_id, None, (), "unreadable: not saved")
    name = safe_name(info.name, fallback=f"file-{info.entry_id[:8]}")
    original: Path | None = None
    if not safe_only:
        try:
            original = _save_original(session, info, out_dir, name)
        except Unreadable as exc:
            return SavedFile(info.entry_id, None, (), f"{exc}: not saved")
    # "foto (2).png" gets "foto (2).safe.png": each copy is named after its own original.
    safe = _save_safe(session, info, out_dir, original.name if original else name)
    return SavedFile(info.entry_id, original, safe.safe, safe.problem)


def save_files(
    session: Session,
    regno_text: str,
    out_dir: Path,
    entry_ids: list[str] | None = None,
    safe_only: bool = False,
) -> list[SavedFile]:
    """Decrypt a report's files (or those named) into an existing folder, never overwriting,
    each with its safe copies; `safe_only`: the safe copies alone."""
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
            saved.append(_save_one(session, info, out_dir, safe_only))
    except OSError as exc:
        raise ConsoleError(f"cannot write into {out_dir}: {exc.strerror}") from None
    finally:
        written = [item for item in saved if item.path is not None or item.safe]
        if written:
            detail: dict[str, object] = {"count": len(written), "directory": str(out_dir)}
            if safe_only:
                detail["safe_only"] = True
            _audit(session, "files_saved", regno, detail)
    return saved


def download(session: Session, regno_text: str, entry_id: str, max_bytes: int) -> tuple[str, bytes]:
    """(safe name, content) of one original file for a browser download (after the warning).

    InvalidInput for a file larger than `max_bytes` (those are saved to a folder).
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
    _audit(session, "file_opened", regno, {"entry_id": entry_id, "copy": "original"})
    return name, data


def download_safe(session: Session, regno_text: str, entry_id: str) -> tuple[str, bytes]:
    """(name, content) of a file's safe copy (the PDF of its pages, its PNG, or its text).

    InvalidInput when it has none (not converted yet, or a kind the console does not convert).
    """
    regno = reports.resolve(session, regno_text)
    info = reports.file_info(session, regno, entry_id)
    rendition = store.get(session.conn, entry_id)
    made = None if rendition is None else copies.main_copy(session, rendition)
    if made is None:
        raise InvalidInput(Text("This file has no safe copy."), f"file {entry_id} has no safe copy")
    name = safe_name(info.name, fallback=f"file-{entry_id[:8]}")
    _audit(session, "file_opened", regno, {"entry_id": entry_id, "copy": "safe"})
    return copies.copy_name(name, made[0]), made[1]


def _audit(session: Session, action: str, regno: str, detail: dict[str, object]) -> None:
    with schema.transaction(session.conn):
        audit.append(session.conn, session.investigator, action, regno, detail)

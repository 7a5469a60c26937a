"""Saving a report's files where the investigator says, under names that cannot do harm.

A reporter chooses the file names, so a name is only a suggestion: any path is stripped, control
and format characters and characters that filesystems or shells treat specially are replaced,
leading dots and spaces are removed (no hidden files), the length is capped (keeping the
extension), reserved device names are prefixed, and a name already present in the directory gets a
" (2)", " (3)"... suffix. Nothing is ever overwritten: each file is created with O_EXCL, decrypted
into it, and removed again if decryption fails.

For JPEG and PNG (recognised by content, not name), a second copy without metadata is written next
to the original ("<name>.stripped.<ext>"); the original is always kept as it came.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from journalist_console import metastrip
from journalist_console.console import Console, FileInfo
from journalist_console.errors import ConsoleError, InvalidInput, Unreadable

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


def _save_one(console: Console, info: FileInfo, out_dir: Path) -> SavedFile:
    if not info.readable:
        return SavedFile(info.entry_id, None, None, "unreadable: not saved")
    name = safe_name(info.name, fallback=f"file-{info.entry_id[:8]}")
    path, fd = create_exclusive(out_dir, name)
    try:
        with os.fdopen(fd, "wb") as handle:
            console.decrypt_file(info.entry_id, handle)
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
    console: Console, regno_text: str, out_dir: Path, entry_ids: list[str] | None = None
) -> list[SavedFile]:
    regno = console.resolve(regno_text)
    if not out_dir.is_dir():
        raise InvalidInput(f"{out_dir} is not an existing directory", "not_a_directory")
    files = console.files(regno)
    if entry_ids is not None:
        wanted = set(entry_ids)
        files = [info for info in files if info.entry_id in wanted]
        if len(files) != len(wanted):
            raise InvalidInput(f"report {regno} has no such file")
    if not files:
        raise InvalidInput(f"report {regno} has no files", "report_has_no_files")
    saved: list[SavedFile] = []
    try:
        for info in files:
            saved.append(_save_one(console, info, out_dir))
    except OSError as exc:
        raise ConsoleError(f"cannot write into {out_dir}: {exc.strerror}") from None
    finally:
        written = [str(item.path.name) for item in saved if item.path is not None]
        if written:
            console.record_saved(regno, written, out_dir)
    return saved

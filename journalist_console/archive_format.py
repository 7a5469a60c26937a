"""The retention archive's file format: one keys.payload envelope holding a tar stream.

    envelope metadata  {"kind": "wbs-console-archive", "v": 1}, sealed to inspectorate keys
    content            a tar stream (GNU format, regular files only, modification time 0) of
                       report.json, files/<entry id>, envelopes/entries|responses/<id>.env

Writing a member is `member_header` then its bytes then zeros to a 512-byte block; reading is a
push-style parser (`TarReader`) fed by the envelope's decryption, which refuses anything but the
members above (no links, devices or directories, no names of its own choosing, nothing after the
end). What goes into an archive and what is done with one is journalist_console/archive.py and
archive_reading.py.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from journalist_console.envelopes import Discard
from journalist_console.errors import ConsoleError
from keys import payload
from keys.errors import EnvelopeError
from keys.keytypes import RecipientIdentity

ARCHIVE_KIND = "wbs-console-archive"
ARCHIVE_VERSION = 1  # of the envelope metadata and of report.json
ARCHIVE_FORMAT = "wbs-console-report-archive"  # report.json's "format"
REPORT_MEMBER = "report.json"
BLOCK = 512


class ArchiveError(ConsoleError):
    """An archive cannot be written, or the file given is not a readable archive of this console."""


def member_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict")


class Counting:
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


class TarReader:
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


def read_members(
    path: Path,
    identities: list[RecipientIdentity],
    open_member: Callable[[str, int], Any],
    close_member: Callable[[str], None],
) -> None:
    reader = TarReader(open_member, close_member)
    try:
        with path.open("rb") as source:
            meta, _size = payload.read_payload(source, identities, reader)
    except FileNotFoundError:
        raise ArchiveError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ArchiveError(f"{path} is a folder, not an archive file") from None
    except EnvelopeError as exc:
        raise ArchiveError(f"{path} is not an archive this console can open ({exc})") from None
    if meta.get("kind") != ARCHIVE_KIND or meta.get("v") != ARCHIVE_VERSION:
        raise ArchiveError(f"{path} is an envelope, but not a report archive")
    reader.finish()


def verify_archive(path: Path, identities: list[RecipientIdentity]) -> list[tuple[str, int, str]]:
    """(name, size, SHA-256) of every member, in order, read back from the archive."""
    found: list[tuple[str, int, str]] = []
    current: list[Any] = []

    def open_member(name: str, size: int) -> Any:
        counting = Counting(Discard())
        current[:] = [name, size, counting]
        return counting

    def close_member(name: str) -> None:
        _name, size, counting = current
        found.append((name, size, counting.digest.hexdigest()))

    read_members(path, identities, open_member, close_member)
    return found

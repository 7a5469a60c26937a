"""Making one file's rendition (the command line and `save` through worker.ensure, the web
interface's background worker through worker.Worker).

One conversion:

1. The file's envelope is decrypted into a memory file (memfd): the original never touches a
   disk in the clear. Files larger than MAX_INPUT_BYTES are not converted (listed, with the
   reason; the original stays available).
2. Its format is decided by content (formats.py). Text and HTML become plain text here (text.py:
   a decoder and bleach, no other parser). PDF, office documents, HTML and images go to the
   sandbox (sandbox.py), which copies the memory file in and runs convert.py.
3. The pixels that come back are checked and become PNG pages (pixels.py), each sealed into the
   store as it arrives (store.py); the row is committed last.

Whatever happens, a result is stored: the pages converted so far and, when it stopped early, why
(timeout, a resource limit, a crash, a broken protocol, or the converter's own failure code), so
a hostile file costs one conversion, not one per page view. Only "the sandbox is unavailable"
(SandboxUnavailable) is not stored: it is the workstation's problem, not the file's.

Conversions in the background are rendition/worker.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from journalist_console import schema, settings
from journalist_console.envelopes import decrypt_file
from journalist_console.errors import Unreadable
from journalist_console.rendition import formats, pixels, sandbox, store, text
from journalist_console.rendition.sandbox import Limits
from journalist_console.session import Session

MAX_INPUT_BYTES = 256 * 1024 * 1024
MAX_SOURCE_PIXELS = 100_000_000  # an image larger than this is refused before decoding
OCR_LANGUAGES = "ind+eng"
SANDBOXED: frozenset[str] = frozenset({"pdf", "office", "html", "image"})

Progress = Callable[[int, int], None]  # (pages done, pages to come)


@dataclass(frozen=True)
class Options:
    limits: Limits = Limits()
    bounds: pixels.Bounds = pixels.Bounds()
    ocr: bool = False
    office_seconds: float = 240.0  # LibreOffice, inside the sandbox
    page_seconds: float = 60.0  # one page rendered (or recognised), inside the sandbox


# The options every conversion uses (tests make them smaller).
DEFAULT_OPTIONS = Options()
OCR_WALL_SECONDS = 900.0  # OCR costs 1 to 4 s a page: 100 pages need more than the default


def options_for(conn: schema.Connection) -> Options:
    """The default options, with OCR (and its longer wall clock) as the console's setting says."""
    if not settings.ocr_enabled(conn):
        return DEFAULT_OPTIONS
    wall = max(DEFAULT_OPTIONS.limits.wall_seconds, OCR_WALL_SECONDS)
    limits = dataclasses.replace(DEFAULT_OPTIONS.limits, wall_seconds=wall)
    return dataclasses.replace(DEFAULT_OPTIONS, ocr=True, limits=limits)


class _Sink:
    """Writes decrypted bytes into a descriptor (the memory file)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes | memoryview, /) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        return len(data)


def _converter_argv(fmt: str, source: str, options: Options) -> list[str]:
    bounds = options.bounds
    step = options.office_seconds if fmt in ("office", "html") else options.page_seconds
    argv = ["python3", "-I", f"{sandbox.SANDBOX_DIR}/convert.py", fmt, source]
    argv += ["--max-pages", str(bounds.max_pages), "--max-side", str(bounds.max_side)]
    argv += ["--max-source-pixels", str(MAX_SOURCE_PIXELS), "--step-timeout", str(step)]
    if options.ocr:
        argv += ["--ocr", OCR_LANGUAGES]
    return argv


def _pages(
    fd: int,
    fmt: str,
    detail: str,
    writer: store.Writer,
    options: Options,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> pixels.Outcome:
    """Run the converter in the sandbox on the memory file; store each page as it comes."""
    source = f"input.{detail if fmt == 'office' else fmt}"

    def on_page(number: int, announced: int, png: bytes) -> None:
        writer.add(store.page_part(number), png)
        if progress is not None:
            progress(number, announced)

    missing = sandbox.converters_missing(fmt, options.ocr)
    if missing:
        raise sandbox.SandboxUnavailable(f"missing programs: {', '.join(missing)}")
    script = sandbox.script_fd()
    try:
        files = {"convert.py": script, source: fd}
        argv = _converter_argv(fmt, f"{sandbox.SANDBOX_DIR}/{source}", options)
        with sandbox.Run(argv, files, options.limits, cancel) as run:
            outcome = pixels.Outcome()
            try:
                outcome = pixels.read_stream(run, options.bounds, on_page)
            except sandbox.EndOfStream:
                outcome.failure = sandbox.describe_exit(run.wait())
            except sandbox.SandboxTimeout:
                outcome.failure = "timeout"
            except pixels.ProtocolError:
                outcome.failure = "protocol"
    finally:
        os.close(script)
    outcome.pages = len([part for part in writer.digests if part.startswith("p")])
    return outcome


def _convert(
    session: Session,
    entry: store.EntryFile,
    writer: store.Writer,
    options: Options,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> dict[str, Any]:
    """The rendition's row; its parts are added to `writer` on the way."""
    row: dict[str, Any] = {"format": "other", "detail": "unknown", "pages": 0, "total_pages": 0}
    row |= {"text_cut": 0, "ocr": 0, "problem": None}
    if not entry.readable:
        return row | {"problem": "unreadable"}
    if entry.size is None or entry.size > MAX_INPUT_BYTES:
        return row | {"problem": "too_large"}
    fd = sandbox.memory_file("wbs-console-original")
    try:
        try:
            decrypt_file(session, entry.entry_id, _Sink(fd))
        except Unreadable:
            return row | {"problem": "unreadable"}
        fmt, detail = formats.sniff(os.pread(fd, formats.SNIFF_BYTES, 0), entry.name)
        row |= {"format": fmt, "detail": detail}
        if fmt in ("text", "html"):
            shown, cut = text.plain_text(os.pread(fd, text.MAX_SOURCE_BYTES + 1, 0), fmt == "html")
            writer.add("text", shown.encode("utf-8"))
            row["text_cut"] = int(cut)
        if fmt in SANDBOXED:
            outcome = _pages(fd, fmt, detail, writer, options, cancel, progress)
            row |= {"pages": outcome.pages, "total_pages": outcome.total_pages}
            row["problem"] = outcome.failure
            if outcome.words and any(outcome.words):
                writer.add("ocr", json.dumps(outcome.words).encode("utf-8"))
                row["ocr"] = 1
    finally:
        os.close(fd)  # the memory file is gone with its last descriptor
    return row


def make(
    session: Session,
    entry_id: str,
    options: Options | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    conn: schema.Connection | None = None,
) -> store.Rendition | None:
    """The entry's rendition, made now if there is none (None: not a file, or cancelled).

    The rows are read and written through `conn` (a background worker's own connection), else
    through the session's, under its lock. SandboxUnavailable when the workstation cannot
    sandbox; nothing is stored then.
    """
    db = session.conn if conn is None else conn
    lock: contextlib.AbstractContextManager[object] = (
        session.mutex if conn is None else contextlib.nullcontext()
    )
    with lock:
        existing = store.get(db, entry_id)
        entry = store.entry_file(db, entry_id)
        chosen = options or options_for(db)
    if existing is not None or entry is None or (cancel is not None and cancel.is_set()):
        return existing
    writer = store.Writer(session, entry_id)
    try:
        row = _convert(session, entry, writer, chosen, cancel, progress)
        with lock:
            if cancel is not None and cancel.is_set():
                writer.discard()
                return None
            writer.commit(db, row)
            return store.get(db, entry_id)
    except sandbox.Cancelled:
        writer.discard()
        return None
    except BaseException:
        writer.discard()
        raise

"""The trusted half of a conversion: bare pixels from the sandbox become PNG pages.

The sandbox's output is as hostile as the file it read (whatever took over the converter writes
it), so it is read as a stream of records whose every size is checked *before* anything is read
or allocated (rendition/convert.py has the layout):

* a record's tag must be one of five, and its length within that tag's bound;
* the page count comes first and may not exceed max_pages; no more pages than announced;
* a page is width x height RGB with 1 <= width, height <= max_side and exactly w*h*3 bytes, so
  the largest page is max_side^2*3 bytes, and nothing here ever decodes a file format: Pillow
  only wraps the raw bytes (`Image.frombytes`) and *writes* a PNG. A parser bug on this side
  cannot be reached by the reporter's file, which never gets past the sandbox.
* OCR output is text: only word rows with integer boxes inside the page are kept, each word
  cleaned of control characters and cut to a bounded length;
* a failure is a code from the converter's fixed list; anything else is "protocol".
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageChops

from journalist_console.rendition import convert
from journalist_console.rendition.sandbox import Run

MAX_FAIL_BYTES = 32
MAX_WORD_CHARS = 64
PNG_COMPRESSION = 6

Word = tuple[int, int, int, int, str]  # left, top, width, height (pixels), text


class ProtocolError(Exception):
    """The sandbox's output broke the protocol: a converter gone wrong, or taken over."""


@dataclass(frozen=True)
class Bounds:
    max_pages: int = 100
    max_side: int = 1754  # A4 at 150 dpi
    max_ocr_bytes: int = convert.MAX_OCR_BYTES


@dataclass
class Outcome:
    total_pages: int = 0  # pages in the original, as the converter counted them (0: unknown)
    pages: int = 0  # pages received
    failure: str | None = None  # a convert.FAILURES code, or "protocol"
    done: bool = False
    words: list[list[Word]] = field(default_factory=list)  # per page, when OCR ran


PageSink = Callable[[int, int, bytes], None]  # (page number from 1, pages to come, PNG bytes)


def png_page(width: int, height: int, rgb: bytes) -> bytes:
    """A PNG of raw pixels whose dimensions were checked: no decoder is involved. A page
    without colour is stored in grey (a third of the size)."""
    image = Image.frombytes("RGB", (width, height), rgb)
    red, green, blue = image.split()
    if ImageChops.difference(red, green).getbbox() is None:
        if ImageChops.difference(green, blue).getbbox() is None:
            image = red
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=PNG_COMPRESSION)
    return out.getvalue()


def _header(run: Run) -> tuple[bytes, int]:
    tag, length = convert.RECORD.unpack(run.read_exact(convert.RECORD.size))
    return tag, length


def read_stream(run: Run, bounds: Bounds, on_page: PageSink) -> Outcome:
    """Read a converter's whole output; each page goes to `on_page` as soon as it is checked.

    ProtocolError when the output breaks the rules; EndOfStream when it stops early (killed
    by a limit, or crashed); the sandbox's own exceptions (timeout, cancelled) pass through.
    """
    outcome = Outcome()
    announced: int | None = None
    last_tag = b""
    while True:
        tag, length = _header(run)
        if tag == convert.TAG_PAGES:
            if announced is not None or length != convert.PAGES_BODY.size:
                raise ProtocolError("page count twice or malformed")
            total, announced = convert.PAGES_BODY.unpack(run.read_exact(length))
            if not 1 <= announced <= bounds.max_pages or total < announced:
                raise ProtocolError("page count out of bounds")
            outcome.total_pages = total
        elif tag == convert.TAG_PAGE:
            if announced is None or outcome.pages >= announced:
                raise ProtocolError("more pages than announced")
            _read_page(run, length, bounds, outcome, announced, on_page)
        elif tag == convert.TAG_OCR:
            if last_tag != convert.TAG_PAGE or length > bounds.max_ocr_bytes:
                raise ProtocolError("OCR text out of place or too long")
            while len(outcome.words) < outcome.pages:
                outcome.words.append([])
            outcome.words[-1] = parse_tsv(run.read_exact(length), bounds.max_side)
        elif tag == convert.TAG_FAIL:
            if length > MAX_FAIL_BYTES:
                raise ProtocolError("failure code too long")
            code = run.read_exact(length).decode("ascii", "replace")
            outcome.failure = code if code in convert.FAILURES else "protocol"
            return outcome
        elif tag == convert.TAG_DONE:
            if length != 0 or announced is None or outcome.pages != announced:
                raise ProtocolError("finished early or malformed")
            if not run.at_end():
                raise ProtocolError("output after the end")
            outcome.done = True
            return outcome
        else:
            raise ProtocolError("unknown record")
        last_tag = tag


def _read_page(
    run: Run, length: int, bounds: Bounds, outcome: Outcome, announced: int, on_page: PageSink
) -> None:
    if length < convert.PAGE_HEADER.size:
        raise ProtocolError("page too short")
    width, height = convert.PAGE_HEADER.unpack(run.read_exact(convert.PAGE_HEADER.size))
    if not (1 <= width <= bounds.max_side and 1 <= height <= bounds.max_side):
        raise ProtocolError("page dimensions out of bounds")
    if length != convert.PAGE_HEADER.size + width * height * 3:
        raise ProtocolError("page size does not match its dimensions")
    rgb = run.read_exact(width * height * 3)
    outcome.pages += 1
    on_page(outcome.pages, announced, png_page(width, height, rgb))


def _clean_word(text: str) -> str:
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    return kept.strip()[:MAX_WORD_CHARS]


def parse_tsv(data: bytes, max_side: int) -> list[Word]:
    """The words of tesseract's TSV (level 5 rows), with boxes inside the page; nothing else."""
    words: list[Word] = []
    for line in data.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) != 12 or parts[0] != "5":
            continue
        try:
            left, top, width, height = (int(value) for value in parts[6:10])
            confidence = float(parts[10])
        except ValueError:
            continue
        text = _clean_word(parts[11])
        inside = 0 <= left and 0 <= top and 0 < width and 0 < height
        inside = inside and left + width <= max_side and top + height <= max_side
        if text and inside and confidence >= 0:
            words.append((left, top, width, height, text))
    return words

"""The untrusted half of a conversion: runs INSIDE the sandbox (rendition/sandbox.py), never in the
console's own process. It turns one reporter's file into pages of raw RGB pixels on its stdout.

It is copied into the sandbox as a single file and run by Debian's python3 (`python3 -I`), so it
imports the standard library only, plus Debian's Pillow (python3-pil) for images. Everything it
parses is hostile: it may be subverted by the file it reads, which is why nothing it says is
believed by the console. The console reads its output as a stream of records whose sizes it
checks before reading them (rendition/pixels.py), takes failure *codes* from a fixed list (never
text), and builds the PNG pages and the PDF itself from bare pixels.

Routes (the console chooses the format by content, rendition/formats.py):

    pdf           pdfinfo (page count), then pdftoppm one page at a time (poppler)
    office, html  LibreOffice headless, macros disabled and links never updated, to PDF; then pdf
    image         Pillow: at most max_pages frames, EXIF orientation applied, alpha on white,
                  scaled to fit max_side

Output records: 4-byte tag, 4-byte big-endian length, payload.

    PAGS  u32 pages in the original (0: unknown), u32 pages that follow
    PAGE  u32 width, u32 height, width*height*3 bytes of RGB
    OCRT  tesseract's TSV for the page just sent (optional OCR)
    FAIL  one of FAILURES, ASCII
    DONE  (empty): the end
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import warnings
from typing import BinaryIO

TAG_PAGES = b"PAGS"
TAG_PAGE = b"PAGE"
TAG_OCR = b"OCRT"
TAG_FAIL = b"FAIL"
TAG_DONE = b"DONE"
RECORD = struct.Struct(">4sI")
PAGE_HEADER = struct.Struct(">II")
PAGES_BODY = struct.Struct(">II")
FAILURES = (
    "unreadable",  # the program could not read the file (damaged, or not what it claims)
    "encrypted",  # protected by a password
    "image_too_large",  # more pixels than max_source_pixels (a decompression bomb?)
    "empty",  # no page at all
    "timeout",  # a converting program took longer than it may
    "limit",  # a converting program was stopped by a resource limit
)
MAX_OCR_BYTES = 512 * 1024
WORK = "/tmp"  # noqa: S108 - the sandbox's own, empty, private tmpfs
PAGE_FILE = f"{WORK}/page"
LIBREOFFICE_PROFILE = f"{WORK}/lo-profile"
# LibreOffice's user profile, written before it starts: macros never run (whatever their
# signature), links to other files or URLs are never updated when a document loads. The sandbox
# would contain them anyway; this keeps them from even trying.
LIBREOFFICE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
 <prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
 <prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
 <prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update">
 <prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update">
 <prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc">
 <prop oor:name="UseDocumentSystemFileLocking" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


class Failure(Exception):
    def __init__(self, code: str) -> None:
        if code not in FAILURES:
            raise ValueError(code)
        super().__init__(code)
        self.code = code


def record(out: BinaryIO, tag: bytes, payload: bytes = b"") -> None:
    out.write(RECORD.pack(tag, len(payload)))
    out.write(payload)


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(  # noqa: S603 - fixed programs, inside the sandbox
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise Failure("timeout") from None
    if result.returncode < 0:  # killed by a signal: SIGXCPU, SIGXFSZ, SIGKILL (memory), SIGSEGV
        raise Failure("limit")
    return result


def office_to_pdf(source: str, timeout: float) -> str:
    """LibreOffice headless: the document as a PDF in the sandbox's /tmp."""
    settings_dir = f"{LIBREOFFICE_PROFILE}/user"
    os.makedirs(settings_dir, exist_ok=True)
    with open(f"{settings_dir}/registrymodifications.xcu", "w", encoding="utf-8") as handle:
        handle.write(LIBREOFFICE_SETTINGS)
    out_dir = f"{WORK}/lo-out"
    result = _run(
        [
            "soffice",
            f"-env:UserInstallation=file://{LIBREOFFICE_PROFILE}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            out_dir,
            source,
        ],
        timeout,
    )
    stem = os.path.splitext(os.path.basename(source))[0]
    target = f"{out_dir}/{stem}.pdf"
    if result.returncode != 0 or not os.path.isfile(target):
        raise Failure("unreadable")
    return target


def pdf_page_count(path: str, timeout: float) -> int:
    result = _run(["pdfinfo", path], timeout)
    if result.returncode != 0:
        text = result.stderr.decode("utf-8", "replace").lower()
        raise Failure("encrypted" if "password" in text else "unreadable")
    match = re.search(rb"^Pages:\s+(\d+)\s*$", result.stdout, re.M)
    if match is None:
        raise Failure("unreadable")
    return int(match.group(1))


def read_ppm(path: str) -> tuple[int, int, bytes]:
    with open(path, "rb") as handle:
        data = handle.read()
    match = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    if match is None:
        raise Failure("unreadable")
    width, height = int(match.group(1)), int(match.group(2))
    pixels = data[match.end() : match.end() + width * height * 3]
    if len(pixels) != width * height * 3:
        raise Failure("unreadable")
    return width, height, pixels


def send_page(out: BinaryIO, width: int, height: int, rgb: bytes, ocr: str, timeout: float) -> None:
    record(out, TAG_PAGE, PAGE_HEADER.pack(width, height) + rgb)
    if ocr:
        out.flush()
        record(out, TAG_OCR, recognise(width, height, rgb, ocr, timeout))
    out.flush()


def recognise(width: int, height: int, rgb: bytes, languages: str, timeout: float) -> bytes:
    """tesseract's word boxes (TSV) for one page; empty when it fails (OCR is a convenience)."""
    path = f"{WORK}/ocr.ppm"
    with open(path, "wb") as handle:
        handle.write(b"P6\n%d %d\n255\n" % (width, height) + rgb)
    try:
        result = _run(["tesseract", path, "stdout", "-l", languages, "--psm", "3", "tsv"], timeout)
    except Failure:
        return b""
    finally:
        os.unlink(path)
    return result.stdout[:MAX_OCR_BYTES] if result.returncode == 0 else b""


def send_pdf(out: BinaryIO, path: str, options: argparse.Namespace) -> None:
    total = pdf_page_count(path, options.step_timeout)
    if total < 1:
        raise Failure("empty")
    count = min(total, options.max_pages)
    record(out, TAG_PAGES, PAGES_BODY.pack(total, count))
    out.flush()
    for number in range(1, count + 1):
        argv = ["pdftoppm", "-f", str(number), "-l", str(number), "-singlefile"]
        # The long side fits max_side (less 2: pdftoppm may round a side up by one pixel).
        argv += ["-scale-to", str(options.max_side - 2), path, PAGE_FILE]
        result = _run(argv, options.step_timeout)
        if result.returncode != 0 or not os.path.isfile(f"{PAGE_FILE}.ppm"):
            raise Failure("unreadable")
        width, height, rgb = read_ppm(f"{PAGE_FILE}.ppm")
        os.unlink(f"{PAGE_FILE}.ppm")
        send_page(out, width, height, rgb, options.ocr, options.step_timeout)


def send_image(out: BinaryIO, path: str, options: argparse.Namespace) -> None:
    from PIL import Image, ImageOps  # Debian's python3-pil, inside the sandbox only

    Image.MAX_IMAGE_PIXELS = options.max_source_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        image = Image.open(path)
        width, height = image.size
        if width * height > options.max_source_pixels:
            raise Failure("image_too_large")  # refused from the header, before any decoding
        total = max(1, int(getattr(image, "n_frames", 1)))
        count = min(total, options.max_pages)
        record(out, TAG_PAGES, PAGES_BODY.pack(total, count))
        for index in range(count):
            image.seek(index)
            if count == 1:
                image.draft("RGB", (options.max_side, options.max_side))  # JPEG: decode smaller
            frame = ImageOps.exif_transpose(image.copy())
            if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
                rgba = frame.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                frame = flat
            frame = frame.convert("RGB")
            frame.thumbnail((options.max_side, options.max_side))
            send_page(
                out, frame.width, frame.height, frame.tobytes(), options.ocr, options.step_timeout
            )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Failure("image_too_large") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error):
        raise Failure("unreadable") from None
    except MemoryError:
        raise Failure("limit") from None


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="convert")
    parser.add_argument("format", choices=["pdf", "office", "html", "image"])
    parser.add_argument("source")
    parser.add_argument("--max-pages", type=int, required=True)
    parser.add_argument("--max-side", type=int, required=True)
    parser.add_argument("--max-source-pixels", type=int, required=True)
    parser.add_argument("--step-timeout", type=float, required=True)
    parser.add_argument("--ocr", default="", help="tesseract languages, e.g. ind+eng")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse(argv)
    out = sys.stdout.buffer
    try:
        if options.format == "image":
            send_image(out, options.source, options)
        elif options.format == "pdf":
            send_pdf(out, options.source, options)
        else:
            send_pdf(out, office_to_pdf(options.source, options.step_timeout), options)
        record(out, TAG_DONE)
    except Failure as failure:
        record(out, TAG_FAIL, failure.code.encode("ascii"))
    except BrokenPipeError:
        return 1  # the console stopped reading: it has given up on this conversion
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What kind of file an attachment is, decided by its content: the route its rendition takes.

A reporter (or someone posing as one) chooses both the file name and the declared media type, so
neither decides how a file is read: a PDF named "foto.jpg", a JPEG that also carries a PDF (a
polyglot) or a ZIP archive named "laporan.docx" go where their first bytes say. The name only
breaks the ties the content leaves open (a ZIP container is an office document only when its
name says so and LibreOffice, in the sandbox, agrees; a text file is told from HTML), and only
ever towards a route that is equally sandboxed.

    pdf      PDF                                  pixels, in the sandbox (poppler)
    office   doc/docx/odt/xls/xlsx/ods/ppt/pptx/rtf... pixels, in the sandbox (LibreOffice, poppler)
    html     HTML                                 plain text (bleach) and pixels (LibreOffice)
    image    JPEG/PNG/GIF/BMP/TIFF/WebP           pixels, in the sandbox (Pillow)
    text     plain text                           plain text
    other    archives, video, audio, executables,  nothing: listed with size and type only
             HEIC/AVIF photos
"""

from __future__ import annotations

import re
from typing import Final, Literal

Format = Literal["pdf", "office", "html", "image", "text", "other"]
FORMATS: Final = ("pdf", "office", "html", "image", "text", "other")
SNIFF_BYTES = 8192

# Container formats that are office documents only when the name says so (LibreOffice decides).
_OFFICE_ZIP_EXT = frozenset(
    {"docx", "docm", "dotx", "xlsx", "xlsm", "pptx", "pptm", "ppsx", "odt", "ods", "odp", "odg"}
    | {"ott", "ots", "otp", "fodt", "vsdx"}
)
_OLE_EXT = frozenset({"doc", "dot", "xls", "xlt", "ppt", "pps", "pot", "vsd", "pub", "wps"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"})
_TEXT_EXT = frozenset({"txt", "text", "csv", "tsv", "md", "log", "json", "xml", "eml", "ini"})
_HTML_EXT = frozenset({"htm", "html", "xhtml", "mht"})
_ODF_MIMETYPE = re.compile(rb"^PK\x03\x04.{26}mimetypeapplication/vnd\.oasis\.opendocument\.", re.S)
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
    re.I | re.S,
)
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
)
# Formats the console recognises and lists without a rendition (the warning names the kind).
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "archive"),
    (b"Rar!\x1a\x07", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
    (b"\x1f\x8b", "archive"),
    (b"BZh", "archive"),
    (b"\xfd7zXZ\x00", "archive"),
    (b"\x7fELF", "program"),
    (b"MZ", "program"),
    (b"ID3", "audio"),
    (b"OggS", "audio"),
    (b"fLaC", "audio"),
    (b"\x1aE\xdf\xa3", "video"),
)


def extension(name: str | None) -> str:
    """The lower-case extension of a reporter's file name ("" when none)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return ext.lower() if dot and stem and len(ext) <= 10 and ext.isalnum() else ""


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":  # not only a character cut by the sample
            controls = sum(1 for b in head if b < 9 or 13 < b < 32)
            return controls * 100 < len(head)  # a legacy 8-bit encoding, not binary
    return True


def sniff(head: bytes, name: str | None) -> tuple[Format, str]:
    """(format, detail) from the first SNIFF_BYTES of a file and, for ties only, its name.

    `detail` is the extension LibreOffice is given for office files, the image kind, or for
    `other` the kind the warning names (archive, program, audio, video, unknown).
    """
    ext = extension(name)
    if head.startswith(b"%PDF-"):
        return "pdf", "pdf"
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return "image", kind
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00" and len(head) > 26:
        return "image", "bmp"  # the reserved fields are zero: a bitmap, not "BMW ..." text
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"WAVE"):
        return "other", "video" if head[8:12] == b"AVI " else "audio"
    if head[4:8] == b"ftyp":
        # HEIC/AVIF phone photos: no decoder in Debian's Pillow, so no rendition (said so).
        return "other", "photo" if head[8:12] in _HEIF_BRANDS else "video"
    if head.startswith(b"{\\rtf"):
        return "office", "rtf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: legacy office (or .msg...)
        return "office", ext if ext in _OLE_EXT else "doc"
    if _ODF_MIMETYPE.match(head):
        return "office", ext if ext in _OFFICE_ZIP_EXT else "odt"
    if head.startswith(b"PK\x03\x04") and ext in _OFFICE_ZIP_EXT:
        return "office", ext
    if _looks_like_text(head):
        if _HTML_START.match(head) or ext in _HTML_EXT:
            return "html", "html"
        return "text", ext if ext in _TEXT_EXT else "txt"
    for magic, kind in _OTHER_MAGIC:
        if head.startswith(magic):
            return "other", kind
    return "other", "unknown"

"""Unit tests of the console's pure parts: due dates, safe names, metadata stripping, texts."""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import Translations

from journalist_console import dates, files, metastrip
from journalist_console.labels import STATUS_LABELS, UNREADABLE
from journalist_console.render import safe
from journalist_console.texts import Text, clean_text
from keys.documents import ReportDocument

REPO = Path(__file__).resolve().parent.parent
CONSOLE_TRANSLATIONS = REPO / "journalist_console" / "translations"
CONSOLE_PO = CONSOLE_TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po"

# -- due dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2025-01-31", "2025-03-02"),  # common year: February has 28 days
        ("2024-01-31", "2024-03-01"),  # leap year
        ("2025-02-01", "2025-03-03"),
        ("2025-02-28", "2025-03-30"),
        ("2024-02-29", "2024-03-30"),
        ("2025-12-15", "2026-01-14"),  # year change
        ("2025-12-31", "2026-01-30"),
        ("2025-03-31", "2025-04-30"),
        ("2100-01-31", "2100-03-02"),  # 2100 is not a leap year
    ],
)
def test_due_day_thirty_days_across_month_ends(received: str, due: str) -> None:
    assert dates.due_day(dt.date.fromisoformat(received)).isoformat() == due


def test_due_day_is_configurable_and_bounded() -> None:
    assert dates.due_day(dt.date(2025, 12, 25), 14) == dt.date(2026, 1, 8)
    with pytest.raises(ValueError):
        dates.due_day(dt.date(2025, 1, 1), 0)
    with pytest.raises(ValueError):
        dates.due_day(dt.date(2025, 1, 1), 10_000)


def test_days_left_counts_down_and_goes_negative_when_overdue() -> None:
    due = dates.due_day(dt.date(2025, 1, 31))
    assert dates.days_left(due, dt.date(2025, 3, 1)) == 1
    assert dates.days_left(due, dt.date(2025, 3, 2)) == 0
    assert dates.days_left(due, dt.date(2025, 3, 5)) == -3
    assert dates.days_between("2025-12-30", "2026-01-02") == 3


# -- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("laporan.pdf", "laporan.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\bukti.docx", "bukti.docx"),
        (".bashrc", "bashrc"),
        ("...hidden.txt", "hidden.txt"),
        ("a\x1b[31mred.txt", "a_[31mred.txt"),
        ("evil\u202etxt.exe", "evil_txt.exe"),
        ("name\nwith\nnewlines.txt", "name_with_newlines.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("", "file"),
        (None, "file"),
        ("/", "file"),
        ("...", "file"),
        ("   spaced   out  .pdf", "spaced out .pdf"),
        ("foto kantor.JPG", "foto kantor.JPG"),
    ],
)
def test_safe_name(given: str | None, expected: str) -> None:
    assert files.safe_name(given) == expected


def test_safe_name_caps_length_and_keeps_extension() -> None:
    name = files.safe_name("x" * 500 + ".pdf")
    assert len(name) <= files.MAX_NAME_CHARS
    assert name.endswith(".pdf")
    assert len(files.safe_name("y" * 500)) == files.MAX_NAME_CHARS


def test_create_exclusive_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("original")
    path, fd = files.create_exclusive(tmp_path, "a.txt")
    with open(fd, "wb") as handle:
        handle.write(b"second")
    path3, fd3 = files.create_exclusive(tmp_path, "a.txt")
    with open(fd3, "wb") as handle:
        handle.write(b"third")
    assert path.name == "a (2).txt"
    assert path3.name == "a (3).txt"
    assert (tmp_path / "a.txt").read_text() == "original"


def test_create_exclusive_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.txt").symlink_to(target)
    path, fd = files.create_exclusive(tmp_path / "out", "x.txt")
    with open(fd, "wb") as handle:
        handle.write(b"new")
    assert path.name == "x (2).txt"
    assert target.read_text() == "keep"


def test_stripped_name() -> None:
    assert files.stripped_name("foto.jpg", "jpeg") == "foto.stripped.jpg"
    assert files.stripped_name("scan", "png") == "scan.stripped.png"


# -- terminal and typed text ------------------------------------------------------------------


def test_safe_makes_terminal_controls_visible() -> None:
    assert safe("a\x1b]0;title\x07b") == "a\\u001b]0;title\\u0007b"
    assert safe("line1\nline2\tx") == "line1\nline2\tx"
    assert safe("x\ny", keep_newlines=False) == "x\\u000ay"
    assert safe("\u202egnp.exe") == "\\u202egnp.exe"


def test_clean_text_normalises_newlines_and_drops_controls() -> None:
    assert clean_text("a\r\nb\rc\x00d\x1b") == "a\nb\ncd"


def test_parse_report_document_rejects_bad_documents() -> None:
    good = b'{"v":1,"category":"bribery","relation":"public","what":"x"}'
    assert ReportDocument.from_bytes(good).who == ""
    for bad in (
        b"[]",
        b'{"v":2,"category":"bribery"}',
        b'{"v":1,"category":"treason"}',
        b'{"v":1,"category":"bribery","what":5}',
        b'{"v":1,"category":"bribery","relation":"alien"}',
    ):
        with pytest.raises(ValueError):
            ReportDocument.from_bytes(bad)


# -- metadata stripping: PNG ------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(extra_before_idat: list[bytes], extra_after: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)  # 2x1 RGB
    raw = b"\x00" + bytes([255, 0, 0, 0, 0, 255])
    return (
        metastrip.PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + b"".join(extra_before_idat)
        + _chunk(b"IDAT", zlib.compress(raw))
        + b"".join(extra_after)
        + _chunk(b"IEND", b"")
    )


def _png_chunks(data: bytes) -> list[bytes]:
    position, kinds = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        crc = struct.unpack(">I", data[position + 8 + length : position + 12 + length])[0]
        assert zlib.crc32(kind + data[position + 8 : position + 8 + length]) == crc
        kinds.append(kind)
        position += 12 + length
    return kinds


def test_png_strip_drops_text_exif_time_and_private_chunks() -> None:
    original = (
        _png(
            [
                _chunk(b"gAMA", struct.pack(">I", 45455)),
                _chunk(b"tEXt", b"Author\x00Budi Santoso"),
                _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"GPS -6.2,106.8")),
                _chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>secret"),
                _chunk(b"eXIf", b"MM\x00*secret-exif"),
                _chunk(b"tIME", b"\x07\xe9\x01\x02\x03\x04\x05"),
                _chunk(b"pHYs", b"\x00\x00\x0b\x13\x00\x00\x0b\x13\x01"),
                _chunk(b"prVt", b"vendor secret"),
                _chunk(b"tRNS", b"\x00\x00\x00\x00\x00\x00"),
            ],
            [_chunk(b"tEXt", b"Late\x00after image data")],
        )
        + b"trailing secret"
    )
    kind, clean = metastrip.strip(original)
    assert kind == "png"
    assert _png_chunks(clean) == [b"IHDR", b"gAMA", b"tRNS", b"IDAT", b"IEND"]
    for secret in (b"Budi", b"GPS", b"xmp", b"exif", b"vendor", b"trailing", b"Late"):
        assert secret not in clean
    assert zlib.compress(b"\x00" + bytes([255, 0, 0, 0, 0, 255])) in clean  # pixels unchanged


@pytest.mark.parametrize(
    "broken",
    [
        metastrip.PNG_SIGNATURE + b"\x00\x00",
        _png([])[:-5],  # truncated IEND
        _png([_chunk(b"tEXt", b"a\x00b")]).replace(b"a\x00b", b"a\x00c"),  # bad CRC
        _png([_chunk(b"ZZZZ", b"critical and unknown")]),
        metastrip.PNG_SIGNATURE + _chunk(b"IDAT", b"x") + _chunk(b"IEND", b""),  # no IHDR
    ],
)
def test_png_strip_refuses_malformed_files(broken: bytes) -> None:
    with pytest.raises(metastrip.StripError):
        metastrip.strip_png(broken)


# -- metadata stripping: JPEG -----------------------------------------------------------------


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


JFIF_WITH_THUMB = b"JFIF\x00\x01\x02\x00\x00\x48\x00\x48\x02\x01" + b"\xaa" * 6  # 2x1 thumbnail
DQT = _segment(0xDB, b"\x00" + bytes(range(64)))
SOF0 = _segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
DHT = _segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00")
SOS = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
SCAN = b"\x12\xff\x00\x34\xff\xd0\x56\x78"  # a stuffed 0xFF byte and a restart marker


def _jpeg(*segments: bytes, tail: bytes = b"") -> bytes:
    return b"\xff\xd8" + b"".join(segments) + SOS + SCAN + b"\xff\xd9" + tail


def test_jpeg_strip_drops_app_segments_comments_thumbnail_and_trailer() -> None:
    original = _jpeg(
        _segment(0xE0, JFIF_WITH_THUMB),
        _segment(0xE1, b"Exif\x00\x00MM\x00*GPS secret location"),
        _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<xmp>author secret</xmp>"),
        _segment(0xE2, b"ICC_PROFILE\x00\x01\x01profile"),
        _segment(0xED, b"Photoshop 3.0\x008BIM secret"),
        _segment(0xFE, b"comment: made by Budi"),
        _segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
        DQT,
        SOF0,
        DHT,
        tail=b"hidden appended secret",
    )
    kind, clean = metastrip.strip(original)
    assert kind == "jpeg"
    expected = (
        b"\xff\xd8"
        + _segment(0xE0, JFIF_WITH_THUMB[:12] + b"\x00\x00")
        + _segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
        + DQT
        + SOF0
        + DHT
        + SOS
        + SCAN
        + b"\xff\xd9"
    )
    assert clean == expected
    for secret in (b"secret", b"Budi", b"ICC", b"Exif", b"\xaa\xaa"):
        assert secret not in clean


def test_jpeg_strip_handles_metadata_between_scans() -> None:
    progressive = (
        b"\xff\xd8"
        + DQT
        + _segment(0xC2, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
        + DHT
        + SOS
        + b"\x01\x02"
        + _segment(0xFE, b"late comment secret")
        + DHT
        + SOS
        + b"\x03\x04"
        + b"\xff\xd9"
    )
    clean = metastrip.strip_jpeg(progressive)
    assert b"secret" not in clean
    assert clean.count(b"\xff\xda") == 2
    assert clean.endswith(b"\x03\x04\xff\xd9")


@pytest.mark.parametrize(
    "broken",
    [
        b"\xff\xd8\xff",
        b"\xff\xd8" + DQT + SOF0 + SOS + b"\x01\x02",  # scan never ends
        b"\xff\xd8" + b"\xff\xe1\x00\xff" + b"short",  # segment runs past the end
        b"\xff\xd8\xff\xd9",  # no image at all
        b"\xff\xd8\x00\x00",
    ],
)
def test_jpeg_strip_refuses_malformed_files(broken: bytes) -> None:
    with pytest.raises(metastrip.StripError):
        metastrip.strip_jpeg(broken)


def test_strip_recognises_formats_by_content_only() -> None:
    assert metastrip.kind_of(_png([])) == "png"
    assert metastrip.kind_of(_jpeg(DQT, SOF0, DHT)) == "jpeg"
    assert metastrip.kind_of(b"%PDF-1.7") is None
    with pytest.raises(metastrip.StripError):
        metastrip.strip(b"GIF89a....")


# -- interface texts --------------------------------------------------------------------------


def _console_catalog() -> Catalog:
    with CONSOLE_PO.open("rb") as handle:
        return read_po(handle)


def test_every_text_has_both_languages_with_the_same_placeholders() -> None:
    for message in _console_catalog():
        if not message.id:
            continue
        english, indonesian = str(message.id), str(message.string)
        assert indonesian.strip() and english.strip(), english
        assert set(re.findall(r"%\((\w+)\)s", indonesian)) == set(
            re.findall(r"%\((\w+)\)s", english)
        ), english


def test_labels_default_to_indonesian() -> None:
    indonesian = Translations.load(str(CONSOLE_TRANSLATIONS), ["id"]).ugettext
    assert STATUS_LABELS["closed"].render(indonesian) == "Selesai"
    assert str(STATUS_LABELS["closed"]) == "Closed"
    assert str(UNREADABLE) == "unreadable"
    assert str(Text("overdue by %(n)s days", n=3)) == "overdue by 3 days"
    assert Text("overdue by %(n)s days", n=3).render(indonesian) == "terlambat 3 hari"

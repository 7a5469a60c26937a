"""Unit tests of the console's pure parts: due dates, safe names, metadata stripping, texts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import Translations

from journalist_console import dates, files
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

"""The renditions' pure parts, without a sandbox: how a file's route is chosen, how the trusted
half reads a converter's stream, plain text, the seccomp program, the sandbox's command line."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from journalist_console.rendition import convert, copies, formats, pixels, sandbox, seccomp, text
from support import hostile_files as hostile

# -- which route: by content, never by name -------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"%PDF-1.7\n", "foto.jpg", ("pdf", "pdf")),
        (b"\xff\xd8\xff\xe0....JFIF", "laporan.pdf", ("image", "jpg")),
        (b"\x89PNG\r\n\x1a\n....", None, ("image", "png")),
        (b"GIF89a..", "x.txt", ("image", "gif")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "x", ("image", "webp")),
        (b"BM" + b"\x00" * 4 + b"\x00\x00\x00\x00" + b"\x36" * 20, "x.bmp", ("image", "bmp")),
        (b"BMW laporan tahunan, plain text of course", "x.txt", ("text", "txt")),
        (b"{\\rtf1\\ansi hello}", "x.doc", ("office", "rtf")),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "x.xls", ("office", "xls")),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "x.exe", ("office", "doc")),
        (b"PK\x03\x04" + bytes(40), "laporan.docx", ("office", "docx")),
        (b"PK\x03\x04" + bytes(40), "laporan.zip", ("other", "archive")),
        (b"PK\x03\x04" + bytes(40), "laporan.docx.exe", ("other", "archive")),
        (b"MZ\x90\x00\x03\x00\x00\x00", "setup.pdf", ("other", "program")),
        (b"\x7fELF\x02\x01\x01\x00", "x", ("other", "program")),
        (b"\x1f\x8b\x08\x00\x00", "x.txt", ("other", "archive")),
        (b"\x00\x00\x00\x18ftypmp42", "x", ("other", "video")),
        (b"\x00\x00\x00\x18ftypheic", "IMG_0001.HEIC", ("other", "photo")),
        (b"<!DOCTYPE html><html><body>x", "x.txt", ("html", "html")),
        (b"  <html>", None, ("html", "html")),
        (b"<p>not declared html</p>", "halaman.htm", ("html", "html")),
        (b"<p>just text with a tag</p>", "catatan.txt", ("text", "txt")),
        (b"Laporan: uang \xe2\x82\xac500", "a.csv", ("text", "csv")),
        (b"Caf\xe9 na\xefve cp1252 text", None, ("text", "txt")),
        (b"\x00\x01\x02\x03\x04binary", "x.txt", ("other", "unknown")),
    ],
)
def test_the_route_is_chosen_by_content(head: bytes, name: str | None, expected: Any) -> None:
    assert formats.sniff(head, name) == expected


def test_an_office_container_is_recognised_by_its_odf_mimetype() -> None:
    odt = hostile.odt(["x"])
    assert formats.sniff(odt[: formats.SNIFF_BYTES], "foto.jpg") == ("office", "odt")
    assert formats.sniff(hostile.polyglot()[:8192], "invoice.pdf") == ("image", "jpg")


# -- the trusted half reads a stream whose every size it checks -----------------------------------


class FakeRun:
    """What pixels.read_stream reads from: a converter's output, here as bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def read_exact(self, size: int) -> bytes:
        if self.position + size > len(self.data):
            raise sandbox.EndOfStream()
        chunk = self.data[self.position : self.position + size]
        self.position += size
        return chunk

    def at_end(self) -> bool:
        return self.position == len(self.data)


def record(tag: bytes, body: bytes = b"") -> bytes:
    return convert.RECORD.pack(tag, len(body)) + body


def page(width: int, height: int, fill: int = 255) -> bytes:
    return record(b"PAGE", struct.pack(">II", width, height) + bytes([fill]) * (width * height * 3))


def read(data: bytes, bounds: pixels.Bounds = pixels.Bounds()) -> tuple[pixels.Outcome, list]:  # noqa: B008
    pages: list[tuple[int, int, bytes]] = []
    outcome = pixels.read_stream(
        FakeRun(data),  # type: ignore[arg-type]
        bounds,
        lambda number, of, png: pages.append((number, of, png)),
    )
    return outcome, pages


def test_a_well_formed_stream_becomes_png_pages() -> None:
    data = record(b"PAGS", struct.pack(">II", 7, 2)) + page(3, 2) + page(2, 3, 0) + record(b"DONE")
    outcome, pages = read(data)
    assert (outcome.done, outcome.total_pages, outcome.pages, outcome.failure) == (True, 7, 2, None)
    assert [(n, of) for n, of, _png in pages] == [(1, 2), (2, 2)]
    assert all(png.startswith(b"\x89PNG") for _n, _of, png in pages)


@pytest.mark.parametrize(
    "data",
    [
        page(1, 1),  # a page before the count
        record(b"PAGS", struct.pack(">II", 1, 101)),  # more than max_pages
        record(b"PAGS", struct.pack(">II", 1, 2)),  # more to come than the original has
        record(b"PAGS", struct.pack(">II", 1, 0)),  # nothing at all
        record(b"PAGS", struct.pack(">II", 1, 1)) + page(1755, 1),  # wider than max_side
        record(b"PAGS", struct.pack(">II", 1, 1)) + page(1, 0),  # no height
        record(b"PAGS", struct.pack(">II", 1, 1))
        + convert.RECORD.pack(b"PAGE", 0xFFFFFFFF)
        + struct.pack(">II", 1754, 1754),  # a length that does not match the dimensions
        record(b"PAGS", struct.pack(">II", 1, 1)) + page(1, 1) + page(1, 1),  # more than said
        record(b"PAGS", struct.pack(">II", 2, 2)) + page(1, 1) + record(b"DONE"),  # fewer
        record(b"PAGS", struct.pack(">II", 1, 1)) + page(1, 1) + record(b"DONE") + b"x",
        record(b"PAGS", struct.pack(">II", 1, 1)) + record(b"OCRT", b"x"),  # OCR with no page
        record(b"PAGS", struct.pack(">II", 1, 1)) + page(1, 1) + record(b"OCRT", bytes(600_000)),
        record(b"FAIL", b"x" * 33),
        record(b"EVIL", b""),
    ],
)
def test_a_stream_breaking_a_rule_is_refused(data: bytes) -> None:
    with pytest.raises(pixels.ProtocolError):
        read(data)


def test_a_stream_that_stops_early_is_an_end_of_stream() -> None:
    with pytest.raises(sandbox.EndOfStream):
        read(record(b"PAGS", struct.pack(">II", 1, 1)) + page(2, 2)[:-1])


def test_failures_are_codes_from_the_list_never_text() -> None:
    outcome, _pages = read(record(b"FAIL", b"encrypted"))
    assert outcome.failure == "encrypted"
    outcome, _pages = read(record(b"FAIL", b"<b>owned</b>"))
    assert outcome.failure == "protocol"


def test_ocr_words_are_checked_and_cleaned() -> None:
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "5\t1\t1\t1\t1\t1\t10\t20\t30\t12\t96.5\tLaporan\n"
        "5\t1\t1\t1\t1\t2\t50\t20\t30\t12\t91\tsu\x1bap\u202e\n"
        "5\t1\t1\t1\t1\t3\t1750\t20\t30\t12\t91\toutside\n"
        "5\t1\t1\t1\t1\t4\t-5\t20\t30\t12\t91\tnegative\n"
        "4\t1\t1\t1\t1\t0\t10\t20\t30\t12\t-1\t\n"
        "5\t1\t1\t1\t1\t5\tx\t20\t30\t12\t91\tbroken\n"
    ).encode()
    assert pixels.parse_tsv(tsv, 1754) == [(10, 20, 30, 12, "Laporan"), (50, 20, 30, 12, "suap")]
    data = (
        record(b"PAGS", struct.pack(">II", 1, 1))
        + page(2, 2)
        + record(b"OCRT", tsv)
        + record(b"DONE")
    )
    outcome, _pages = read(data)
    assert outcome.words == [[(10, 20, 30, 12, "Laporan"), (50, 20, 30, 12, "suap")]]


def test_a_page_without_colour_is_stored_grey() -> None:
    grey = pixels.png_page(2, 1, bytes([10, 10, 10, 200, 200, 200]))
    colour = pixels.png_page(2, 1, bytes([10, 10, 10, 200, 0, 0]))
    assert grey[25] == 0 and colour[25] == 2  # PNG colour type: 0 grey, 2 RGB


# -- text -----------------------------------------------------------------------------------------


def test_html_becomes_text_with_every_tag_stripped_and_no_link() -> None:
    markup = (
        b"<html><head><title>Judul</title><style>p{color:red}</style></head><body>"
        b"<h1>Bukti &amp; saksi</h1><p onclick='x()'>Lihat <a href='http://evil.example'>di sini"
        b"</a></p><img src=x onerror=alert(1)><!-- komentar rahasia --><script>alert(2)</script>"
        b"&lt;script&gt;</body></html>"
    )
    shown, cut = text.plain_text(markup, is_html=True)
    assert not cut
    assert "Bukti & saksi" in shown and "Lihat di sini" in shown
    assert "<" not in shown.replace("<script>", "")  # only the escaped text stays a "tag"
    for gone in ("href", "onclick", "onerror", "komentar rahasia", "<img", "<a "):
        assert gone not in shown
    assert "<script>" in shown  # &lt;script&gt; was text, and is shown as the text it was


def test_text_is_decoded_and_made_safe_to_show() -> None:
    assert text.plain_text(b"\xef\xbb\xbfHalo\r\ndunia", False) == ("Halo\ndunia", False)
    assert text.plain_text("Halo".encode("utf-16"), False) == ("Halo", False)
    assert text.plain_text(b"Caf\xe9", False) == ("Caf\u00e9", False)
    controls = "a\x1b[2Jb\u202e".encode()
    assert text.plain_text(controls, False)[0] == "a\\u001b[2Jb\\u202e"
    cut_inside = b"x" * (text.MAX_SOURCE_BYTES - 1) + "\u00e9".encode()
    assert text.plain_text(cut_inside, False) == ("x" * (text.MAX_SOURCE_BYTES - 1), True)
    shown, cut = text.plain_text(b"x" * (text.MAX_SOURCE_BYTES + 10), False)
    assert cut and len(shown) == text.MAX_SOURCE_BYTES


# -- the seccomp program and the sandbox's command line -------------------------------------------


def test_the_seccomp_program_is_well_formed_bpf() -> None:
    program = seccomp.program("x86_64")
    assert program is not None and len(program) % 8 == 0
    ops = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert len(ops) < 4096  # the kernel's BPF_MAXINSNS
    assert ops[0] == (0x20, 0, 0, 4) and ops[1][3] == seccomp.AUDIT_ARCH_X86_64
    assert ops[-1] == (0x06, 0, 0, 0x7FFF0000)  # the default: allow
    for index, (code, jt, jf, _k) in enumerate(ops):
        if code & 0x07 == 0x05:  # a jump stays inside the program
            assert index + 1 + max(jt, jf) < len(ops)
    denied = {k for code, _jt, _jf, k in ops if code == 0x15}
    assert {101, 165, 272, 308, 321, 425} <= denied  # ptrace, mount, unshare, setns, bpf, uring
    assert seccomp.program("aarch64") is None


def test_the_sandbox_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = sandbox.Limits(cpu_seconds=7, address_space=1 << 30, processes=9)
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    argv = sandbox.command(["python3", "-I", "x"], {"input.pdf": 5}, limits, 6)
    assert argv[0] == "bwrap"
    for option in (
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ):
        assert option in argv
    assert argv[argv.index("--seccomp") + 1] == "6"
    assert argv[argv.index("--ro-bind-data") + 1 : argv.index("--ro-bind-data") + 3] == [
        "5",
        "/sandbox/input.pdf",
    ]
    binds = [argv[i + 1] for i, word in enumerate(argv) if word in ("--bind", "--bind-try")]
    assert binds == []  # nothing of the host is writable
    ro = [argv[i + 1] for i, word in enumerate(argv) if word in ("--ro-bind", "--ro-bind-try")]
    assert set(ro) <= {
        "/usr",
        "/etc/fonts",
        "/etc/libreoffice",
        "/var/cache/fontconfig",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
    }
    tail = argv[argv.index("prlimit") :]
    assert tail[:7] == [
        "prlimit",
        "--cpu=7",
        f"--as={1 << 30}",
        f"--fsize={512 << 20}",
        "--nproc=9",
        "--nofile=256",
        "--core=0",
    ]
    assert tail[-3:] == ["python3", "-I", "x"]
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    as_root = sandbox.command(["true"], {}, limits, None)
    assert as_root[:5] == ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    with pytest.raises(ValueError):
        sandbox.command(["true"], {"../escape": 5}, limits, None)


def test_safe_copy_names() -> None:
    assert copies.copy_name("laporan.docx", "pdf") == "laporan.safe.pdf"
    assert copies.copy_name("foto (2).png", "png") == "foto (2).safe.png"
    assert copies.copy_name("bashrc", "txt") == "bashrc.safe.txt"

"""Hostile files through the real sandbox (the hostile suite): what a reporter, or someone posing
as one, could send to attack the console, converted as the console converts them.

The samples are made by the tests (support/hostile_files.py): a PDF with JavaScript, an
OpenAction, a Launch action, a link and an embedded file; an office document with a macro bound
to its load event; HTML that loads an image from the network and one from a host file; a
decompression-bomb PNG; a PDF of 10,000 pages; a photo with GPS EXIF, XMP and a comment; a PNG
with every kind of metadata chunk; a JPEG/PDF/HTML polyglot named invoice.pdf; text with terminal
controls; an archive and a program. Each safe PDF is then inspected from the outside (pdffonts,
qpdf --json): images only. The sandbox itself is attacked by programs run in it, and a subverted
converter by a fake one that lies in its output.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from journalist_console.errors import Unreadable
from journalist_console.rendition import copies, jobs, messages, pixels, sandbox, store
from journalist_console.rendition.sandbox import Limits
from keys import payload
from support import hostile_files as hostile
from support.renditions import (
    Console,
    console_with_files,
    inspect_pdf,
    png_chunks,
    tools_missing,
)
from support.renditions import (
    pixels as image_of,
)

MISSING = tools_missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]

OPTIONS = jobs.Options(
    limits=Limits(cpu_seconds=60, wall_seconds=120), bounds=pixels.Bounds(max_pages=5)
)
# What the documents' text and markers must never leave behind outside the encrypted store.
SECRET_TEXT = "Bukti transfer"
FORBIDDEN_KEYS = {
    "/JS",
    "/JavaScript",
    "/OpenAction",
    "/AA",
    "/Launch",
    "/URI",
    "/EmbeddedFile",
    "/EmbeddedFiles",
    "/Names",
    "/AcroForm",
    "/XFA",
    "/Annots",
    "/Font",
    "/FontFile",
    "/FontFile2",
    "/FontFile3",
    "/Action",
    "/A",
    "/F",
    "/EF",
    "/RichMedia",
    "/SubmitForm",
}
IMAGE_OPERATORS = {"q", "Q", "cm", "Do"}


def _png_with_metadata() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"tEXt", b"Author\x00" + hostile.GPS_MARK.encode())
        + chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"GPS -6.2,106.8"))
        + chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>secret")
        + chunk(b"eXIf", b"MM\x00*secret-exif")
        + chunk(b"tIME", b"\x07\xe9\x01\x02\x03\x04\x05")
        + chunk(b"prVt", b"vendor secret")
        + chunk(b"IDAT", zlib.compress(b"\x00" + bytes([255, 0, 0, 0, 0, 255])))
        + chunk(b"IEND", b"")
        + b"trailing secret"
    )


def _rgb(image: object) -> Iterator[tuple[int, int, int]]:
    data = image.tobytes()  # type: ignore[attr-defined]
    return zip(data[0::3], data[1::3], data[2::3], strict=True)


class Listener:
    """A TCP port on the host's loopback that counts who connects (nobody may)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def _listing(root: Path) -> set[str]:
    try:
        return {str(path) for path in root.rglob("*")}
    except OSError:
        return set()


def _host_traces() -> set[str]:
    """Files a converter running outside a sandbox would leave in the host's shared places."""
    found = set()
    for place in (Path("/tmp"), Path("/dev/shm"), Path.home()):  # noqa: S108 - inspected only
        try:
            names = [entry.name for entry in place.iterdir()]
        except OSError:
            continue
        found |= {f"{place}/{name}" for name in names if "wbs-macro" in name}
    return found


@dataclass
class Converted:
    console: Console
    tmp: Path
    listener: Listener
    canary: Path
    made: dict[str, store.Rendition] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    before: set[str] = field(default_factory=set)
    after: set[str] = field(default_factory=set)
    traces: set[str] = field(default_factory=set)

    def safe(self, name: str) -> tuple[str, bytes]:
        made = copies.main_copy(self.console.session, self.made[name])
        assert made is not None, name
        return made

    def safe_pdf(self, name: str) -> Path:
        rendition = self.made[name]
        pages = [
            copies.page(self.console.session, rendition, n) for n in range(1, rendition.pages + 1)
        ]
        path = self.tmp / f"{name}.safe.pdf"
        from journalist_console.rendition import pdf

        path.write_bytes(pdf.build(pages))
        return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Converted]:
    tmp = tmp_path_factory.mktemp("hostile-renditions")
    canary = tmp / "canary.png"
    from PIL import Image

    Image.new("RGB", (120, 120), (255, 0, 0)).save(canary)
    listener = Listener()
    url = f"http://127.0.0.1:{listener.port}"
    files = [
        ("actions.pdf", "application/pdf", hostile.pdf_with_actions()),
        ("pages.pdf", "application/pdf", hostile.pdf_pages(10_000)),
        (
            "macro.odt",
            "application/vnd.oasis.opendocument.text",
            hostile.odt(["Rapat anggaran", "Notulen"], macro=True),
        ),
        ("page.html", "text/html", hostile.html_reaching_out(url, str(canary))),
        ("bomb.png", "image/png", hostile.png_bomb(40_000)),
        ("photo.jpg", "image/jpeg", hostile.jpeg_with_gps()),
        ("metadata.png", "image/png", _png_with_metadata()),
        ("invoice.pdf", "application/pdf", hostile.polyglot()),
        (
            "notes.txt",
            "text/plain",
            b"Halo\x1b]0;owned\x07 \xe2\x80\xaegnp.exe http://attacker.example/x\n",
        ),
        ("bundle.zip", "application/zip", b"PK\x03\x04" + b"\x00" * 60),
        ("setup.exe", "application/octet-stream", b"MZ\x90\x00" + b"\x00" * 60),
    ]
    console = console_with_files(tmp, files)
    result = Converted(console, tmp, listener, canary)
    result.before = _listing(tmp)
    try:
        for name, entry_id in console.entries.items():
            started = time.monotonic()
            made = jobs.make(console.session, entry_id, OPTIONS)
            result.seconds[name] = time.monotonic() - started
            assert made is not None, name
            result.made[name] = made
        result.after = _listing(tmp)
        result.traces = _host_traces()
        yield result
    finally:
        listener.close()
        console.session.close()


# -- what comes out is pixels, and only pixels ----------------------------------------------------


def test_the_pdf_with_scripts_and_actions_becomes_one_page_of_pixels(converted: Converted) -> None:
    made = converted.made["actions.pdf"]
    assert (made.format, made.pages, made.total_pages, made.problem) == ("pdf", 1, 1, None)
    page = image_of(copies.page(converted.console.session, made, 1))
    blue = sum(1 for r, g, b in _rgb(page) if b > 200 and r < 60 and g < 60)
    assert blue > 1000  # the page was really rendered: its blue box is there, as pixels


def test_every_safe_pdf_is_images_only(converted: Converted) -> None:
    """No fonts, no JavaScript, no actions, no links, no forms, no embedded files: checked by
    pdffonts and qpdf, on every rendition made of a document."""
    documents = [name for name, made in converted.made.items() if made.pages]
    assert {"actions.pdf", "pages.pdf", "macro.odt", "page.html"} <= set(documents)
    for name in documents:
        facts = inspect_pdf(converted.safe_pdf(name))
        assert facts.fonts == [], name
        assert facts.keys & FORBIDDEN_KEYS == set(), name
        assert facts.names & FORBIDDEN_KEYS == set(), name
        assert facts.attachments == 0, name
        assert facts.pages == converted.made[name].pages
        assert facts.images_per_page == [1] * facts.pages, name
        assert facts.operators <= IMAGE_OPERATORS, (name, facts.operators)
        assert facts.strings == [], name  # not even a title or producer string


def test_the_office_macro_never_ran(converted: Converted) -> None:
    made = converted.made["macro.odt"]
    assert (made.format, made.problem) == ("office", None) and made.pages >= 1
    assert converted.traces == set()
    assert not any("wbs-macro" in path for path in converted.after)


def test_html_reaches_neither_the_network_nor_the_host_files(converted: Converted) -> None:
    made = converted.made["page.html"]
    assert (made.format, made.problem) == ("html", None) and made.pages >= 1
    assert converted.listener.connections == 0
    for number in range(1, made.pages + 1):
        page = image_of(copies.page(converted.console.session, made, number))
        red = sum(1 for r, g, b in _rgb(page) if r > 200 and g < 40 and b < 40)
        assert red < 100  # the host's red canary image never reached the page
    text = copies.text(converted.console.session, made)
    assert text is not None and SECRET_TEXT in text and "tautan" in text
    for markup in ("<img", "<script", "<a ", "href", "<iframe", "http://127.0.0.1"):
        assert markup not in text
    assert "root:x:0:0" not in text


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice missing")
def test_control_outside_the_sandbox_the_same_html_does_reach_out(tmp_path: Path) -> None:
    """The positive control: LibreOffice run directly on the HTML fetches the URL and the host
    file. (Only the test does this; the console never runs a converter outside the sandbox.)"""
    from PIL import Image

    canary = tmp_path / "canary.png"
    Image.new("RGB", (120, 120), (255, 0, 0)).save(canary)
    listener = Listener()
    try:
        html = tmp_path / "page.html"
        html.write_bytes(
            hostile.html_reaching_out(f"http://127.0.0.1:{listener.port}", str(canary))
        )
        profile = tmp_path / "profile"
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(tmp_path),
                str(html),
            ],
            capture_output=True,
            timeout=120,
            check=True,
            env=dict(os.environ, HOME=str(tmp_path)),
        )
        images = subprocess.run(
            ["pdfimages", "-list", str(tmp_path / "page.pdf")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        listener.close()
    assert listener.connections > 0
    assert " 120   120 " in images  # the canary, read from the host's disk


def test_the_decompression_bomb_is_refused_before_decoding(converted: Converted) -> None:
    made = converted.made["bomb.png"]
    assert (made.format, made.problem, made.pages) == ("image", "image_too_large", 0)
    assert converted.seconds["bomb.png"] < 15
    assert copies.main_copy(converted.console.session, made) is None
    assert str(messages.problem(made)).startswith("The image has too many pixels")


def test_ten_thousand_pages_are_cut_to_the_bound_and_said_so(converted: Converted) -> None:
    made = converted.made["pages.pdf"]
    assert (made.pages, made.total_pages, made.problem) == (5, 10_000, None)
    assert made.cut_short
    (note,) = messages.notes(made)
    assert str(note).startswith("Only the first 5 of 10000 pages were converted")
    assert pixels.Bounds().max_pages == 100  # the console's own bound (docs/console-design.md)


def test_the_photo_keeps_its_pixels_and_loses_its_metadata(converted: Converted) -> None:
    made = converted.made["photo.jpg"]
    assert (made.format, made.pages, made.problem) == ("image", 1, None)
    extension, data = converted.safe("photo.jpg")
    assert extension == "png"
    assert png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"]
    for secret in (hostile.GPS_MARK.encode(), b"Exif", b"xmpmeta", b"WBS-Test-Maker", b"GPS"):
        assert secret not in data
    image = image_of(data)
    assert image.size == (320, 200)
    left, right = image.getpixel((40, 100)), image.getpixel((280, 100))
    assert left[2] > 180 and left[0] < 60  # blue half
    assert right[0] > 150 and right[2] < 80  # red half


def test_every_png_metadata_chunk_is_gone(converted: Converted) -> None:
    extension, data = converted.safe("metadata.png")
    assert extension == "png" and png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"]
    for secret in (b"secret", b"GPS", b"xmp", b"exif", b"vendor", hostile.GPS_MARK.encode()):
        assert secret not in data
    assert image_of(data).getpixel((0, 0)) == (255, 0, 0)


def test_the_polyglot_is_read_as_what_its_bytes_begin_with(converted: Converted) -> None:
    """Named invoice.pdf and declared application/pdf, it starts as a JPEG: it is rendered as
    that image, and neither its PDF nor its HTML reaches any reader."""
    made = converted.made["invoice.pdf"]
    assert (made.format, made.detail, made.pages, made.problem) == ("image", "jpg", 1, None)
    extension, data = converted.safe("invoice.pdf")
    assert extension == "png" and b"%PDF" not in data and b"alert" not in data


def test_text_is_shown_as_text_with_controls_made_visible(converted: Converted) -> None:
    made = converted.made["notes.txt"]
    assert (made.format, made.pages, made.problem) == ("text", 0, None)
    text = copies.text(converted.console.session, made)
    assert text == "Halo\\u001b]0;owned\\u0007 \\u202egnp.exe http://attacker.example/x"


def test_archives_and_programs_get_no_rendition_and_a_plain_warning(
    converted: Converted,
) -> None:
    for name, kind, start in (
        ("bundle.zip", "archive", "This is an archive"),
        ("setup.exe", "program", "This is a program"),
    ):
        made = converted.made[name]
        assert (made.format, made.detail, made.pages, made.has_text) == ("other", kind, 0, False)
        assert str(messages.problem(made)).startswith(start)
        assert copies.main_copy(converted.console.session, made) is None


def test_every_conversion_finished_within_its_limits(converted: Converted) -> None:
    assert len(converted.seconds) == 11
    for name, seconds in converted.seconds.items():
        assert seconds < OPTIONS.limits.wall_seconds, name
        assert converted.made[name].problem not in ("timeout", "limit", "crashed", "protocol")


def test_nothing_was_written_outside_the_encrypted_store(converted: Converted) -> None:
    home = converted.console.home
    new = converted.after - converted.before
    allowed = str(home / "store" / "renditions")
    assert {path for path in new if not path.startswith(allowed)} == set()
    assert {Path(path).suffix for path in new} == {".env"}
    assert converted.traces == set()
    assert list((home / "staging").iterdir()) == []


def test_renditions_are_stored_encrypted_and_vouched_for(converted: Converted) -> None:
    session = converted.console.session
    folder = converted.console.home / "store" / "renditions"
    for path in folder.iterdir():
        raw = path.read_bytes()
        assert raw.startswith(b"WBSENV")
        for needle in (b"\x89PNG", SECRET_TEXT.encode(), b"Halo", b"IDAT"):
            assert needle not in raw, path.name
    made = converted.made["photo.jpg"]
    part = session.home.rendition_path(made.entry_id, "p0001")
    genuine = part.read_bytes()
    # Anyone holding the public inspectorate key can seal a part; the database's digest refuses it.
    meta = {"kind": store.KIND, "entry_id": made.entry_id, "part": "p0001"}
    forged = b"\x89PNG\r\n\x1a\n planted by someone with the public key"
    part.write_bytes(payload.seal_bytes(meta, forged, [session.vault.identity.public_key]))
    try:
        with pytest.raises(Unreadable, match="changed"):
            copies.page(session, made, 1)
    finally:
        part.write_bytes(genuine)
    assert copies.page(session, made, 1).startswith(b"\x89PNG")


# -- limits: a conversion that runs away is stopped and reported, never waited for --------------


def test_a_conversion_past_its_wall_clock_is_killed_and_reported(converted: Converted) -> None:
    session = converted.console.session
    entry_id = converted.console.entries["pages.pdf"]
    store.forget(session, entry_id)
    hurried = jobs.Options(limits=Limits(wall_seconds=3), bounds=pixels.Bounds(max_pages=100))
    started = time.monotonic()
    made = jobs.make(session, entry_id, hurried)
    assert time.monotonic() - started < 15
    assert made is not None and made.problem == "timeout" and made.pages < 100
    assert str(messages.problem(made)) == "The conversion took too long and was stopped."
    store.forget(session, entry_id)
    assert jobs.make(session, entry_id, OPTIONS) is not None


def test_a_conversion_past_its_memory_limit_is_stopped_and_reported(converted: Converted) -> None:
    session = converted.console.session
    entry_id = converted.console.entries["macro.odt"]
    store.forget(session, entry_id)
    starved = jobs.Options(limits=Limits(address_space=200 << 20, wall_seconds=60))
    started = time.monotonic()
    made = jobs.make(session, entry_id, starved)
    assert time.monotonic() - started < 60
    assert made is not None and made.pages == 0 and made.problem in ("limit", "unreadable")
    store.forget(session, entry_id)
    assert jobs.make(session, entry_id, OPTIONS) is not None


# -- the sandbox itself, against a program that attacks it ----------------------------------------

ESCAPE_ATTEMPTS = r"""
import ctypes, os, socket, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
def result(rc):
    return "refused" if rc == -1 else "ALLOWED"
def attempt(label, action):
    try:
        action()
        print(label + ": ALLOWED")
    except OSError as exc:
        print(label + ": refused " + type(exc).__name__)
print("uid: %d" % os.getuid())
status = open("/proc/self/status").read()
print("nonewprivs: " + status.split("NoNewPrivs:")[1].split()[0])
print("seccomp: " + status.split("Seccomp:")[1].split()[0])
attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
attempt("read home", lambda: os.listdir(os.environ.get("TARGET_HOME", "/root")))
attempt("read console home", lambda: os.listdir(sys.argv[1]))
attempt("write /usr", lambda: open("/usr/wbs-escape", "w"))
attempt("write /sandbox", lambda: open("/sandbox/wbs-escape", "w"))
attempt("write /dev/shm", lambda: open("/dev/shm/wbs-escape", "w"))
attempt("write /etc", lambda: open("/etc/wbs-escape", "w"))
attempt("write /", lambda: open("/wbs-escape", "w"))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2))
attempt("inet socket", lambda: socket.socket(socket.AF_INET))
attempt("netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
print("unshare user: " + result(libc.unshare(0x10000000)))
print("ptrace: " + result(libc.ptrace(16, 1, 0, 0)))
print("mount: " + result(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
print("root files: " + " ".join(sorted(os.listdir("/"))))
"""


def test_a_program_in_the_sandbox_reaches_nothing_of_the_host(converted: Converted) -> None:
    home = str(converted.console.home)
    argv = ["python3", "-I", "-c", ESCAPE_ATTEMPTS, home, str(converted.listener.port)]
    with sandbox.Run(argv, {}, Limits(wall_seconds=30)) as run:
        output = b""
        while not run.at_end():
            output += run.read_exact(1)
        assert run.wait() == 0, run.stderr_tail
    lines = dict(line.split(": ", 1) for line in output.decode().splitlines())
    assert lines["uid"] == "65534" and lines["nonewprivs"] == "1" and lines["seccomp"] == "2"
    for label in (
        "read /etc/passwd",
        "read home",
        "read console home",
        "write /usr",
        "write /sandbox",
        "write /",
        "write /dev/shm",
        "write /etc",
        "connect",
        "inet socket",
        "netlink socket",
    ):
        assert lines[label].startswith("refused"), (label, lines[label])
    for label in ("unshare user", "ptrace", "mount"):
        assert lines[label] == "refused", label
    visible = set(lines["root files"].split())
    assert visible <= {
        "bin",
        "dev",
        "etc",
        "lib",
        "lib64",
        "proc",
        "sandbox",
        "sbin",
        "tmp",
        "usr",
        "var",
        "lib32",
    }
    assert converted.listener.connections == 0


@pytest.mark.parametrize(
    ("program", "limits", "expected"),
    [
        ("while True: pass", Limits(cpu_seconds=2, wall_seconds=30), "limit"),
        ("import time; time.sleep(600)", Limits(wall_seconds=2), "timeout"),
        ("x = bytearray(3 << 30); print(len(x))", Limits(address_space=1 << 30), "MemoryError"),
        ("open('/tmp/big', 'wb').write(bytes(8 << 20))", Limits(file_size=1 << 20), "File too"),
    ],
)
def test_limits_stop_a_runaway_program(program: str, limits: Limits, expected: str) -> None:
    started = time.monotonic()
    outcome = ""
    with sandbox.Run(["python3", "-I", "-c", program], {}, limits) as run:
        try:
            while not run.at_end():
                run.read_exact(1)
            status = run.wait()
            outcome = sandbox.describe_exit(status) if status > 128 else str(status)
        except sandbox.SandboxTimeout:
            outcome = "timeout"
        outcome += " " + run.stderr_tail.decode(errors="replace")
    assert expected in outcome, outcome
    assert time.monotonic() - started < limits.wall_seconds + 5


def test_the_process_limit_counts_the_sandbox_processes() -> None:
    program = (
        "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            import time; time.sleep(5); os._exit(0)\n        n += 1\n"
        "except OSError:\n    print(n)"
    )
    with sandbox.Run(["python3", "-I", "-c", program], {}, Limits(processes=16)) as run:
        output = b""
        while not run.at_end():
            output += run.read_exact(1)
    assert 0 < int(output) < 16


# -- a subverted converter cannot reach the trusted half's parsers -------------------------------

LIAR = r"""
import struct, sys
out = sys.stdout.buffer
case = sys.argv[1]
def record(tag, body):
    out.write(struct.pack(">4sI", tag, len(body)) + body)
if case == "huge":
    record(b"PAGS", struct.pack(">II", 1, 1))
    out.write(struct.pack(">4sI", b"PAGE", 0xFFFFFFFF) + struct.pack(">II", 100000, 100000))
elif case == "mismatch":
    record(b"PAGS", struct.pack(">II", 1, 1))
    record(b"PAGE", struct.pack(">II", 10, 10) + bytes(10))
elif case == "pages":
    record(b"PAGS", struct.pack(">II", 10**9, 10**9))
elif case == "extra":
    record(b"PAGS", struct.pack(">II", 1, 1))
    record(b"PAGE", struct.pack(">II", 1, 1) + bytes(3))
    record(b"PAGE", struct.pack(">II", 1, 1) + bytes(3))
elif case == "text":
    record(b"FAIL", b"<script>alert(1)</script>")
elif case == "png":
    record(b"PAGS", struct.pack(">II", 1, 1))
    record(b"PNG!", open("/proc/self/exe", "rb").read(4096))
out.flush()
"""


@pytest.mark.parametrize("case", ["huge", "mismatch", "pages", "extra", "png"])
def test_a_lying_converter_is_refused_before_anything_is_read(case: str) -> None:
    received: list[bytes] = []
    with sandbox.Run(["python3", "-I", "-c", LIAR, case], {}) as run:
        with pytest.raises(pixels.ProtocolError):
            pixels.read_stream(run, pixels.Bounds(), lambda n, of, png: received.append(png))
    assert received == [] or case == "extra" and len(received) == 1


def test_a_lying_converter_cannot_put_words_in_the_console_s_mouth() -> None:
    with sandbox.Run(["python3", "-I", "-c", LIAR, "text"], {}) as run:
        outcome = pixels.read_stream(run, pixels.Bounds(), lambda n, of, png: None)
    assert outcome.failure == "protocol"  # a code from the list, never the sandbox's text


def test_ocr_makes_the_safe_pdf_searchable_with_one_named_font(converted: Converted) -> None:
    """With OCR on (config --ocr on), tesseract reads the pages in the sandbox; the safe PDF gets
    an invisible text layer in Helvetica, named and never embedded, and nothing else."""
    session = converted.console.session
    entry_id = converted.console.entries["macro.odt"]
    store.forget(session, entry_id)
    made = jobs.make(session, entry_id, jobs.dataclasses.replace(OPTIONS, ocr=True))
    assert made is not None and made.ocr and made.problem is None
    extension, data = copies.main_copy(session, made) or ("", b"")
    path = converted.tmp / "ocr.safe.pdf"
    path.write_bytes(data)
    assert extension == "pdf"
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "anggaran" in text.lower() and "notulen" in text.lower()
    facts = inspect_pdf(path)
    assert len(facts.fonts) == 1 and facts.fonts[0].split()[0] == "Helvetica"
    assert facts.fonts[0].split()[-5] == "no"  # not embedded
    assert facts.keys & FORBIDDEN_KEYS == {"/Font"}
    assert facts.operators <= IMAGE_OPERATORS | {"BT", "ET", "Tr", "Tf", "Tz", "Tm", "Tj"}
    assert all(re.fullmatch(r"b:[0-9a-f]{32}", string) for string in facts.strings)  # the /ID
    store.forget(session, entry_id)
    assert jobs.make(session, entry_id, OPTIONS) is not None

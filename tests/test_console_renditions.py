"""Safe renditions in the console: the web page, the command line, the store's life cycle (the
schema migration, retention, orphans, locking during a conversion) and a workstation without a
sandbox. The hostile files themselves are tests/test_hostile_renditions.py."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from journalist_console import dates, schema
from journalist_console.cli import main
from journalist_console.home import Home
from journalist_console.rendition import jobs, pixels, sandbox, store, worker
from journalist_console.session import Session
from journalist_console.web import create_app
from support import hostile_files as hostile
from support.bundles import FakeServer
from support.instances import PASSPHRASE, init_console, write_passphrase_file
from support.renditions import tools_missing

MISSING = tools_missing()
needs_tools = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
TEXT = b"Saksi melihat amplop diserahkan di parkiran."


@dataclass
class Web:
    tmp: Path
    home: Path
    server: FakeServer
    app: Flask
    client: FlaskClient

    def token(self, path: str) -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)

    def post(self, path: str, data: dict[str, object], page: str) -> TestResponse:
        return self.client.post(path, data={"csrf_token": self.token(page), **data})

    def unlock(self) -> None:
        response = self.post("/unlock", {"passphrase": PASSPHRASE}, "/unlock")
        assert response.status_code == 302

    @property
    def session(self) -> Session:
        session = self.app.extensions["wbs_console"].session
        assert session is not None
        return session

    def upload(self, bundle: Path) -> TestResponse:
        return self.client.post(
            "/import",
            data={
                "csrf_token": self.token("/import"),
                "bundle": (io.BytesIO(bundle.read_bytes()), "b.bundle"),
            },
            content_type="multipart/form-data",
        )


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 3, 10))
    home = tmp_path / "home"
    init_console(home)
    server = FakeServer()
    pub = server.write_verify_key(tmp_path / "server.pub")
    first = server.add_report(files=[("awal.txt", "text/plain", b"awal")])
    bundle = tmp_path / "b1.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    pp = write_passphrase_file(tmp_path / "pp")
    argv = ["import", str(bundle), "--server-key", str(pub), "--home", str(home)]
    assert main([*argv, "--passphrase-file", str(pp)]) == 0
    assert first
    app = create_app(Home(home))
    result = Web(tmp_path, home, server, app, app.test_client())
    yield result
    app.extensions["wbs_console"].shutdown()


def _rendition_files(home: Path) -> list[Path]:
    folder = home / "store" / "renditions"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@needs_tools
def test_a_web_import_converts_every_file_in_the_background(web: Web) -> None:
    web.unlock()
    regno = web.server.add_report(
        files=[
            (
                "laporan.odt",
                "application/vnd.oasis.opendocument.text",
                hostile.odt(["Halaman satu", "Halaman dua"], page_breaks=True),
            ),
            ("saksi.txt", "text/plain", TEXT),
        ]
    )
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    assert web.upload(bundle).status_code == 302
    assert worker.background(web.session).wait_idle(120)
    made = store.of_entries(web.session.conn, store.missing(web.session.conn))
    assert made == {}  # nothing left without a rendition: the import queued them all
    page = web.client.get(f"/report/{regno}").get_data(as_text=True)
    assert page.count('<img class="page"') == 2
    assert "Saksi melihat amplop diserahkan di parkiran." in page
    assert "Sedang dikonversi" not in page and "Menunggu giliran" not in page


@needs_tools
def test_the_page_shows_progress_while_converting_and_locking_stops_it(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = jobs.Options(bounds=pixels.Bounds(max_pages=100))
    monkeypatch.setattr(jobs, "DEFAULT_OPTIONS", slow)
    regno = web.server.add_report(files=[("tebal.pdf", "application/pdf", hostile.pdf_pages(400))])
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    pp = write_passphrase_file(web.tmp / "pp")
    web.app.extensions["wbs_console"].lock.release()  # the CLI imports while the app waits
    pub = web.tmp / "server.pub"
    argv = ["import", str(bundle), "--server-key", str(pub), "--home", str(web.home)]
    assert main([*argv, "--passphrase-file", str(pp)]) == 0
    web.app.extensions["wbs_console"].lock.acquire()
    web.unlock()
    page = web.client.get(f"/report/{regno}").get_data(as_text=True)
    assert "Menunggu giliran" in page or "Sedang dikonversi" in page
    converter = worker.background(web.session)
    for _ in range(200):
        progress = [converter.progress(entry) for entry in store.missing(web.session.conn)]
        if any(p and p[0] > 0 for p in progress):
            break
        time.sleep(0.1)
    page = web.client.get(f"/report/{regno}").get_data(as_text=True)
    assert re.search(r"Sedang dikonversi di dalam sandbox: halaman \d+ dari 100\.", page)
    assert "Muat ulang" in page and "http-equiv" not in page  # a link, no script, no refresh
    assert web.post("/lock", {}, "/").status_code == 302
    assert not converter._thread.is_alive()
    conn = schema.connect(Home(web.home).database, _db_key(web.home))
    try:
        rows = conn.execute("SELECT count(*) FROM renditions").fetchone()[0]
    finally:
        conn.close()
    assert rows <= 1  # the first report's text file at most; the PDF was cancelled
    assert not [path for path in _rendition_files(web.home) if path.suffix == ".partial"]


def _db_key(home: Path) -> bytes:
    from journalist_console.vault import open_vault

    return open_vault(Home(home), PASSPHRASE.encode()).db_key


@needs_tools
def test_pages_and_copies_are_refused_to_a_recused_investigator(web: Web) -> None:
    web.unlock()
    regno = web.server.add_report(files=[("foto.jpg", "image/jpeg", hostile.jpeg_with_gps())])
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    assert web.upload(bundle).status_code == 302
    assert worker.background(web.session).wait_idle(120)
    page = web.client.get(f"/report/{regno}").get_data(as_text=True)
    (image,) = re.findall(r'<img class="page" src="([^"]+)"', page)
    assert web.client.get(image).status_code == 200
    report = f"/report/{regno}"
    assert web.post(f"{report}/recuse", {"confirm": "yes"}, report).status_code == 302
    assert web.client.get(image).status_code == 403
    assert web.client.get(image.rsplit("/page/", 1)[0] + "/safe").status_code == 403
    assert web.client.get(image.rsplit("/page/", 1)[0]).status_code == 403


@needs_tools
def test_a_rendition_that_no_longer_opens_can_be_made_again(web: Web) -> None:
    """A part sealed to a key the console no longer holds (or damaged) is said to be unreadable,
    and "Convert again" makes the rendition anew."""
    web.unlock()
    regno = web.server.add_report(files=[("foto.jpg", "image/jpeg", hostile.jpeg_with_gps())])
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    assert web.upload(bundle).status_code == 302
    assert worker.background(web.session).wait_idle(120)
    (part,) = (web.home / "store" / "renditions").glob("*-p0001.env")
    part.write_bytes(part.read_bytes()[:-40])  # damaged
    report = f"/report/{regno}"
    page = web.client.get(report).get_data(as_text=True)
    assert "Konversi ulang" in page
    (action,) = re.findall(r'action="(/report/[^"]+/convert)"', page)
    assert web.post(action, {}, report).status_code == 302
    assert worker.background(web.session).wait_idle(120)
    page = web.client.get(report).get_data(as_text=True)
    assert "Konversi ulang" not in page
    (image,) = re.findall(r'<img class="page" src="([^"]+)"', page)
    assert web.client.get(image).status_code == 200


def test_a_workstation_without_sandbox_says_so_and_converts_nothing(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "missing programs: bwrap")
    web.unlock()
    regno = web.server.add_report(files=[("a.pdf", "application/pdf", hostile.pdf_pages(1))])
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    assert web.upload(bundle).status_code == 302
    assert worker.background(web.session).wait_idle(30)
    page = web.client.get(f"/report/{regno}").get_data(as_text=True)
    assert "tidak dapat dikonversi di komputer ini: missing programs: bwrap" in page
    assert "<img" not in page
    folder = web.tmp / "usb"
    folder.mkdir()
    report = f"/report/{regno}"
    assert web.post(f"{report}/save", {"folder": str(folder)}, report).status_code == 302
    assert [p.name for p in folder.iterdir()] == ["a.pdf"]  # the original only


@needs_tools
def test_a_missing_converter_is_named_and_nothing_is_stored(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sandbox.converters_missing
    monkeypatch.setattr(
        sandbox,
        "converters_missing",
        lambda route, ocr: ["soffice"] if route == "office" else real(route, ocr),
    )
    web.unlock()
    regno = web.server.add_report(
        files=[
            ("surat.odt", "application/vnd.oasis.opendocument.text", hostile.odt(["Surat"])),
            ("foto.jpg", "image/jpeg", hostile.jpeg_with_gps()),
        ]
    )
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    assert web.upload(bundle).status_code == 302
    assert worker.background(web.session).wait_idle(60)
    page = web.client.get(f"/report/{regno}").get_data(as_text=True)
    assert "tidak dapat dikonversi di komputer ini: missing programs: soffice" in page
    assert page.count('<img class="page"') == 1  # the photo was converted all the same
    formats = {r.format for r in store.of_entries(web.session.conn, _entries(web)).values()}
    assert "office" not in formats  # not stored: it converts once LibreOffice is installed


def _entries(web: Web) -> list[str]:
    return [row[0] for row in web.session.conn.execute("SELECT entry_id FROM entries")]


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Path, FakeServer]]:
    home = tmp_path / "home"
    init_console(home)
    yield home, FakeServer()


def _run(home: Path, *args: str | Path) -> int:
    pp = write_passphrase_file(home.parent / "pp")
    return main([*map(str, args), "--home", str(home), "--passphrase-file", str(pp)])


def _import(home: Path, server: FakeServer) -> None:
    bundle = home.parent / f"b{server.sequence + 1}.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    pub = server.write_verify_key(home.parent / "server.pub")
    assert _run(home, "import", bundle, "--server-key", pub) == 0


@needs_tools
def test_save_safe_only_writes_the_safe_copies_alone(
    cli: tuple[Path, FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    home, server = cli
    regno = server.add_report(
        files=[
            ("surat.pdf", "application/pdf", hostile.pdf_with_actions()),
            ("halaman.html", "text/html", b"<p>Isi <b>tebal</b> &amp; <a href='x'>tautan</a></p>"),
            ("arsip.zip", "application/zip", b"PK\x03\x04" + bytes(40)),
        ]
    )
    _import(home, server)
    out_dir = home.parent / "usb"
    out_dir.mkdir()
    capsys.readouterr()
    assert _run(home, "save", regno, "--out", out_dir, "--safe-only") == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "halaman.safe.pdf",
        "halaman.safe.txt",
        "surat.safe.pdf",
    ]
    assert (out_dir / "halaman.safe.txt").read_text() == "Isi tebal & tautan"
    assert (out_dir / "surat.safe.pdf").read_bytes().startswith(b"%PDF-")
    assert b"JavaScript" not in (out_dir / "surat.safe.pdf").read_bytes()
    assert "This is an archive: the console makes no safe copy of it." in out
    assert _run(home, "config", "--ocr", "on") == 0
    assert "OCR of safe copies: on" in capsys.readouterr().out


@needs_tools
def test_retention_wipes_a_report_s_renditions_with_it(
    cli: tuple[Path, FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, server = cli
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 1, 10))
    regno = server.add_report(day="2025-01-10", files=[("bukti.txt", "text/plain", TEXT)])
    _import(home, server)
    out_dir = home.parent / "usb"
    out_dir.mkdir()
    assert _run(home, "save", regno, "--out", out_dir) == 0
    assert _rendition_files(home)
    assert _run(home, "status", regno, "closed") == 0
    assert _run(home, "export", "--out", home.parent / "c1.bundle") == 0
    assert _run(home, "retention", "--as-of", "2026-06-01") == 0
    assert _rendition_files(home) == []
    conn = schema.connect(Home(home).database, _db_key(home))
    try:
        assert conn.execute("SELECT count(*) FROM renditions").fetchone()[0] == 0
    finally:
        conn.close()


def test_orphan_and_partial_renditions_are_wiped_at_unlock(cli: tuple[Path, FakeServer]) -> None:
    home, _server = cli
    folder = home / "store" / "renditions"
    folder.mkdir(parents=True, exist_ok=True)
    orphan = folder / f"{'a' * 32}-p0001.env"
    partial = folder / f"{'b' * 32}-text.0123456789abcdef.partial"
    orphan.write_bytes(b"WBSENV orphan")
    partial.write_bytes(b"WBSENV partial")
    with Session.open(Home(home), PASSPHRASE.encode()):
        pass
    assert _rendition_files(home) == []


def test_a_version_4_database_gains_the_renditions_table(cli: tuple[Path, FakeServer]) -> None:
    home, _server = cli
    conn = schema.connect(Home(home).database, _db_key(home))
    try:
        conn.execute("DROP TABLE renditions")
        schema.set_setting(conn, "schema_version", "4")
    finally:
        conn.close()
    with Session.open(Home(home), PASSPHRASE.encode()) as session:
        assert schema.get_setting(session.conn, "schema_version") == str(schema.SCHEMA_VERSION)
        assert session.conn.execute("SELECT count(*) FROM renditions").fetchone()[0] == 0

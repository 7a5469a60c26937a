"""The console's local web interface through the Flask test client (CSRF and headers enabled)."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from journalist_console import dates
from journalist_console.cli import main
from journalist_console.errors import ConsoleBusy
from journalist_console.home import Home, HomeLock
from journalist_console.rendition import worker
from journalist_console.web import create_app
from support.bundles import FakeServer, open_response, read_console_bundle
from support.instances import PASSPHRASE, init_console, write_passphrase_file


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"tEXt", b"GPS\x00-6.175,106.827")
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


@dataclass
class Web:
    tmp: Path
    home: Path
    server: FakeServer
    app: Flask
    client: FlaskClient
    late: str  # overdue, bribery, with files
    fresh: str  # not yet due, corruption

    def token(self, path: str = "/") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)

    def post(self, path: str, data: dict[str, Any], page: str | None = None) -> TestResponse:
        data = {"csrf_token": self.token(page or path), **data}
        return self.client.post(path, data=data)

    def unlock(
        self, client: FlaskClient | None = None, passphrase: str = PASSPHRASE
    ) -> TestResponse:
        client = client or self.client
        page = client.get("/unlock").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        return client.post("/unlock", data={"csrf_token": token.group(1), "passphrase": passphrase})

    def settle(self) -> None:
        """Wait until the background worker has converted what it was given."""
        session = self.app.extensions["wbs_console"].session
        assert session is not None
        assert worker.background(session).wait_idle(120)

    def cli(self, *args: str | Path) -> int:
        pp = write_passphrase_file(self.tmp / "pp")
        return main([*map(str, args), "--home", str(self.home), "--passphrase-file", str(pp)])


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 3, 10))
    home = tmp_path / "home"
    init_console(home)
    server = FakeServer()
    late = server.add_report(
        day="2025-01-31",
        category="bribery",
        what="Suap <script>alert(1)</script> perizinan",
        pseudonym="Melati",
        files=[("foto.png", "image/png", _png()), ("../catatan.txt", "text/plain", b"isi")],
    )
    fresh = server.add_report(day="2025-03-01", category="corruption")
    bundle = tmp_path / "b1.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    pp = write_passphrase_file(tmp_path / "pp")
    server_pub = server.write_verify_key(tmp_path / "server.pub")
    assert (
        main(
            [
                "import",
                str(bundle),
                "--server-key",
                str(server_pub),
                "--home",
                str(home),
                "--passphrase-file",
                str(pp),
            ]
        )
        == 0
    )
    app = create_app(Home(home))
    client = app.test_client()
    env = Web(tmp_path, home, server, app, client, late, fresh)
    yield env
    env.app.extensions["wbs_console"].shutdown()


# -- unlock, session, headers -----------------------------------------------------------------


def test_locked_console_asks_for_the_passphrase_in_the_page(web: Web) -> None:
    response = web.client.get("/")
    assert response.status_code == 302 and "/unlock" in response.headers["Location"]
    page = web.client.get("/unlock").get_data(as_text=True)
    assert 'type="password"' in page and 'name="passphrase"' in page
    wrong = web.unlock(passphrase="bukan frasa sandi yang benar")
    assert wrong.status_code == 401
    assert "Frasa sandi salah." in wrong.get_data(as_text=True)
    assert web.client.get("/").status_code == 302
    ok = web.unlock()
    assert ok.status_code == 302
    assert web.client.get("/").status_code == 200


def test_the_unlocked_console_belongs_to_the_session_that_unlocked_it(web: Web) -> None:
    web.unlock()
    stranger = web.app.test_client()
    assert stranger.get("/").status_code == 302
    assert stranger.get(f"/report/{web.late}").status_code == 302
    web.client.post("/lock", data={"csrf_token": web.token()})
    assert web.client.get("/").status_code == 302
    assert web.app.extensions["wbs_console"].session is None


def test_idle_console_locks_itself(web: Web) -> None:
    web.app.extensions["wbs_console"].idle_seconds = 0
    web.unlock()
    response = web.client.get("/")
    assert response.status_code == 302 and "/unlock" in response.headers["Location"]
    assert web.app.extensions["wbs_console"].session is None


def test_strict_headers_on_every_response(web: Web) -> None:
    responses = [web.client.get("/unlock"), web.client.get("/static/console.css")]
    web.unlock()
    responses += [
        web.client.get("/"),
        web.client.get(f"/report/{web.late}"),
        web.client.get("/stats"),
        web.client.get("/nope"),
    ]
    for response in responses:
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        for directive in (
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ):
            assert directive in csp
        assert "script-src" not in csp
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]
        assert "geolocation=()" in headers["Permissions-Policy"]


def test_pages_have_no_javascript_and_no_external_resources(web: Web) -> None:
    web.unlock()
    for path in ("/", f"/report/{web.late}", "/import", "/export", "/stats", "/audit", "/unlock"):
        page = web.client.get(path).get_data(as_text=True)
        assert "<script" not in page.lower(), path
        assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", page), path
        assert " on" not in re.sub(r"<[^>]*>", "", page) or True
        assert not re.search(r"<[^>]+\son[a-z]+=", page), path


def test_post_without_csrf_token_is_refused(web: Web) -> None:
    web.unlock()
    response = web.client.post(f"/report/{web.late}/respond", data={"message": "tanpa token"})
    assert response.status_code == 400
    assert "Formulir ini sudah kedaluwarsa" in response.get_data(as_text=True)  # no English
    page = web.client.get(f"/report/{web.late}").get_data(as_text=True)
    assert "tanpa token" not in page


def test_a_foreign_host_header_is_refused(web: Web) -> None:
    assert web.client.get("/unlock", headers={"Host": "attacker.example"}).status_code == 400
    assert web.client.get("/unlock", headers={"Host": "127.0.0.1:8081"}).status_code == 200


def test_language_is_indonesian_by_default_and_english_on_request(web: Web) -> None:
    web.unlock()
    page = web.client.get("/").get_data(as_text=True)
    assert 'lang="id"' in page and "Antrean" in page and "Tidak dapat ditindaklanjuti" in page
    response = web.client.get("/lang/en?next=/stats")
    assert response.status_code == 302 and response.headers["Location"].endswith("/stats")
    page = web.client.get("/").get_data(as_text=True)
    assert 'lang="en"' in page and "Queue" in page and "Cannot be followed up" in page
    evil = web.client.get("/lang/id?next=//attacker.example/x")
    assert evil.headers["Location"] in ("/", "http://localhost/")


# -- queue and report -------------------------------------------------------------------------


def test_queue_sorted_by_urgency_with_overdue_marked_and_filters(web: Web) -> None:
    web.unlock()
    page = web.client.get("/").get_data(as_text=True)
    assert page.index(web.late) < page.index(web.fresh)
    assert 'class="overdue has-unread"' in page
    assert "terlambat 8 hari" in page  # due 2025-03-02, today 2025-03-10
    assert "21 hari lagi" in page
    only = web.client.get("/?category=corruption").get_data(as_text=True)
    assert web.fresh in only and web.late not in only
    none = web.client.get("/?status=closed").get_data(as_text=True)
    assert web.fresh not in none and web.late not in none
    assert web.client.get("/?status=archived").status_code == 400
    assert web.client.get("/?category=treason").status_code == 400


def test_report_page_shows_the_decrypted_report_escaped_and_marks_it_read(web: Web) -> None:
    web.unlock()
    page = web.client.get(f"/report/{web.late}").get_data(as_text=True)
    assert "Suap &lt;script&gt;alert(1)&lt;/script&gt; perizinan" in page
    assert "Melati" in page and "foto.png" in page and "../catatan.txt" in page
    assert "/stripped" not in page and "Unduh berkas asli" not in page
    assert "Berkas asli (dengan peringatan)" in page
    queue = web.client.get("/").get_data(as_text=True)
    assert 'class="overdue"' in queue  # no longer unread
    typed = web.client.get(f"/report/{web.late.lower()}")
    assert typed.status_code == 302 and typed.headers["Location"].endswith(f"/report/{web.late}")
    missing = web.client.get("/report/WBS-0000-0000-0")
    assert missing.status_code == 404


def test_reply_status_and_note_through_the_page(web: Web) -> None:
    web.unlock()
    page = f"/report/{web.late}"
    message = {"message": "Mohon lampirkan bukti transfer.", "status": "received"}
    response = web.post(f"{page}/respond", message, page)
    assert response.status_code == 302
    shown = web.client.get(page).get_data(as_text=True)
    assert "Mohon lampirkan bukti transfer." in shown and "menunggu ekspor" in shown
    response = web.post(f"{page}/respond", {"status": "investigating", "message": ""}, page)
    assert response.status_code == 302
    response = web.post(f"{page}/note", {"text": "Hubungi unit audit."}, page)
    assert response.status_code == 302
    shown = web.client.get(page).get_data(as_text=True)
    assert 'class="status status-investigating">Dalam pemeriksaan' in shown
    assert "Hubungi unit audit." in shown


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("respond", {"message": "   ", "status": "received"}, "Tidak ada yang dikirim"),
        ("respond", {"message": "x" * 10_001}, "paling banyak 10.000 karakter"),
        ("respond", {"status": "archived", "message": ""}, "Status tidak dikenal."),
        ("respond", {"standard": "", "then": "insert"}, "Pilih teks baku dulu."),
        ("note", {"text": ""}, "Catatan kosong."),
        ("save", {"folder": "relative/path"}, "jalur lengkap"),
        ("save", {"folder": "/nonexistent/folder"}, "Folder tujuan tidak ada."),
    ],
)
def test_bad_input_on_the_report_page_changes_nothing(
    web: Web, action: str, data: dict[str, str], message: str
) -> None:
    web.unlock()
    page = f"/report/{web.late}"
    web.client.get(page)  # the first view marks it read; compare from the second one on
    web.settle()  # and its files are converted by then
    before = web.client.get(page).get_data(as_text=True)
    response = web.post(f"{page}/{action}", data, page)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    after = web.client.get(page).get_data(as_text=True)
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", before) == strip.sub("", after)


def test_files_show_safe_copies_inline_and_originals_behind_a_warning(web: Web) -> None:
    web.unlock()
    page = f"/report/{web.late}"
    web.client.get(page)
    web.settle()
    shown = web.client.get(page).get_data(as_text=True)
    # The PNG is shown as a page the console made; the text file as escaped plain text.
    pages = re.findall(rf'<img class="page" src="(/report/{web.late}/file/[0-9a-f]{{32}}/page/1)"',
                       shown)
    assert len(pages) == 1
    image = web.client.get(pages[0])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert b"GPS" not in image.data and b"tEXt" not in image.data
    assert '<pre class="text plain" tabindex="0">isi</pre>' in shown
    safe = re.findall(rf'href="(/report/{web.late}/file/[0-9a-f]{{32}}/safe)"', shown)
    assert len(safe) == 2
    png = web.client.get(safe[0])
    assert png.mimetype == "application/octet-stream"
    assert "foto.safe.png" in png.headers["Content-Disposition"]
    assert png.data == image.data
    text = web.client.get(safe[1])
    assert text.data == b"isi" and "catatan.safe.txt" in text.headers["Content-Disposition"]
    # The original: a warning page first, then only a confirmed POST gives the file.
    originals = re.findall(rf'class="original" href="(/report/{web.late}/file/[0-9a-f]{{32}})"',
                           shown)
    assert len(originals) == 2
    warning = web.client.get(originals[0]).get_data(as_text=True)
    assert "menyimpan semua kunci" in warning and 'name="understood"' in warning
    refused = web.post(originals[0], {}, originals[0])
    assert refused.status_code == 400
    png = web.post(originals[0], {"understood": "yes"}, originals[0])
    assert png.data == _png()
    assert png.mimetype == "application/octet-stream"
    assert png.headers["Content-Disposition"].startswith("attachment")
    assert "foto.png" in png.headers["Content-Disposition"]
    text = web.post(originals[1], {"understood": "yes"}, originals[1])
    assert "catatan.txt" in text.headers["Content-Disposition"]
    assert ".." not in text.headers["Content-Disposition"]
    assert web.client.get(f"/report/{web.late}/file/{'0' * 32}").status_code == 404
    assert web.client.get(f"/report/{web.late}/file/{'0' * 32}/page/1").status_code == 404
    assert web.client.get(f"{pages[0][:-1]}2").status_code == 404
    assert web.client.get(f"/report/{web.late}/file/../../x").status_code == 404
    audit = web.client.get("/audit").get_data(as_text=True)
    assert "&#34;copy&#34;: &#34;original&#34;" in audit or "original" in audit


def test_save_to_folder(web: Web) -> None:
    web.unlock()
    folder = web.tmp / "usb"
    folder.mkdir()
    page = f"/report/{web.late}"
    response = web.post(f"{page}/save", {"folder": str(folder)}, page)
    assert response.status_code == 302
    assert sorted(p.name for p in folder.iterdir()) == [
        "catatan.safe.txt",
        "catatan.txt",
        "foto.png",
        "foto.safe.png",
    ]
    assert b"GPS" not in (folder / "foto.safe.png").read_bytes()
    only = web.tmp / "only-safe"
    only.mkdir()
    response = web.post(f"{page}/save", {"folder": str(only), "safe_only": "yes"}, page)
    assert response.status_code == 302
    assert sorted(p.name for p in only.iterdir()) == ["catatan.safe.txt", "foto.safe.png"]


# -- import, export, stats, audit ---------------------------------------------------------------


def test_import_upload_with_first_time_key_confirmation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_console(home)
    server = FakeServer()
    regno = server.add_report()
    bundle = tmp_path / "b.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    app = create_app(Home(home))
    try:
        client = app.test_client()
        web = Web(tmp_path, home, server, app, client, regno, regno)
        web.unlock()

        def upload() -> TestResponse:
            return client.post(
                "/import",
                data={
                    "csrf_token": web.token("/import"),
                    "bundle": (io.BytesIO(bundle.read_bytes()), "b.bundle"),
                },
                content_type="multipart/form-data",
            )

        confirm = upload()
        page = confirm.get_data(as_text=True)
        assert server.verify_key.fingerprint in page
        token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
        assert token
        cancel = client.post(
            "/import/confirm",
            data={
                "csrf_token": web.token("/import"),
                "token": token.group(1),
                "fingerprint": server.verify_key.fingerprint,
                "decision": "cancel",
            },
        )
        assert cancel.status_code == 302
        assert regno not in client.get("/").get_data(as_text=True)

        page = upload().get_data(as_text=True)
        token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
        assert token
        done = client.post(
            "/import/confirm",
            data={
                "csrf_token": web.token("/import"),
                "token": token.group(1),
                "fingerprint": server.verify_key.fingerprint,
                "decision": "trust",
            },
            follow_redirects=True,
        )
        assert "Bundel 1 diimpor: 1 laporan baru" in done.get_data(as_text=True)
        assert regno in client.get("/").get_data(as_text=True)
        again = upload()
        assert again.status_code == 302
        assert "sudah pernah diimpor" in client.get("/import").get_data(as_text=True)
        assert list((home / "staging").iterdir()) == []
    finally:
        app.extensions["wbs_console"].shutdown()


def test_import_upload_of_a_tampered_bundle_is_refused(web: Web) -> None:
    web.unlock()
    regno = next(iter(web.server.reports))
    web.server.add_followup(regno, "lampiranbaru")
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    data = bytearray(bundle.read_bytes())
    data[-5] ^= 0xFF
    response = web.client.post(
        "/import",
        data={"csrf_token": web.token("/import"), "bundle": (io.BytesIO(bytes(data)), "b2.bundle")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "does not match its hash" in response.get_data(as_text=True)
    assert "lampiranbaru" not in web.client.get(f"/report/{regno}").get_data(as_text=True)


def test_export_button_writes_a_downloadable_bundle(web: Web) -> None:
    web.unlock()
    page = f"/report/{web.late}"
    said = {"message": "Terima kasih atas laporannya.", "status": "closed"}
    assert web.post(f"{page}/respond", said, page).status_code == 302
    response = web.post("/export", {})
    assert response.status_code == 302
    export_page = web.client.get("/export").get_data(as_text=True)
    assert "Bundel 1 ditulis: 2 tanggapan" in export_page
    link = re.search(r'href="(/export/file/wbs-console-00001\.bundle)"', export_page)
    assert link
    download = web.client.get(link.group(1))
    assert download.headers["Content-Disposition"].startswith("attachment")
    saved = web.tmp / "from-browser.bundle"
    saved.write_bytes(download.data)
    verified = read_console_bundle(saved, web.home / "console.pub", web.tmp / "stage")
    responses = verified.manifest["responses"]
    assert [r["kind"] for r in responses] == ["status", "reply"]
    assert responses[0]["closes_report"] is True
    source = web.server.reports[web.late].source
    meta, document = open_response(verified.items[responses[1]["item"]], source.private_key)
    assert document["message"] == "Terima kasih atas laporannya."
    assert web.client.get("/export/file/..%2Fconsole.db").status_code == 404
    empty = web.post("/export", {})
    assert empty.status_code == 302
    assert "bundel kosong 2" in web.client.get("/export").get_data(as_text=True)


def test_stats_and_audit_pages(web: Web) -> None:
    web.unlock()
    web.client.get(f"/report/{web.late}")
    stats = web.client.get("/stats").get_data(as_text=True)
    assert re.search(r'id="total">2<', stats) and re.search(r'id="overdue">1<', stats)
    audit = web.client.get("/audit").get_data(as_text=True)
    assert "Log audit utuh" in audit and "viewed" in audit


def test_a_second_console_is_refused_while_the_web_console_runs(web: Web) -> None:
    assert web.cli("list") == 1
    with pytest.raises(ConsoleBusy):
        create_app(Home(web.home))


def test_the_web_console_is_refused_while_another_console_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_console(home)
    with HomeLock(Home(home)), pytest.raises(ConsoleBusy):
        create_app(Home(home))


def test_file_names_cannot_spoof_their_extension(web: Web) -> None:
    web.server.add_followup(web.fresh, "lihat lampiran", files=[("bukti\u202egnp.exe", "", b"MZ")])
    bundle = web.tmp / "b2.bundle"
    web.server.export(bundle, [web.home / "inspectorate.pub"])
    web.app.extensions["wbs_console"].shutdown()  # let the command line import it
    assert web.cli("import", bundle) == 0
    web.app = create_app(Home(web.home))
    web.client = web.app.test_client()
    web.unlock()
    page = web.client.get(f"/report/{web.fresh}").get_data(as_text=True)
    assert "\u202e" not in page
    assert "bukti\\u202egnp.exe" in page


def test_wrong_passphrases_slow_the_next_try_down(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each wrong passphrase the next attempt waits twice as long; during the wait even
    the right passphrase is not tried (guessing costs time, not only argon2), and a success
    resets the count."""
    from journalist_console.web import unlock as unlock_module

    clock = [1000.0]
    monkeypatch.setattr(unlock_module.time, "monotonic", lambda: clock[0])
    assert web.unlock(passphrase="salah satu").status_code == 401  # one typing mistake: free
    assert web.unlock(passphrase="salah dua").status_code == 401  # wait 1 s
    clock[0] += 1
    assert web.unlock(passphrase="salah tiga").status_code == 401  # wait 2 s
    clock[0] += 1
    held_back = web.unlock()  # the right passphrase, too early
    assert held_back.status_code == 429
    assert held_back.headers["Retry-After"] == "1"
    assert "Terlalu banyak" in held_back.get_data(as_text=True)
    assert web.client.get("/", follow_redirects=False).status_code == 302  # still locked
    clock[0] += 1
    assert web.unlock().status_code == 302  # unlocked
    assert web.app.extensions["wbs_console"].throttle.failures == 0

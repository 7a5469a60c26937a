"""The source site on a real waitress server (`dropbox serve` in a subprocess on 127.0.0.1, with
its spill directory on /dev/shm): the whole journey, headers (no RealServer header), bad input, the
request-body limit, the upload spill staying in RAM, and nothing in clear on disk or in the logs.
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropbox.sessions import COOKIE_NAME
from support.bundles import Response, import_responses_cli, reply_item, status_item
from support.http import HttpAgent, Resp, encode_multipart
from support.inspection import grep_tree
from support.instances import MiB, Site, make_site, write_key_files
from support.pages import (
    Report,
    Reporter,
    assert_in_language,
    codename_variants,
    marker,
    notices,
    page_problems,
    security_header_problems,
)
from support.processes import (
    DROPBOX_CLI,
    RealServer,
    new_spill_dir,
    process_fd_targets,
    real_server,
)

pytestmark = pytest.mark.slow
PUBLIC_HOST = "0.0.0.0"  # noqa: S104 (the server must refuse to bind it)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, RealServer]]:
    base = tmp_path_factory.mktemp("live")
    site = make_site(base, with_app=False, fast_kdf=False)
    with real_server(site.data_dir, base / "logs") as server:
        yield site, server


@pytest.fixture(scope="module")
def small_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, RealServer]]:
    base = tmp_path_factory.mktemp("small")
    site = make_site(base, with_app=False, upload_limit=MiB)
    with real_server(site.data_dir, base / "logs") as server:
        yield site, server


# The session id (logged-in sources), the visitor's random form-binding value, the language.
COOKIE_NAMES = (COOKIE_NAME, "wbs_visit", "wbs_lang")


def check_responses(history: list[Resp]) -> None:
    for resp in history:
        assert security_header_problems(resp, real_server=True) == [], (
            resp,
            security_header_problems(resp, real_server=True),
        )
        redirect = resp.status in (301, 302, 303)
        if "text/html" in (resp.header("Content-Type") or "") and not redirect:
            assert page_problems(resp.text) == [], (resp, page_problems(resp.text))
        for cookie in resp.header_all("Set-Cookie"):
            assert cookie.split("=", 1)[0] in COOKIE_NAMES, cookie
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie


def test_whole_journey_on_waitress(live: tuple[Site, RealServer], tmp_path: Path) -> None:
    site, server = live
    agent = server.agent()
    reporter = Reporter(agent)
    assert agent.get("/").status == 200
    codename = reporter.generate("en")
    assert agent.cookie() is None  # no session before the codename is created
    reporter.create()
    assert agent.cookie()  # a fresh session id after /create
    reporter.open_form()
    what = marker("what")
    small = (marker("small") + ".txt", b"small evidence " + secrets.token_bytes(2000))
    large = (marker("large") + ".bin", secrets.token_bytes(2 * MiB + 333))
    resp = reporter.submit(Report(what=what), [small, large])
    assert resp.status == 303 and resp.location == "/thanks", notices(resp.text)
    thanks = agent.get("/thanks")
    regno = thanks.text.split('id="regno">', 1)[1].split("<", 1)[0].strip()
    assert re.fullmatch(
        r"WBS-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]{4}-[0-9A-HJKMNP-TV-Y]", regno
    )
    out = reporter.logout()
    assert out.status == 303 and agent.get(out.location).status == 200
    assert agent.get("/lookup").location == "/login?notice=login-first"

    resp = reporter.login("-".join(codename.split()).upper())
    assert resp.status == 303 and resp.location == "/lookup"
    page = reporter.lookup()
    assert regno in page.text
    resp = reporter.followup(
        regno, "tambahan " + marker("fu"), [("foto.jpg", secrets.token_bytes(9000))]
    )
    assert resp.status == 303 and resp.location == f"/lookup#report-{regno}"

    # A second reporter with their own reply.
    other = Reporter(server.agent())
    other.start("en")
    other_regno = other.file_report()

    reply = Response(
        "reply", regno, "2026-06-02", reply_item(site, regno, "Terima kasih, kami cek.")
    )
    status = Response("status", regno, "2026-06-01", status_item(site, regno, "verifying"))
    foreign = Response("reply", other_regno, "2026-06-03", reply_item(site, other_regno, "lain"))
    out = import_responses_cli(site, [status, reply, foreign], tmp_path)
    assert "2 reply" in out and "1 status" in out
    page = reporter.lookup()
    assert "Terima kasih, kami cek." in page.text and "2026-06-02" in page.text
    assert "Being verified" in page.text and "2026-06-01" in page.text
    assert "lain" not in re.sub(r"<[^>]+>", " ", page.text).split()

    for refused in (foreign.response_id, secrets.token_hex(16)):
        before = site.snapshot()
        assert reporter.delete_reply(refused).status == 303
        assert "That reply could not be found" in " ".join(notices(reporter.lookup().text))
        site.assert_unchanged(before)
    assert reporter.delete_reply(reply.response_id).status == 303
    page = reporter.lookup()
    assert "The reply was deleted." in notices(page.text)
    assert "Terima kasih, kami cek." not in page.text
    assert not (site.items_dir / f"{reply.response_id}.env").exists()
    assert "lain" in other.lookup().text

    reporter.logout()
    resp = agent.get("/lookup")
    assert resp.status == 303 and resp.location == "/login?notice=login-first"
    check_responses(agent.history + other.agent.history)
    # The codename never appears in a header and only on the one /generate page.
    for resp in agent.history:
        headers = "\n".join(f"{k}: {v}" for k, v in resp.headers).lower()
        assert codename.lower() not in headers and "-".join(codename.split()) not in headers
        if not resp.path.startswith("/generate"):
            assert codename not in resp.text
    # The logs hold none of it.
    logs = server.log_bytes()
    for secret in [what, small[0], large[0], regno, *codename_variants(codename)]:
        assert secret.encode() not in logs, secret


def _raw_request(port: int, head: bytes, parts: list[bytes], between=None) -> Resp:  # noqa: ANN001
    """Send a request over a plain socket in pieces; `between(i)` runs after piece i."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        for index, part in enumerate(parts):
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            if between is not None:
                between(index)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    header_block, _, body = raw.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(line.split(": ", 1)) for line in lines[1:] if ": " in line]
    return Resp(status, headers, body, "POST", "raw")  # type: ignore[arg-type]


def test_upload_spill_stays_in_tmpfs_and_nothing_reaches_the_disk(
    live: tuple[Site, RealServer],
) -> None:
    site, server = live
    agent = server.agent()
    reporter = Reporter(agent)
    codename = reporter.start("id")
    report = Report(what=marker("spillwhat"), contact=marker("spillcontact"))
    tag = marker("spillfile")
    content = (tag + "\n").encode() * ((2 * MiB + 500_000) // (len(tag) + 1))
    filename = marker("spillname") + ".docx"
    fields: dict[str, str | bytes] = {**report.fields(), "website": ""}
    body, content_type = encode_multipart(fields, [(filename, content)])
    assert len(body) > 2 * MiB
    head = (
        f"POST {reporter.action} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Cookie: {COOKIE_NAME}={agent.cookie()}\r\nConnection: close\r\n\r\n"
    ).encode()
    first, rest = body[: MiB + MiB // 2], body[MiB + MiB // 2 :]
    seen: list[str] = []

    def look(index: int) -> None:
        if index != 0:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            targets = process_fd_targets(server.process.pid)
            spilled = [t for t in targets if t.startswith(str(server.spill))]
            if spilled:
                seen.extend(targets)
                return
            time.sleep(0.05)
        seen.extend(process_fd_targets(server.process.pid))

    resp = _raw_request(server.port, head, [first, rest], look)
    assert resp.status == 303, resp.body[:500]
    assert re.search(r'id="regno">WBS-', agent.get("/thanks").text)
    # While the body was half received, waitress had spilled it to a file in the spill dir (on
    # tmpfs), and to no other temporary file.
    assert any(t.startswith(str(server.spill)) for t in seen), seen
    deleted_elsewhere = [
        t for t in seen if t.endswith("(deleted)") and not t.startswith(str(server.spill))
    ]
    assert deleted_elsewhere == [], deleted_elsewhere
    secrets_ = [*report.fields().values(), tag, filename, *codename_variants(codename)]
    secrets_ = [s for s in secrets_ if len(s) > 12]
    assert grep_tree(site.data_dir, secrets_) == []
    assert grep_tree(server.spill, secrets_) == []
    assert site.pending() == []
    for secret in secrets_:
        assert secret not in site.dump_db()
        assert secret.encode() not in server.log_bytes()
    opened = [c for m, c in site.decrypt_items().values() if m.get("name") == filename]
    assert opened == [content]


def test_bad_input_and_headers_on_waitress(live: tuple[Site, RealServer]) -> None:
    site, server = live
    agent = server.agent()
    before = site.snapshot()
    for lang in ("id", "en"):
        agent.get(f"/?lang={lang}")
        agent.get("/login")
        resp = agent.post("/login", {"codename": "tanpa token"})
        assert resp.status == 400
        assert_in_language(resp, lang, "This form has expired. Please type your codename again.")
        resp = agent.get("/?lang=klingon")
        assert resp.status == 400
        assert_in_language(
            resp, lang, "The request could not be understood. Please go back and try again."
        )
        assert agent.get("/nowhere").status == 404
        assert agent.get("/create").status == 405
        assert (
            agent.post_raw("/submit", b"--x\r\nbroken", "multipart/form-data; boundary=x").status
            == 400
        )
        assert agent.post("/submit?ticket=palsu", {"what": "x"}, [("a", b"a")]).status == 400
        assert agent.post("/submit", {"ticket": "palsu", "what": "x"}, [("a", b"a")]).status == 400
        assert agent.get("/static/style.css").status == 200
        assert agent.get("/robots.txt").text.strip().endswith("Disallow: /")
        metadata = agent.get("/metadata")
        assert metadata.status == 200 and '"upload_limit_bytes"' in metadata.text
    check_responses(agent.history)
    for resp in agent.history:
        assert resp.header("RealServer") is None
    site.assert_unchanged(before)


def _oversized_head(server: RealServer, length: int) -> bytes:
    return (
        f"POST /submit HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def test_body_over_limit_refused_by_waitress(small_live: tuple[Site, RealServer]) -> None:
    site, server = small_live
    before = site.snapshot()
    resp = _raw_request(server.port, _oversized_head(server, 4 * MiB), [b"--b\r\n" + b"a" * 4096])
    assert resp.status == 413
    # A full body over the limit, as a browser would send it.
    reporter = Reporter(server.agent())
    reporter.start("en")
    before = site.snapshot()
    try:
        resp = reporter.submit(Report(), [("besar.bin", secrets.token_bytes(3 * MiB + 10))])
        assert resp.status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # waitress may close the connection before the whole body was sent
    site.assert_unchanged(before)
    assert server.process.poll() is None


def test_waitress_413_is_the_friendly_page(small_live: tuple[Site, RealServer]) -> None:
    _site, server = small_live
    resp = _raw_request(server.port, _oversized_head(server, 4 * MiB), [b"--b\r\n"])
    assert resp.status == 413
    assert security_header_problems(resp, real_server=True) == []
    assert "text/html" in (resp.header("Content-Type") or "")
    assert re.search(r"1(?:[.,]0)? ?Mi?B", resp.text)


# -- the CLI around the server ------------------------------------------------------------


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DROPBOX_CLI), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_init_creates_a_private_instance_and_refuses_to_overwrite(tmp_path: Path) -> None:
    recipient_file, console_file, _ = write_key_files(tmp_path / "keys")
    data = tmp_path / "instance"
    done = _cli(
        "init",
        "--data",
        str(data),
        "--recipient",
        str(recipient_file),
        "--console-key",
        str(console_file),
        "--upload-limit-mib",
        "5",
    )
    assert done.returncode == 0, done.stderr
    assert data.stat().st_mode & 0o777 == 0o700
    for name in ("db.key", "codename-salts.json", "server-signing.key", "config.json"):
        assert (data / name).stat().st_mode & 0o077 == 0, name
    assert re.fullmatch(r"[0-9a-f]{64}", (data / "db.key").read_text().strip())
    listing = sorted(p.name for p in data.iterdir())
    config = (data / "config.json").read_text()
    assert '"upload_limit": 5242880' in config
    again = _cli(
        "init",
        "--data",
        str(data),
        "--recipient",
        str(recipient_file),
        "--console-key",
        str(console_file),
    )
    assert again.returncode != 0
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in data.iterdir()) == listing
    assert (data / "config.json").read_text() == config


def test_serve_refuses_unsafe_spill_dir_and_public_bind(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_app=False)
    persistent = tmp_path / "spill"  # tmp_path is on a persistent disk, not tmpfs
    done = _cli(
        "serve",
        "--data",
        str(site.data_dir),
        "--port",
        "1",
        "--spill-dir",
        str(persistent),
        timeout=30,
    )
    assert done.returncode == 1 and "tmpfs" in done.stderr and "Traceback" not in done.stderr
    spill = new_spill_dir()
    link = new_spill_dir()
    link.symlink_to(persistent)  # a link in shared /dev/shm pointing elsewhere
    try:
        done = _cli(
            "serve",
            "--data",
            str(site.data_dir),
            "--port",
            "1",
            "--spill-dir",
            str(link),
            timeout=30,
        )
        assert done.returncode == 1 and "link" in done.stderr and "Traceback" not in done.stderr
        done = _cli(
            "serve",
            "--data",
            str(site.data_dir),
            "--host",
            PUBLIC_HOST,
            "--port",
            "1",
            "--spill-dir",
            str(spill),
            timeout=30,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert PUBLIC_HOST in done.stderr
    finally:
        shutil.rmtree(spill, ignore_errors=True)
        link.unlink(missing_ok=True)


def test_http_agent_sees_no_server_header(live: tuple[Site, RealServer]) -> None:
    _site, server = live
    agent = HttpAgent(server.port)
    for path in ("/", "/generate", "/login", "/nowhere", "/static/style.css", "/robots.txt"):
        resp = agent.get(path)
        assert resp.header("RealServer") is None, path
        assert resp.header("X-Powered-By") is None
        assert resp.header("Via") is None

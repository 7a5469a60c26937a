"""An automated accessibility audit: axe-core (from the npm registry, pinned in
tests/e2e/axe/package.json, installed by `make test`) run in Debian's Chromium against every page
of both sides, in both languages.

This is a separate pass from the journey: scripts are allowed in this browser, for axe only. The
pages are exactly the ones the two applications render, collected through their test clients
along the reporter's and the investigator's paths (the answers to forms, the pages with errors,
the error pages, HAProxy's page), then served as they are with their style sheets on 127.0.0.1.
No violation of impact "serious" or "critical" is allowed; the others are listed in
test-artifacts/accessibility/<language>.json.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM_FLAGS
from deployment import CHROMEDRIVER, CHROMIUM
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from journalist_console.home import Home
from journalist_console.web import create_app as console_app
from support.bundles import FakeServer, Response, import_responses, reply_item, status_item
from support.instances import (
    PASSPHRASE,
    Site,
    init_console,
    make_site,
    write_passphrase_file,
)
from support.pages import Reporter, hidden

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "test-artifacts" / "accessibility"
BLOCKING = ("serious", "critical")
Pages = dict[str, bytes]


def _body(response: Any) -> bytes:
    return response.body if hasattr(response, "body") else response.get_data()


# -- the source site's pages ------------------------------------------------------------------


def source_pages(site: Site, language: str, tmp: Path) -> Pages:
    pages: Pages = {}
    agent = site.client()
    agent.get(f"/?lang={language}")
    pages["landing"] = agent.get("/").body
    reporter = Reporter(agent)
    reporter.generate()
    pages["codename"] = agent.history[-1].body
    pages["confirm"] = reporter.confirm_page().body
    pages["confirm-mistyped"] = reporter.create({"word1": "salah", "word2": "salah"}).body
    reporter.create()
    pages["report-form"] = reporter.open_form().body
    pages["report-form-errors"] = reporter.submit(
        {"category": "", "what": ""}, [("bukti.txt", b"isi")]
    ).body
    regno = reporter.file_report()
    pages["thanks"] = agent.get("/thanks").body
    day = dt.date.today().isoformat()
    import_responses(
        site,
        [
            Response(
                "status", regno, day, status_item(site, regno, "needs_info", "Mohon data ruangan.")
            ),
            Response("reply", regno, day, reply_item(site, regno, "Terima kasih.")),
        ],
        tmp,
    )
    pages["my-reports"] = reporter.lookup().body
    reply = re.search(rb'id="reply-([0-9a-f]{32})"', pages["my-reports"])
    assert reply
    pages["delete-reply"] = agent.get(f"/reply/delete?reply_id={reply.group(1).decode()}").body
    pages["codename-again"] = agent.get("/codename").body
    reporter.lookup()
    reporter.logout()
    pages["logged-out"] = agent.get("/logged-out").body
    pages["login"] = reporter.login_page().body
    pages["login-wrong"] = reporter.login("kata yang tidak dikenal").body
    pages["not-found"] = agent.get("/tidak-ada").body
    proxy = (REPO / "deploy" / "haproxy-errors" / "429.http").read_bytes()
    pages["proxy-429"] = proxy.split(b"\r\n\r\n", 1)[1]
    return pages


# -- the console's pages --------------------------------------------------------------------


def console_pages(language: str, tmp: Path) -> Pages:
    home = tmp / "console"
    init_console(home)
    server = FakeServer()
    regno = server.add_report(
        category="bribery",
        what="Suap pada perizinan",
        files=[("kuitansi.txt", "text/plain", b"isi kuitansi")],
    )
    server.add_report(category="corruption")
    bundle = tmp / "server.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    app = console_app(Home(home))
    try:
        client = app.test_client()
        client.get(f"/lang/{language}")
        pages: Pages = {"unlock": _body(client.get("/unlock"))}
        token = hidden(pages["unlock"].decode(), "csrf_token")
        pages["unlock-wrong"] = _body(
            client.post("/unlock", data={"csrf_token": token, "passphrase": "bukan ini"})
        )
        token = hidden(pages["unlock-wrong"].decode(), "csrf_token")
        client.post("/unlock", data={"csrf_token": token, "passphrase": PASSPHRASE})
        pages["import"] = _body(client.get("/import"))
        token = hidden(pages["import"].decode(), "csrf_token")
        with bundle.open("rb") as upload:
            pages["import-confirm"] = _body(
                client.post(
                    "/import", data={"csrf_token": token, "bundle": (upload, "server.bundle")}
                )
            )
        confirm = pages["import-confirm"].decode()
        pages["import-result"] = _body(
            client.post(
                "/import/confirm",
                data={
                    "csrf_token": hidden(confirm, "csrf_token"),
                    "token": hidden(confirm, "token"),
                    "decision": "trust",
                },
                follow_redirects=True,
            )
        )
        for name, path in (
            ("queue", "/"),
            ("report", f"/report/{regno}"),
            ("export", "/export"),
            ("statistics", "/stats"),
            ("audit", "/audit"),
            ("accounts", "/users"),
            ("account", "/users/investigator"),
            ("retention", "/retention"),
            ("not-found", "/tidak-ada"),
        ):
            pages[name] = _body(client.get(path))
    finally:
        app.extensions["wbs_console"].shutdown()
    return pages


# -- serving them and running axe -----------------------------------------------------------


@contextmanager
def served(pages: Pages, static: Path) -> Iterator[str]:
    """`pages` at /page/<name> and the style sheets at /static/<file> (query strings ignored)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the handler API's name)
            path = self.path.split("?", 1)[0]
            if path.startswith("/page/") and path[6:] in pages:
                body, kind = pages[path[6:]], "text/html; charset=utf-8"
            elif path.startswith("/static/") and (static / path[8:]).is_file():
                body, kind = (static / path[8:]).read_bytes(), "text/css; charset=utf-8"
            else:
                body, kind = b"", "text/plain"
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def audit_browser(artifacts: Path) -> Iterator[webdriver.Chrome]:
    profile = Path(tempfile.mkdtemp(prefix="wbs-axe-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(artifacts / "chromedriver-axe.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (result) => done(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}))),
  (error) => done([{id: "axe-error", impact: "critical", help: String(error), nodes: []}]));
"""


def audit(driver: webdriver.Chrome, base: str, pages: Pages, side: str) -> dict[str, Any]:
    axe = AXE.read_text("utf-8")
    found: dict[str, Any] = {}
    for name in pages:
        driver.get(f"{base}/page/{name}")
        driver.execute_script(axe)
        found[f"{side}/{name}"] = driver.execute_async_script(RUN_AXE)
    return found


@pytest.mark.e2e
@pytest.mark.parametrize("language", ["id", "en"])
def test_every_page_passes_axe_without_serious_violations(language: str, tmp_path: Path) -> None:
    for path, package in (
        (CHROMIUM, "chromium"),
        (CHROMEDRIVER, "chromium-driver"),
        (AXE, "axe-core (npm ci --prefix tests/e2e/axe)"),
    ):
        assert path.exists(), f"missing {path} ({package}); `make test` installs it"
    artifacts = ARTIFACTS
    artifacts.mkdir(parents=True, exist_ok=True)
    site = make_site(tmp_path / "site", upload_limit=8 * 1024 * 1024)
    write_passphrase_file(tmp_path / "pp")
    source = source_pages(site, language, tmp_path)
    console = console_pages(language, tmp_path)
    for name, page in (*source.items(), *console.items()):
        assert f'lang="{language}"'.encode() in page or name == "proxy-429", name
    findings: dict[str, Any] = {}
    with audit_browser(artifacts) as driver:
        with served(source, REPO / "templates" / "source" / "static") as base:
            findings |= audit(driver, base, source, "source")
        with served(console, REPO / "templates" / "console" / "static") as base:
            findings |= audit(driver, base, console, "console")
    (artifacts / f"{language}.json").write_text(json.dumps(findings, indent=1))
    blocking = {
        page: [v for v in violations if v["impact"] in BLOCKING]
        for page, violations in findings.items()
    }
    blocking = {page: found for page, found in blocking.items() if found}
    assert len(findings) == len(source) + len(console)
    assert not blocking, json.dumps(blocking, indent=1)

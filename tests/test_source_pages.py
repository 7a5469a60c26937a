"""Headers on every response, page hygiene (no script, no other origin), cookies and sessions,
/metadata and /robots.txt: through the Flask test client, both languages, logged in and out.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest
from flask import abort

from dropbox import instance as inst
from dropbox.app import ERROR_CODES, STATIC, create_app
from dropbox.service import DropBox
from dropbox.sessions import COOKIE_NAME
from keys import keytypes
from keys.keyfiles import recipient_public_key, verify_public_key
from support.bundles import Response, import_responses, reply_item, status_item
from support.http import FlaskAgent, Resp
from support.instances import Site, make_site
from support.pages import (
    Report,
    Reporter,
    assert_in_language,
    confirm_words,
    page_problems,
    security_header_problems,
)


@pytest.fixture
def site(site: Site) -> Site:
    """conftest's site, plus a test-only route"""
    # A test-only route to render every friendly error page (registered before any request).
    site.app.add_url_rule("/_test/abort/<int:code>", "test_abort", lambda code: abort(code))
    return site


def every_page(site: Site, tmp_path: Path, lang: str) -> list[Resp]:
    """Visit every route and error page in `lang`, logged out and logged in; all responses."""
    agent = site.client()
    agent.get(f"/?lang={lang}")
    for path in (
        "/",
        "/generate",
        "/generate?notice=expired",
        "/login",
        "/login?notice=login-first",
        "/logged-out",
        "/robots.txt",
        "/metadata",
        "/static/style.css",
        "/static/no-such.css",
        "/lookup",
        "/submit",
        "/thanks",
        "/codename",
        "/reply/delete?reply_id=" + "0" * 32,
        "/no-such-page",
        "/create",
        "/logout",
        f"/?lang={lang}x",
    ):
        agent.get(path)
    agent.post("/login", {"codename": "tanpa token"})  # the expired-form page
    agent.post("/create", {"pending": "rusak"})  # a broken codename page: redirected
    for code in ERROR_CODES:
        agent.get(f"/_test/abort/{code}")
    reporter = Reporter(agent)
    codename = reporter.generate(lang)
    agent.post("/generate", {"pending": reporter.pending or ""})  # the same codename again
    wrong = {name: "salah" for name in confirm_words(codename, reporter.confirm_page().text)}
    reporter.create(wrong)  # the confirmation refused
    reporter.create()
    reporter.agent.post("/create", {  # the same codename page sent twice: "already created"
        "pending": reporter.pending or "",
        **confirm_words(codename, reporter.confirm_page().text),
    })
    reporter.open_form()
    agent.get("/codename")
    agent.follow(agent.get("/generate"))  # a second codename page while logged in: refused
    regno = reporter.file_report(files=[("a.txt", b"abc")])
    agent.get(f"/thanks?lang={lang}")
    import_responses(
        site,
        [
            Response("status", regno, "2026-04-01", status_item(site, regno, "needs_info", "n")),
            Response("reply", regno, "2026-04-02", reply_item(site, regno, "Balasan <b>x</b>")),
        ],
        tmp_path,
    )
    page = reporter.lookup()
    assert "Balasan &lt;b&gt;x&lt;/b&gt;" in page.text  # a reply is text, never markup
    reporter.followup(regno, "tambahan")
    reporter.lookup()
    reporter.followup(regno, "")  # refused: nothing to add
    reporter.followup(regno, "x" * 60_000, [("c.txt", b"isi")])  # refused, the file kept
    reporter.lookup()
    reporter.submit({"what": ""}, [("d.txt", b"isi")])  # the refused form, its file kept
    used = reporter.agent.history[-1].path
    reporter.submit(Report(), action=used)  # a used ticket: refused
    reporter.open_form()
    for path in ("/", "/login", "/metadata", "/static/style.css", "/no-such-page", "/create"):
        agent.get(path)
    for code in ERROR_CODES:
        agent.get(f"/_test/abort/{code}")
    reporter.delete_reply(secrets.token_hex(16))  # the confirmation page, then refused
    agent.post("/reply/delete", {"csrf_token": reporter.csrf or "", "reply_id": "0" * 32})
    reporter.lookup()
    agent.follow(reporter.logout())
    reporter.login(codename)
    agent.get(f"/logged-out?lang={lang}")
    reporter.lookup()
    action = reporter.followup_actions[regno]
    agent.follow(reporter.logout())
    # A follow-up after logout: its ticket died with the session, a page says why.
    reporter.followup(regno, "setelah keluar", action=action)
    return agent.history


@pytest.mark.parametrize("lang", ["id", "en"])
def test_headers_and_hygiene_on_every_page(site: Site, tmp_path: Path, lang: str) -> None:
    history = every_page(site, tmp_path, lang)
    statuses = {resp.status for resp in history}
    assert {200, 303, 400, 404, 405, 409} <= statuses and set(ERROR_CODES) <= statuses
    assert any(r.path == "/static/style.css" and r.status == 200 for r in history)
    for resp in history:
        assert security_header_problems(resp) == [], (resp, security_header_problems(resp))
        assert resp.header("Content-Language") == lang, resp
        content_type = resp.header("Content-Type") or ""
        if "text/html" in content_type:
            assert page_problems(resp.text) == [], (resp, page_problems(resp.text))
            if resp.status < 300 or resp.status >= 400:  # not Werkzeug's redirect stub
                assert f'<html lang="{lang}">' in resp.text, resp
        if resp.status >= 500:
            assert "Traceback" not in resp.text


def test_error_pages_in_page_language(site: Site) -> None:
    texts = {
        400: "The request could not be understood. Please go back and try again.",
        403: "You are not allowed to open this page.",
        404: "This page does not exist.",
        405: "This page cannot be used that way.",
        429: "Too many attempts. Please wait a minute and try again.",
        500: "Something went wrong on our side. Nothing you sent before was lost. Please try "
        "again later.",
        503: "The service is busy right now. Please wait a minute and try again.",
    }
    for lang in ("id", "en"):
        agent = site.client()
        agent.get(f"/?lang={lang}")
        for code, text in texts.items():
            resp = agent.get(f"/_test/abort/{code}")
            assert resp.status == code
            assert_in_language(resp, lang, text)
            assert_in_language(resp, lang, "Back to the start page")


def test_unexpected_error_is_a_friendly_500(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    reporter = Reporter(site.client())
    reporter.start("en")
    reporter.file_report()

    def broken(*_: object) -> None:
        raise RuntimeError("internal detail " + "q" * 10)

    monkeypatch.setattr(site.box, "reports_for", broken)
    resp = reporter.agent.get("/lookup")
    assert resp.status == 500
    assert "internal detail" not in resp.text and "RuntimeError" not in resp.text
    assert_in_language(
        resp,
        "en",
        "Something went wrong on our side. Nothing you sent before was lost. Please "
        "try again later.",
    )
    assert security_header_problems(resp) == []


def test_static_css_has_no_other_origin() -> None:
    css = (STATIC / "style.css").read_text()
    assert "@import" not in css
    assert not re.search(r"url\(\s*['\"]?\s*(?:[a-z]+:|//)", css, re.I)
    assert "expression(" not in css.lower()


# -- cookies and sessions ------------------------------------------------------------------


VISIT_COOKIE = "wbs_visit"
LANG_COOKIE = "wbs_lang"


def test_cookies_only_random_ids_and_the_language_httponly_strict(
    site: Site, tmp_path: Path
) -> None:
    """Three cookies, none with a lifetime, a domain, or anything readable by script: the
    session id (logged-in sources only), the visitor's random value that binds the forms of a
    visitor without a session (issue 15), and the language ("id" or "en")."""
    history = every_page(site, tmp_path, "en")
    values: dict[str, set[str]] = {COOKIE_NAME: set(), VISIT_COOKIE: set(), LANG_COOKIE: set()}
    for resp in history:
        for cookie in resp.header_all("Set-Cookie"):
            name, _, rest = cookie.partition("=")
            assert name in values, cookie
            value = rest.split(";", 1)[0]
            attributes = {
                part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]
            }
            assert "httponly" in attributes, cookie
            assert attributes.get("samesite") == "SameSite=Strict", cookie
            assert attributes.get("path") == "Path=/", cookie
            if value:
                # A session cookie (no lifetime): the browser forgets it when it closes.
                assert "max-age" not in attributes and "expires" not in attributes, cookie
                if name == LANG_COOKIE:
                    assert value in ("id", "en"), cookie
                else:
                    assert re.fullmatch(r"[A-Za-z0-9_-]{40,64}", value), cookie
                values[name].add(value)
            else:
                assert name == COOKIE_NAME, cookie  # only the session is ever cleared
            assert "domain" not in attributes, cookie
    assert all(values.values()), values
    # One random value for the browser's whole visit; a new session id at each login.
    assert len(values[VISIT_COOKIE]) == 1 and len(values[COOKIE_NAME]) >= 2


def test_session_values_live_on_the_server_only(site: Site) -> None:
    agent = site.client()
    reporter = Reporter(agent)
    codename = reporter.generate("en")
    # Before /create there is no session at all (issue 15): the codename travels sealed in
    # the page, bound to the browser's random cookie; neither carries it readably.
    assert agent.cookie() is None and len(site.app.session_interface.store) == 0
    visit = agent.cookie(VISIT_COOKIE) or ""
    assert visit and codename not in visit
    pending = reporter.pending or ""
    sealed = base64.urlsafe_b64decode(pending + "=" * (-len(pending) % 4))
    for word in codename.split():
        assert word not in pending and word.encode() not in sealed
    reporter.create()
    cookie = agent.cookie()
    held = site.app.session_interface.store.get(cookie or "")
    assert held is not None and held.get("source_id")
    # During the session that created it, the codename is kept in memory so that it can be
    # shown again (issue 16); nothing else holds it but a keyed tag to refuse it in a report.
    flat = json.dumps({k: repr(v) for k, v in held.items() if k != "first_codename"})
    for variant in (codename, codename.upper(), "-".join(codename.split())):
        assert variant not in flat
    assert held.get("first_codename") == codename
    # The cookie carries none of the session's values.
    for value in held.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in (cookie or ""), value
    # A later session, after logging in again, holds no codename at all.
    reporter.open_form()
    reporter.logout()
    reporter.login(codename)
    again = site.app.session_interface.store.get(agent.cookie() or "") or {}
    assert again.get("source_id") == held["source_id"] and "first_codename" not in again
    flat = json.dumps({k: repr(v) for k, v in again.items()})
    for variant in (codename, codename.upper(), "-".join(codename.split())):
        assert variant not in flat
    # Two visitors get unrelated random ids.
    other = FlaskAgent(site.app)
    Reporter(other).start()
    assert other.cookie() not in (None, cookie, agent.cookie())
    assert other.cookie(VISIT_COOKIE) not in (None, visit)


@pytest.mark.parametrize("step", ["create", "login"])
@pytest.mark.parametrize("planted", ["unknown", "live"])
def test_session_id_changes_at_login(site: Site, step: str, planted: str) -> None:
    """Session fixation: an id planted before /create or /login is worthless after. Nobody has a
    session before logging in any more, so what can be planted is an id the server never gave,
    or another source's live session id (the planter's own)."""
    agent = site.client()
    reporter = Reporter(agent)
    codename = reporter.generate("en")
    if step == "login":
        reporter.create()
        reporter.file_report()
        reporter.logout()
        reporter.login_page()
    planter = Reporter(site.client())
    if planted == "live":
        planter.start()
        before = planter.agent.cookie() or ""
    else:
        before = secrets.token_urlsafe(32)
    agent.set_cookie(before)
    if step == "login":
        resp = reporter.agent.post("/login", {"token": reporter.token or "", "codename": codename})
        assert resp.status == 303
    else:
        reporter.create()
    after = agent.cookie()
    assert before and after
    assert after != before
    # And the planted id gives no access to the reporter's session now.
    stranger = FlaskAgent(site.app)
    stranger.set_cookie(before)
    assert stranger.get("/lookup").location == "/login?notice=login-first"


def test_reading_public_pages_creates_no_session(site: Site) -> None:
    store = site.app.session_interface.store
    for _ in range(50):
        agent = site.client()
        for path in ("/robots.txt", "/metadata", "/static/style.css", "/"):
            resp = agent.get(path)
            assert resp.header("Set-Cookie") is None, resp
    assert len(store) == 0


def test_logout_forgets_the_session(site: Site) -> None:
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    reporter.file_report()
    cookie = agent.cookie() or ""
    assert site.app.session_interface.store.get(cookie)["source_key"] is not None
    resp = reporter.logout()
    # A redirect to a page of its own: Back and Reload show that page, never a form again.
    assert resp.status == 303 and resp.location == "/logged-out"
    assert agent.cookie() is None
    assert_in_language(
        agent.follow(resp),
        "en",
        "To leave no trace of this visit, click the broom icon in Tor Browser (New Identity), or "
        "close Tor Browser completely.",
    )
    assert site.app.session_interface.store.get(cookie) is None  # gone, not just emptied
    assert len(site.app.session_interface.store) == 0
    assert agent.get("/lookup").location == "/login?notice=login-first"


# -- /metadata and /robots.txt -----------------------------------------------------------


def test_metadata(tmp_path: Path) -> None:
    site = make_site(tmp_path, upload_limit=5 * 1024 * 1024)
    resp = site.client().get("/metadata")
    assert resp.status == 200 and resp.header("Content-Type") == "application/json"
    data = json.loads(resp.body)
    assert data["name"] and isinstance(data["name"], str)
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["version"])
    assert data["languages"] == ["id", "en"]
    assert data["recipient_fingerprints"] == [recipient_public_key(site.recipient).fingerprint]
    assert data["upload_limit_bytes"] == 5 * 1024 * 1024
    # Nothing else about the server (no ids, paths, keys other than fingerprints).
    text = resp.text
    assert site.instance.instance_id not in text and str(tmp_path) not in text
    assert security_header_problems(resp) == []


def test_metadata_lists_every_recipient(tmp_path: Path) -> None:
    keys = [keytypes.new_recipient_identity() for _ in range(3)]
    instance = inst.create(
        tmp_path / "d",
        [recipient_public_key(key) for key in keys],
        [verify_public_key(keytypes.new_signing_key())],
    )
    box = DropBox(instance)
    box.setup()
    data = create_app(box).test_client().get("/metadata").get_json()
    assert data["recipient_fingerprints"] == [recipient_public_key(k).fingerprint for k in keys]
    assert data["upload_limit_bytes"] == 1024 * 1024 * 1024  # the default: 1 GiB


def test_robots_disallows_all(site: Site) -> None:
    resp = site.client().get("/robots.txt")
    assert resp.status == 200
    assert (resp.header("Content-Type") or "").startswith("text/plain")
    lines = [line.strip() for line in resp.text.splitlines() if line.strip()]
    assert "User-agent: *" in lines and "Disallow: /" in lines
    assert not any(line.lower().startswith("allow") for line in lines)

"""Sessions in memory with an idle timeout that never cuts off an upload (the ticket outlives the
session), and the global cap on concurrent codename derivations (a 503 page, not a queue).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dropbox import sessions
from dropbox.instance import DEFAULT_SESSION_IDLE_SECONDS
from keys import tokens
from support.http import FlaskAgent
from support.instances import Site, make_site
from support.pages import (
    Report,
    Reporter,
    assert_in_language,
    notices,
    page_lang,
    security_header_problems,
    tr,
)

BUSY = "The service is busy right now. Please wait a minute and try again."


# -- idle timeout ---------------------------------------------------------------------------


def expire_sessions(site: Site) -> None:
    """Make every current session idle for longer than the timeout: a tiny timeout, a short
    sleep, then the next request that presents a cookie finds its session expired. Call
    `restore_timeout` after that request, or sessions created later expire at once too."""
    site.app.session_interface.store.idle_seconds = 0.01
    time.sleep(0.05)


def restore_timeout(site: Site) -> None:
    site.app.session_interface.store.idle_seconds = site.instance.session_idle_seconds


def test_default_idle_timeout_is_two_hours(site: Site) -> None:
    assert DEFAULT_SESSION_IDLE_SECONDS == 2 * 60 * 60
    assert site.instance.session_idle_seconds == 2 * 60 * 60
    assert site.app.session_interface.store.idle_seconds == 2 * 60 * 60


def test_idle_session_is_forgotten(site: Site) -> None:
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    reporter.file_report()
    cookie = agent.cookie() or ""
    expire_sessions(site)
    resp = agent.get("/lookup")
    restore_timeout(site)
    assert resp.status == 302 and resp.location == "/login"
    page = agent.follow(resp)
    lang = page_lang(page) or ""
    assert tr(lang, "Please log in with your codename first.") in notices(page.text)
    assert site.app.session_interface.store.get(cookie) is None


def _sessions_holding_keys(site: Site) -> int:
    store = site.app.session_interface.store
    return sum("source_key" in values for values, _seen in store._sessions.values())


def test_expired_sessions_are_swept_on_anyones_request(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expired sessions are dropped from memory by the sweep, not only when their owner comes
    back (store._sessions is inspected, not changed)."""
    monkeypatch.setattr(sessions, "_SWEEP_EVERY_SECONDS", 0.0)
    for _ in range(3):
        Reporter(site.client()).start()
    assert _sessions_holding_keys(site) == 3
    visitor = site.client()
    visitor.get("/?lang=en")  # a visitor with a session cookie of their own
    expire_sessions(site)
    visitor.get("/")
    restore_timeout(site)
    assert _sessions_holding_keys(site) == 0


def test_expired_sessions_leave_memory_without_any_request(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "_SWEEP_EVERY_SECONDS", 0.0)
    Reporter(site.client()).start()
    assert _sessions_holding_keys(site) == 1
    site.app.session_interface.store.idle_seconds = 0.01
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and _sessions_holding_keys(site):
        time.sleep(0.05)
    assert _sessions_holding_keys(site) == 0


def test_upload_after_session_expiry_is_accepted(site: Site) -> None:
    """A slow upload over Tor arrives after the idle timeout: the ticket still carries it."""
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    before = site.rows()
    expire_sessions(site)
    resp = reporter.submit(Report(what="dikirim pelan-pelan"), [("a.bin", b"a" * 200_000)])
    restore_timeout(site)
    assert resp.status == 200
    assert "regno" in resp.text
    assert site.rows()["reports"] == before["reports"] + 1
    assert site.rows()["entries"] == before["entries"] + 2
    # The session itself stays expired: the upload did not revive a login.
    assert agent.get("/lookup").location == "/login"


def test_followup_after_session_expiry_is_accepted(site: Site) -> None:
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    regno = reporter.file_report()
    reporter.lookup()
    entries = site.rows()["entries"]
    expire_sessions(site)
    resp = reporter.followup(regno, "informasi tambahan", [("b.txt", b"b" * 1000)])
    restore_timeout(site)
    assert resp.status == 200
    # The language lived in the expired session: the page is in whichever it now is.
    lang = "en" if '<html lang="en">' in resp.text else "id"
    assert_in_language(
        resp, lang, "Your additional information was added to report %(regno)s.", regno=regno
    )
    assert site.rows()["entries"] == entries + 2
    assert agent.get("/lookup").location == "/login"


def test_refused_form_after_expiry_does_not_revive_the_session(site: Site) -> None:
    """The form with errors comes back with a fresh ticket, but no half-login is created: the
    next page is the login page (not a 500 from a session with an id and no key)."""
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    regno = reporter.file_report()
    expire_sessions(site)
    resp = reporter.submit(Report(what=""))
    restore_timeout(site)
    assert resp.status == 400
    assert tr(page_lang(resp) or "", "This field is required.") in notices(resp.text)
    assert 'name="ticket"' in resp.text
    lookup = agent.get("/lookup")
    assert lookup.status == 302 and lookup.location == "/login"
    # Holding a ticket is not a login: it cannot delete replies or read the lookup page.
    stranger = FlaskAgent(site.app)
    reporter2 = Reporter(stranger)
    reporter2.ticket = reporter.ticket
    assert reporter2.submit(Report(what="")).status == 400
    assert stranger.get("/lookup").location == "/login"
    assert regno not in stranger.get("/").text


def test_ticket_lifetime_outlasts_a_slow_upload(site: Site) -> None:
    reporter = Reporter(site.client())
    reporter.start()
    subject, expires, _mac = (reporter.ticket or "").split(".")
    assert int(expires) - time.time() >= 6 * 60 * 60
    # And it expires: a ticket from yesterday is refused.
    old = tokens.issue(
        site.app.extensions["upload_ticket_key"], subject, 3600, now=time.time() - 2 * 24 * 3600
    )
    assert reporter.submit(Report(), ticket=old).status == 400


# -- the KDF cap --------------------------------------------------------------------------


def held_deriver(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, threading.Thread]:
    """Occupy the deriver's only slot deterministically.

    A thread runs a genuine `derive()`; it acquires the semaphore and then calls the argon2
    primitive, which is wrapped to signal `entered` and wait until the test sets `release`. This
    holds the slot through the public code path (no direct use of `deriver._slots`).
    """
    deriver = site.box.deriver
    original = deriver._argon2
    entered, release = threading.Event(), threading.Event()

    def slow_argon2(secret: bytes, salt: bytes) -> bytes:
        # The derivation runs on the deriver's own thread: the holder is known by its input.
        if secret == b"kata penahan slot":
            entered.set()
            assert release.wait(30)
        return original(secret, salt)

    monkeypatch.setattr(deriver, "_argon2", slow_argon2)
    thread = threading.Thread(target=deriver.derive, args=("kata penahan slot",), name="kdf-holder")
    thread.start()
    assert entered.wait(10)
    return release, thread


@pytest.mark.parametrize("lang", ["id", "en"])
def test_login_gets_503_when_kdf_slots_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    site = make_site(tmp_path, deriver_kwargs={"max_concurrent": 1, "wait_seconds": 0.0})
    owner = Reporter(site.client())
    codename = owner.start(lang)
    owner.file_report()
    owner.logout()

    reporter = Reporter(site.client())
    reporter.agent.get(f"/?lang={lang}")
    reporter.login_page()
    newcomer = Reporter(site.client())
    newcomer.generate(lang)
    before = site.snapshot()
    release, thread = held_deriver(site, monkeypatch)
    try:
        started = time.monotonic()
        resp = reporter.agent.post(
            "/login", {"csrf_token": reporter.csrf or "", "codename": codename}
        )
        assert time.monotonic() - started < 5  # refused at once, not queued
        assert resp.status == 503
        assert_in_language(resp, lang, BUSY)
        assert security_header_problems(resp) == []
        resp = newcomer.agent.post("/create", {"csrf_token": newcomer.csrf or ""})
        assert resp.status == 503
        assert_in_language(resp, lang, BUSY)
    finally:
        release.set()
        thread.join(10)
    site.assert_unchanged(before)
    # Once the slot is free again, the same requests work.
    assert reporter.login(codename).location == "/lookup"
    assert newcomer.agent.post("/create", {"csrf_token": newcomer.csrf or ""}).status == 302

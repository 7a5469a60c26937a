"""Sessions in memory with an idle timeout; the upload tickets live and die with their session
(issue 15 reversed the tickets that outlived it: an upload after the session ended is refused
with a clear page and writes nothing); and the global cap on concurrent codename derivations (a
503 page, not a queue).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dropbox import sessions
from dropbox.instance import DEFAULT_SESSION_IDLE_SECONDS
from dropbox.service import DropBox, EncryptedUpload
from support.http import FlaskAgent
from support.instances import Site, make_site
from support.pages import (
    Report,
    Reporter,
    assert_in_language,
    confirm_words,
    notices,
    page_lang,
    security_header_problems,
    tr,
)

BUSY = "The service is busy right now. Please wait a minute and try again."
SESSION_ENDED = (
    "Your session ended: you logged out, or it was unused for too long. Please log in with your "
    "codename again."
)


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
    assert resp.status == 303 and resp.location == "/login?notice=login-first"
    page = agent.follow(resp)
    lang = page_lang(page) or ""
    assert tr(lang, "Please log in with your codename first.") in notices(page.text)
    assert site.app.session_interface.store.get(cookie) is None


def _sessions_holding_keys(site: Site) -> int:
    store = site.app.session_interface.store
    return sum("source_key" in record.values for record in list(store._records.values()))


def test_expired_sessions_are_swept_on_anyones_request(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expired sessions are dropped from memory by the sweep, not only when their owner comes
    back (store._records is inspected, not changed)."""
    monkeypatch.setattr(sessions, "_SWEEP_EVERY_SECONDS", 0.0)
    for _ in range(3):
        Reporter(site.client()).start()
    assert _sessions_holding_keys(site) == 3
    # Someone else's browser that still sends the session cookie of a login that ended (a
    # visitor who is not logged in has no session of their own, so no cookie to send).
    visitor = Reporter(site.client())
    visitor.start()
    ended = visitor.agent.cookie() or ""
    visitor.lookup()
    visitor.logout()
    assert _sessions_holding_keys(site) == 3
    visitor.agent.set_cookie(ended)
    expire_sessions(site)
    visitor.agent.get("/")
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


class UploadCounter:
    """Counts the uploads the site starts to encrypt (each one an envelope in store/pending)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = DropBox.new_upload

        def counting(box: DropBox, filename: str, media_type: str) -> EncryptedUpload:
            self.count += 1
            return original(box, filename, media_type)

        monkeypatch.setattr(DropBox, "new_upload", counting)


def test_upload_after_session_expiry_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reversed by issue 15 (it was test_upload_after_session_expiry_is_accepted): a ticket dies
    with its session, so an upload that arrives after the idle timeout is refused with a page
    that says why, and nothing of it is written, not even to store/pending."""
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    before = site.snapshot()
    counter = UploadCounter(monkeypatch)
    expire_sessions(site)
    resp = reporter.submit(Report(what="dikirim pelan-pelan"), [("a.bin", b"a" * 200_000)])
    restore_timeout(site)
    assert resp.status == 400
    assert_in_language(resp, "en", SESSION_ENDED)
    assert 'id="regno"' not in resp.text
    site.assert_unchanged(before)
    assert counter.count == 0
    # The session stays expired: the upload did not revive a login.
    assert agent.get("/lookup").location == "/login?notice=login-first"


def test_followup_after_session_expiry_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reversed by issue 15 (it was test_followup_after_session_expiry_is_accepted)."""
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("id")
    regno = reporter.file_report()
    reporter.lookup()
    before = site.snapshot()
    counter = UploadCounter(monkeypatch)
    expire_sessions(site)
    resp = reporter.followup(regno, "informasi tambahan", [("b.txt", b"b" * 1000)])
    restore_timeout(site)
    assert resp.status == 400
    # The language lives in its own cookie now: the page stays in the reporter's language.
    assert_in_language(resp, "id", SESSION_ENDED)
    site.assert_unchanged(before)
    assert counter.count == 0
    assert agent.get("/lookup").location == "/login?notice=login-first"


def test_refused_form_after_expiry_does_not_revive_the_session(site: Site) -> None:
    """A form sent after the session expired is refused before it is read (no form back, no new
    ticket), and no half-login is created: the next page is the login page (not a 500 from a
    session with an id and no key)."""
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start("en")
    regno = reporter.file_report()
    reporter.open_form()
    action = reporter.action
    expire_sessions(site)
    resp = reporter.submit(Report(what=""))
    restore_timeout(site)
    assert resp.status == 400
    assert_in_language(resp, "en", SESSION_ENDED)
    assert 'action="/submit?ticket=' not in resp.text
    assert len(site.app.session_interface.store) == 0
    lookup = agent.get("/lookup")
    assert lookup.status == 303 and lookup.location == "/login?notice=login-first"
    # Holding a ticket is not a login: it cannot file a report or read the lookup page.
    stranger = FlaskAgent(site.app)
    reporter2 = Reporter(stranger)
    assert reporter2.submit(Report(), action=action).status == 400
    assert stranger.get("/lookup").location == "/login?notice=login-first"
    assert regno not in stranger.get("/").text
    assert site.rows()["reports"] == 1


def test_a_ticket_lives_as_long_as_its_session_and_no_longer(site: Site) -> None:
    """Reversed by issue 15 (it was test_ticket_lifetime_outlasts_a_slow_upload, a signed ticket
    valid for hours whatever happened to the session). A form's ticket has no clock of its own:
    it works as long as its session is alive, however old the form (activity elsewhere keeps the
    session alive), and stops when the session ends by idling out."""
    store = site.app.session_interface.store
    reporter = Reporter(site.client())
    reporter.start()
    store.idle_seconds = 3.0
    try:
        action = reporter.action
        time.sleep(1.6)
        assert reporter.lookup().status == 200  # the reporter reads their reports meanwhile
        time.sleep(1.6)  # the form is now older than the idle timeout; the session is not
        assert reporter.submit(Report(), action=action).status == 303
        reporter.open_form()
        time.sleep(3.5)  # nothing for longer than the idle timeout: the session ends
        before = site.snapshot()
        refused = reporter.submit(Report())
        assert refused.status == 400
        assert_in_language(refused, page_lang(refused) or "", SESSION_ENDED)
        site.assert_unchanged(before)
    finally:
        restore_timeout(site)


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
    create = {
        "pending": newcomer.pending or "",
        **confirm_words(newcomer.codename or "", newcomer.confirm_page().text),
    }
    before = site.snapshot()
    release, thread = held_deriver(site, monkeypatch)
    try:
        started = time.monotonic()
        resp = reporter.agent.post("/login", {"token": reporter.token or "", "codename": codename})
        assert time.monotonic() - started < 5  # refused at once, not queued
        assert resp.status == 503
        assert_in_language(resp, lang, BUSY)
        assert security_header_problems(resp) == []
        resp = newcomer.agent.post("/create", create)
        assert resp.status == 503
        assert_in_language(resp, lang, BUSY)
    finally:
        release.set()
        thread.join(10)
    site.assert_unchanged(before)
    # Once the slot is free again, the same requests work (the codename page was not lost).
    assert reporter.login(codename).location == "/lookup"
    assert newcomer.agent.post("/create", create).location == "/submit"

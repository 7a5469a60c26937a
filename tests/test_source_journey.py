"""The reporter's whole journey through the Flask test client, end to end.

generate -> create -> submit with two attachments (one over 1 MiB) -> thank-you with a register
number -> logout -> login with the codename typed differently -> lookup -> follow-up with a file ->
a reply and a status imported from a console-signed bundle show with their day -> delete the reply
-> someone else's / unknown reply ids refused -> logout, and the session is gone.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from keys import keytypes, payload
from keys.codename import wordlist
from keys.records import normalize_regno
from support.bundles import Response, import_responses, reply_item, status_item
from support.http import FlaskAgent
from support.instances import MiB, Site, make_site
from support.pages import REGNO_RE, Report, Reporter, assert_in_language, marker, notices, page_lang


def test_whole_journey(site: Site, tmp_path: Path) -> None:
    agent = site.client()
    reporter = Reporter(agent)
    codename = reporter.generate("en")
    assert all(word in wordlist("en") for word in codename.split())
    reporter.create()
    form = reporter.open_form()
    assert 'type="file"' in form.text and "multiple" in form.text

    what = marker("what")
    small = b"%PDF-1.4 small evidence " + secrets.token_bytes(3000)
    large = secrets.token_bytes(MiB + 12345)
    resp = reporter.submit(
        Report(what=what, pseudonym="Kenari", message="Tolong ditindaklanjuti"),
        files=[("bukti kecil.pdf", small, "application/pdf"), ("rekaman.bin", large)],
    )
    assert resp.status == 200, notices(resp.text)
    regno = resp.text.split('id="regno">', 1)[1].split("<", 1)[0].strip()
    assert REGNO_RE.match(regno)
    assert normalize_regno(regno) == regno  # the check character is valid
    assert re.search(r"\b2\b[^<]*files were attached", resp.text)
    assert site.rows() == {"sources": 1, "reports": 1, "entries": 3, "responses": 0}

    # Log out; the page tells the reporter to use New Identity.
    out = reporter.logout()
    assert out.status == 200 and "New Identity" in out.text
    assert agent.follow(agent.get("/lookup")).status == 200
    assert agent.get("/lookup").location == "/login"

    # Come back with the codename typed differently.
    typed = "-".join(codename.split()).upper()
    resp = reporter.login(typed)
    assert resp.status == 302 and resp.location == "/lookup"
    page = reporter.lookup()
    assert page.status == 200 and regno in page.text
    assert "Received" in page.text  # the automatic status
    assert "Thank you for your report" in page.text

    # Add information with a file.
    extra = secrets.token_bytes(5000)
    resp = reporter.followup(regno, "Ada bukti tambahan " + marker("fu"), [("tambahan.jpg", extra)])
    assert resp.status == 302 and resp.location == "/lookup"
    page = reporter.lookup()
    assert "additional information for " + regno + " was received" in page.text
    assert re.search(r"\b1\b[^<]*additional message", page.text)
    assert re.search(r"\b3\b[^<]*files", page.text)
    assert site.rows()["entries"] == 5

    # The inspectorate answers: a status change and a reply, each with its own day.
    reply = Response("reply", regno, "2026-01-15", reply_item(site, regno, "Mohon kirim kontrak."))
    status = Response(
        "status", regno, "2026-01-12", status_item(site, regno, "verifying", "Sedang dicek")
    )
    import_responses(site, [status, reply], tmp_path)
    page = reporter.lookup()
    assert "Mohon kirim kontrak." in page.text and "2026-01-15" in page.text
    assert "Being verified" in page.text and "2026-01-12" in page.text
    assert "Sedang dicek" in page.text
    assert f'id="reply-{reply.response_id}"' in page.text

    # Delete the reply: gone from the page, the database and the store.
    resp = reporter.delete_reply(reply.response_id)
    assert resp.status == 302 and resp.location == "/lookup"
    page = reporter.lookup()
    assert "The reply was deleted." in notices(page.text)
    assert "Mohon kirim kontrak." not in page.text
    assert not (site.items_dir / f"{reply.response_id}.env").exists()
    assert site.rows()["responses"] == 1  # the status stays
    assert "Being verified" in page.text

    # A deleted, an unknown and a status id are all refused with the same clear message.
    for refused in (reply.response_id, secrets.token_hex(16), status.response_id):
        before = site.snapshot()
        resp = reporter.delete_reply(refused)
        assert resp.status == 302
        page = reporter.lookup()
        assert "That reply could not be found. It may already have been deleted." in notices(
            page.text
        )
        site.assert_unchanged(before)

    # Log out: the session is gone on the server, not just in the browser.
    session_id = agent.cookie()
    assert session_id
    reporter.logout()
    assert site.app.session_interface.store.get(session_id) is None or (
        "source_id" not in site.app.session_interface.store.get(session_id)
    )
    resp = agent.get("/lookup")
    assert resp.status == 302 and resp.location == "/login"
    assert agent.get("/submit").location == "/login"
    # Even replaying the old cookie value does not bring the login back.
    stale = FlaskAgent(site.app)
    stale.set_cookie(session_id)
    assert stale.get("/lookup").location == "/login"


def test_someone_elses_reply_is_refused(site: Site, tmp_path: Path) -> None:
    alice, bob = Reporter(site.client()), Reporter(site.client())
    alice.start("en")
    bob.start("en")
    regno_a = alice.file_report()
    regno_b = bob.file_report()
    reply_a = Response("reply", regno_a, "2026-02-01", reply_item(site, regno_a, "untuk Alice"))
    reply_b = Response("reply", regno_b, "2026-02-01", reply_item(site, regno_b, "untuk Bob"))
    import_responses(site, [reply_a, reply_b], tmp_path)

    page = alice.lookup()
    assert "untuk Alice" in page.text and "untuk Bob" not in page.text
    assert regno_b not in page.text
    before = site.snapshot()
    resp = alice.delete_reply(reply_b.response_id)
    assert resp.status == 302
    assert "That reply could not be found" in " ".join(notices(alice.lookup().text))
    site.assert_unchanged(before)
    assert "untuk Bob" in bob.lookup().text

    # Nor can Alice add information to Bob's report, even with her own valid ticket.
    resp = alice.followup(regno_b, "bukan laporan saya", [("x.txt", b"x")])
    assert resp.status == 404
    site.assert_unchanged(before)


def test_statuses_in_both_languages_and_unreadable_response(site: Site, tmp_path: Path) -> None:
    reporter = Reporter(site.client())
    reporter.start("id")
    regno = reporter.file_report()
    responses = [
        Response("status", regno, "2026-03-01", status_item(site, regno, "needs_info")),
        Response("status", regno, "2026-03-09", status_item(site, regno, "investigating")),
        # Encrypted to a stranger only: the page must show it as unreadable, not fail.
        Response(
            "reply",
            regno,
            "2026-03-10",
            payload.seal_bytes(
                {"kind": "reply"},
                b'{"v":1,"message":"secret"}',
                [keytypes.new_recipient_identity().public_key],
            ),
        ),
    ]
    import_responses(site, responses, tmp_path)
    page = reporter.lookup()
    assert page.status == 200 and page_lang(page) == "id"
    assert "Perlu informasi tambahan" in page.text and "2026-03-01" in page.text
    assert "Dalam pemeriksaan" in page.text and "2026-03-09" in page.text
    # The current status is the latest one.
    assert "<strong>Dalam pemeriksaan</strong>" in page.text
    assert_in_language(page, "id", "This reply could not be read.")
    assert "secret" not in page.text
    page_en = reporter.agent.get("/lookup?lang=en")
    assert "More information needed" in page_en.text and "Under investigation" in page_en.text
    assert page_lang(page_en) == "en"


def test_codename_word_list_follows_language(site: Site) -> None:
    agent = site.client()
    for lang in ("id", "en"):
        reporter = Reporter(agent)
        codename = reporter.generate(lang)
        words = codename.split()
        assert all(word in wordlist(lang) for word in words), (lang, codename)  # type: ignore[arg-type]
        assert codename == " ".join(words)


def test_codename_shown_only_once(site: Site) -> None:
    """The codename is on /generate only: no later page, header or cookie carries it."""
    agent = site.client()
    reporter = Reporter(agent)
    codename = reporter.start("en")
    regno = reporter.file_report(files=[("a.txt", b"abc")])
    reporter.lookup()
    reporter.followup(regno, "lagi")
    reporter.lookup()
    reporter.logout()
    reporter.login(codename.upper())
    reporter.lookup()
    generate_pages = [r for r in agent.history if r.path.startswith("/generate")]
    others = [r for r in agent.history if not r.path.startswith("/generate")]
    assert len(generate_pages) == 1 and codename in generate_pages[0].text
    for resp in agent.history:
        header_text = "\n".join(f"{k}: {v}" for k, v in resp.headers).lower()
        for variant in (codename, "-".join(codename.split())):
            assert variant.lower() not in header_text, resp
    for resp in others:
        assert codename not in resp.text, resp
        assert codename.upper() not in resp.text, resp


def test_login_with_wrong_codename_is_generic(site: Site) -> None:
    reporter = Reporter(site.client())
    codename = reporter.start("en")
    reporter.file_report()
    reporter.logout()
    messages = set()
    for wrong in (codename + " extra", "bukan kode", "   ", "x" * 10_000, codename[:-1]):
        resp = reporter.login(wrong)
        assert resp.status == 400, wrong[:30]
        assert resp.header("Location") is None
        messages.add(tuple(notices(resp.text)))
    # One and the same message whatever was wrong: nothing tells a guesser how close they were.
    assert messages == {("That codename was not recognised. Check the words and try again.",)}
    assert reporter.login(codename).location == "/lookup"


def test_over_long_codename_runs_no_kdf(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = site.box.deriver._argon2  # the KDF primitive, wrapped only to count calls
    monkeypatch.setattr(
        site.box.deriver, "_argon2", lambda *args: calls.append(1) or original(*args)
    )
    reporter = Reporter(site.client())
    resp = reporter.login("kata " * 5000)
    assert resp.status == 400
    assert calls == []
    resp = reporter.login("kata benar sekali")
    assert resp.status == 400 and len(calls) == 1  # a well-formed wrong codename: one argon2id


def test_real_kdf_journey(tmp_path: Path) -> None:
    """Once with the production argon2id cost: create, submit, login, lookup."""
    site = make_site(tmp_path, fast_kdf=False)
    reporter = Reporter(site.client())
    codename = reporter.start()
    regno = reporter.file_report()
    reporter.logout()
    assert reporter.login("  " + codename.upper().replace(" ", "  -  ") + " ").status == 302
    assert regno in reporter.lookup().text

"""Every bad input a reporter can send, through the Flask test client: each gets a clear page or
message in the page's language and leaves nothing half-stored (same item files, same rows, pending
empty)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from dropbox.app import FORM_OVERHEAD_BYTES
from dropbox.forms import TEXT_LIMITS
from dropbox.service import DropBox, EncryptedUpload
from support.bundles import Response, import_responses, reply_item
from support.http import FlaskAgent
from support.instances import MiB, Site, make_site
from support.pages import (
    Report,
    Reporter,
    assert_in_language,
    confirm_words,
    form_action,
    marker,
    notices,
    page_lang,
    shown_text,
    tr,
    tr_plural,
)

BAD_REQUEST = "The request could not be understood. Please go back and try again."
TICKET_REFUSED = (
    "This form was already sent, or it is too old. Nothing new was stored. Please open your "
    "reports to check what arrived, and send it again if it is missing."
)
CSRF_EXPIRED = (
    "This form has expired or was not sent from this site. Please go back, reload the page and "
    "try again."
)
LOGIN_EXPIRED = "This form has expired. Please type your codename again."
PENDING_EXPIRED = (
    "The page with your codename expired before you continued. Here is a new codename."
)
TOO_LARGE = (
    "What you sent is larger than this service accepts (at most %(limit)s per submission). Please "
    "send fewer or smaller files, or split them across a report and follow-ups. Use your "
    "browser's Back button: the text you typed is still in the form."
)
NOT_FOUND = "This page does not exist."
UNREADABLE = "This field contains characters that cannot be read. Please type the text again."
REPLY_NOT_FOUND = "That reply could not be found. It may already have been deleted."
CODENAME_IN_REPORT = (
    "Do not write your codename in the report: it is your only key to your reports."
)
FILES_KEPT = (
    "%(num)s file from your last try is kept and will be sent with this form. You do not need "
    "to choose it again.",
    "%(num)s files from your last try are kept and will be sent with this form. You do not need "
    "to choose them again.",
)
LANGS = ("id", "en")
ONE_MIB = re.compile(r"1(?:[.,]0)? ?MiB|1(?:[.,]0)? ?MB|1 ?048 ?576 ?(?:bytes|B)")


def started(site: Site, lang: str) -> Reporter:
    reporter = Reporter(site.client())
    reporter.start(lang)
    return reporter


class UploadCounter:
    """Counts the uploads the site starts to encrypt (each one an envelope in store/pending)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = DropBox.new_upload

        def counting(box: DropBox, filename: str, media_type: str) -> EncryptedUpload:
            self.count += 1
            return original(box, filename, media_type)

        monkeypatch.setattr(DropBox, "new_upload", counting)


# -- forged forms (CSRF) -------------------------------------------------------------------
#
# The logged-in forms (log out, delete a reply) carry the session's anti-forgery token. The two
# forms of a visitor without a session are bound to the browser instead: /login carries a
# `token` bound to the visitor's SameSite=Strict cookie, and /create the sealed codename page
# (`pending`), bound the same way. Each is refused when its token is missing, forged, or made
# for another browser (what a cross-site forger has), and nothing happens.

TOKEN_FIELDS = {"/create": "pending", "/login": "token", "/logout": "csrf_token",
                "/reply/delete": "csrf_token"}


def _csrf_target(
    site: Site, route: str, lang: str
) -> tuple[Reporter, Reporter, dict[str, str], dict[str, str]]:
    """The reporter, another browser on the same site, the reporter's genuine fields without
    the token, and the other browser's fields for the same form (for a token made for it)."""
    reporter = Reporter(site.client())
    other = Reporter(site.client())
    if route == "/create":
        for browser in (reporter, other):
            browser.generate(lang)
        mine, theirs = (
            confirm_words(browser.codename or "", browser.confirm_page().text)
            for browser in (reporter, other)
        )
        return reporter, other, mine, {**theirs, "pending": other.pending or ""}
    if route == "/login":
        # A real codename, so that only the token can stop the login.
        known = Reporter(site.client())
        codename = known.start()
        reporter.agent.get(f"/?lang={lang}")
        reporter.login_page()
        other.login_page()
        fields = {"codename": codename}
        return reporter, other, fields, {**fields, "token": other.token or ""}
    reporter.start(lang)
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-02", reply_item(site, regno, "balasan"))
    import_responses(site, [reply], site.data_dir.parent)
    reporter.lookup()
    other.start()
    fields = {"reply_id": reply.response_id, "confirm": "yes"} if route == "/reply/delete" else {}
    return reporter, other, fields, {**fields, "csrf_token": other.csrf or ""}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("route", ["/create", "/login", "/logout", "/reply/delete"])
@pytest.mark.parametrize("token", ["missing", "wrong", "other-session"])
def test_csrf_refused(site: Site, route: str, lang: str, token: str) -> None:
    reporter, _other, fields, theirs = _csrf_target(site, route, lang)
    field = TOKEN_FIELDS[route]
    if token == "wrong":
        fields[field] = {
            "pending": "A" * 120,
            "token": "0" * 64,
            "csrf_token": "IjAwMDAi.AAAAAA.forged",
        }[field]
    elif token == "other-session":
        fields = theirs
    before = site.snapshot()
    session_before = dict(site.app.session_interface.store.get(reporter.agent.cookie()) or {})
    resp = reporter.agent.post(route, fields)
    if route == "/create":
        # The codename page is treated as expired: a new codename is offered, none is created.
        assert resp.status == 303 and resp.location == "/generate?notice=expired", resp
        assert_in_language(reporter.agent.follow(resp), lang, PENDING_EXPIRED)
    else:
        assert resp.status == 400
        assert_in_language(resp, lang, LOGIN_EXPIRED if route == "/login" else CSRF_EXPIRED)
    site.assert_unchanged(before)
    # Nothing happened: still logged in (or still not), the reply is still there.
    session_after = dict(site.app.session_interface.store.get(reporter.agent.cookie()) or {})
    assert bool(session_after.get("source_id")) == bool(session_before.get("source_id"))
    if not session_before:
        assert reporter.agent.cookie() is None  # no session was made for the visitor either
    if route == "/reply/delete":
        assert "balasan" in reporter.lookup().text


# -- upload tickets (the CSRF token of the upload forms) -----------------------------------
#
# An upload form's single-use ticket is in its action URL, kept in the session that was shown
# the form, and checked before a byte of the body is read.


def _bad_actions(site: Site, reporter: Reporter, route: str, regno: str) -> dict[str, str]:
    genuine = reporter.action if route == "/submit" else reporter.followup_actions[regno]
    assert genuine and genuine.startswith(f"{route}?ticket=")
    ticket = genuine.split("ticket=", 1)[1]
    altered = ticket[:-1] + ("A" if ticket[-1] != "A" else "B")
    # The same kind of form, shown to another source of this site and to a source of another
    # server process.
    other = Reporter(site.client())
    other.start()
    other_regno = other.file_report()
    other.lookup()
    elsewhere_site = make_site(site.data_dir.parent / "elsewhere")
    elsewhere = Reporter(elsewhere_site.client())
    elsewhere.start()
    elsewhere_regno = elsewhere.file_report()
    elsewhere.lookup()
    if route == "/submit":
        other_form = reporter.followup_actions[regno]
        other.open_form()
        elsewhere.open_form()
        theirs, foreign = other.action, elsewhere.action
        # The form the reporter filed a report with: used up.
        used = next(r.path for r in reporter.agent.history
                    if r.method == "POST" and r.path.startswith("/submit?") and r.status == 303)
    else:
        other_form = reporter.action or ""
        theirs = other.followup_actions[other_regno]
        foreign = elsewhere.followup_actions[elsewhere_regno]
        assert reporter.followup(regno, "sekali saja").status == 303
        used = reporter.agent.history[-1].path
        reporter.lookup()
    return {
        "missing": route,
        "empty": f"{route}?ticket=",
        "altered": f"{route}?ticket={altered}",
        "other-source": theirs or "",
        "other-process": (foreign or "").replace("/followup", route).replace("/submit", route),
        "other-form": other_form.replace("/followup", route).replace("/submit", route),
        "used": used,
        "huge": f"{route}?ticket=" + "a" * 100_000,
    }


@pytest.mark.parametrize("route", ["/submit", "/followup"])
def test_bad_ticket_refused_and_files_discarded(
    site: Site, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reporter.open_form()
    reporter.lookup()
    bad = _bad_actions(site, reporter, route, regno)
    genuine = reporter.action if route == "/submit" else reporter.followup_actions[regno]
    ticket = (genuine or "").split("ticket=", 1)[1]
    counter = UploadCounter(monkeypatch)
    for name, action in bad.items():
        before = site.snapshot()
        # The genuine ticket in the body as well (where it used to be) changes nothing.
        fields: dict[str, str | bytes] = {**Report().fields(), "message": "m", "ticket": ticket}
        resp = reporter.agent.post(action, fields, [("bukti.pdf", secrets.token_bytes(70_000))])
        assert resp.status == 400, name
        assert_in_language(resp, "en", TICKET_REFUSED)
        site.assert_unchanged(before)
    assert counter.count == 0  # no file part was even encrypted into store/pending
    # None of that used up the genuine form.
    before = site.snapshot()
    resp = reporter.agent.post(genuine or "", {**Report().fields(), "message": "m"},
                               [("bukti.pdf", b"%PDF asli")])
    assert resp.status == 303, notices(resp.text)
    assert site.rows()["entries"] == before["rows"]["entries"] + 2


def test_bad_ticket_page_in_indonesian(site: Site) -> None:
    reporter = started(site, "id")
    before = site.snapshot()
    resp = reporter.submit(Report(), [("a.txt", b"abc")], action="/submit?ticket=rusak")
    assert resp.status == 400
    assert_in_language(resp, "id", TICKET_REFUSED)
    site.assert_unchanged(before)


# -- the report form -----------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_empty_report_refused(site: Site, lang: str) -> None:
    reporter = started(site, lang)
    before = site.snapshot()
    empty = {name: "" for name in Report().fields()}
    resp = reporter.submit(empty, [("lampiran.txt", b"isi")])
    assert resp.status == 400
    for msgid in (
        "Please choose a category.",
        "Please say whether you work at the ministry or are a member of the public.",
        "This field is required.",
        "Please correct the fields marked below.",
    ):
        assert_in_language(resp, lang, msgid)
    # Issue 16: the attachment is kept (encrypted, in store/pending) for the corrected form,
    # and the page says so; nothing is filed.
    assert tr_plural(lang, *FILES_KEPT, 1) in shown_text(resp)
    site.assert_unchanged(before, kept=1)
    # Whitespace is not an answer either; invalid choices are refused like missing ones.
    resp = reporter.submit(Report(what=" \r\n\t ", category="bogus", relation="boss"))
    assert resp.status == 400
    assert tr(lang, "This field is required.") in notices(resp.text)
    assert tr(lang, "Please choose a category.") in notices(resp.text)
    site.assert_unchanged(before, kept=1)


def test_refused_form_keeps_what_was_typed(site: Site) -> None:
    reporter = started(site, "en")
    who = marker("who") + " <b>&"
    resp = reporter.submit(Report(what="", who=who, category="extortion"))
    assert resp.status == 400
    assert "ZQXWHO" in resp.text and "&lt;b&gt;&amp;" in resp.text  # kept, and escaped
    assert 'value="extortion" selected' in resp.text
    # The form still works: a new ticket is in its action URL (Reporter.submit takes it).
    assert reporter.action and reporter.action.startswith("/submit?ticket=")
    assert reporter.submit(Report()).status == 303


@pytest.mark.parametrize("name", sorted(TEXT_LIMITS))
def test_each_field_over_its_limit(site: Site, name: str) -> None:
    reporter = started(site, "en")
    before = site.snapshot()
    limit = TEXT_LIMITS[name]
    resp = reporter.submit(Report(**{name: "x" * (limit + 1)}), [("f.txt", b"data")])
    assert resp.status == 400
    message = tr("en", "This field is too long (at most %(limit)s characters).", limit=f"{limit:,}")
    assert message in notices(resp.text), notices(resp.text)
    assert f'id="{name}-error"' in resp.text  # shown next to the field
    site.assert_unchanged(before, kept=1)  # the file waits, encrypted, for the corrected form


def test_fields_at_their_limits_accepted_and_limit_message_in_indonesian(site: Site) -> None:
    reporter = started(site, "id")
    at_limit = Report(**{name: "y" * limit for name, limit in TEXT_LIMITS.items()})
    resp = reporter.submit(at_limit)
    assert resp.status == 303
    resp = reporter.submit(Report(pseudonym="p" * 101))
    assert resp.status == 400
    assert_in_language(
        resp, "id", "This field is too long (at most %(limit)s characters).", limit="100"
    )


def test_field_over_form_memory_limit(site: Site) -> None:
    reporter = started(site, "en")
    before = site.snapshot()
    resp = reporter.submit(Report(message="z" * (600 * 1024)), [("a.bin", b"a" * 1000)])
    assert resp.status in (400, 413)
    assert page_lang(resp) == "en" and "Something went wrong" in resp.text
    site.assert_unchanged(before)


def test_too_many_parts_discards_every_started_upload(site: Site) -> None:
    reporter = started(site, "en")
    before = site.snapshot()
    files = [(f"f{i}.txt", b"x") for i in range(1100)]
    resp = reporter.submit(Report(), files)
    assert resp.status in (400, 413)
    site.assert_unchanged(before)


def test_empty_file_input_is_not_a_file(site: Site) -> None:
    """A browser sends an empty part with filename="" when no file was chosen."""
    reporter = started(site, "en")
    resp = reporter.submit(Report(), [("", b"", "application/octet-stream")])
    assert resp.status == 303
    assert site.rows()["entries"] == 1 and len(site.items()) == 1


# -- body over the limit ----------------------------------------------------------------------


@pytest.fixture
def small_site(tmp_path: Path) -> Site:
    return make_site(tmp_path, upload_limit=MiB)


@pytest.mark.parametrize("lang", LANGS)
def test_body_over_limit_gets_413_stating_the_limit(small_site: Site, lang: str) -> None:
    reporter = started(small_site, lang)
    before = small_site.snapshot()
    big = secrets.token_bytes(MiB + FORM_OVERHEAD_BYTES + 10)
    resp = reporter.submit(Report(), [("besar.bin", big)])
    assert resp.status == 413
    assert_in_language(resp, lang, TOO_LARGE, limit=ONE_MIB)
    small_site.assert_unchanged(before)
    # The follow-up form too. (The refused request used up its form's ticket, as the site
    # checks the ticket before it reads the body; Back re-fetches the no-store form, which
    # comes with a new one.)
    reporter.open_form()
    regno = reporter.file_report()
    reporter.lookup()
    before = small_site.snapshot()
    resp = reporter.followup(regno, "lagi", [("besar.bin", big)])
    assert resp.status == 413
    small_site.assert_unchanged(before)
    # The form itself states the limit before anyone tries.
    form = reporter.open_form()
    assert ONE_MIB.search(shown_text(form))


def test_attachments_over_limit_refused_even_within_form_overhead(small_site: Site) -> None:
    reporter = started(small_site, "en")
    before = small_site.snapshot()
    resp = reporter.submit(Report(), [("a.bin", secrets.token_bytes(MiB + MiB // 2))])
    assert resp.status == 413
    small_site.assert_unchanged(before)


# -- broken multipart bodies -----------------------------------------------------------------


def _broken_bodies() -> dict[str, tuple[bytes, str]]:
    boundary = "XyZbound"
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="what"\r\n\r\napa\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="bukti.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    return {
        "truncated-in-file": (start + secrets.token_bytes(300_000), content_type),
        "no-final-boundary": (start + b"abc\r\n", content_type),
        "garbage": (b"\x00\xff garbage \r\n\r\n", content_type),
        "no-boundary": (start, "multipart/form-data"),
        "wrong-boundary": (start + b"abc\r\n--XyZbound--\r\n", "multipart/form-data; boundary=Q"),
        "headers-never-end": (
            f"--{boundary}\r\n".encode()
            + b'Content-Disposition: form-data; name="files"; filename="a"\r\n'
            + b"X-Pad: "
            + b"a" * 100_000,
            content_type,
        ),
    }


@pytest.mark.parametrize("route", ["/submit", "/followup"])
def test_broken_multipart_refused(site: Site, route: str) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    for name, (body, content_type) in _broken_bodies().items():
        # A genuine, unused ticket each time: the body itself is what gets parsed and refused.
        if route == "/submit":
            reporter.open_form()
            action = reporter.action or ""
        else:
            reporter.lookup()
            action = reporter.followup_actions[regno]
        before = site.snapshot()
        resp = reporter.agent.post_raw(action, body, content_type)
        # Refused: an error page, or the form sent back for correction (the follow-up form
        # through its redirect to the reports page, with the error shown there).
        if resp.status == 303 and route == "/followup":
            shown = reporter.agent.follow(resp)
            assert 'class="notice notice-error' in shown.text, (name, notices(shown.text))
        else:
            assert resp.status in (400, 413), name
            assert page_lang(resp) == "en", name
            assert "Something went wrong" in resp.text or "notice-error" in resp.text, name
        # Nothing half-received is stored, or kept for the next try: a file part cut short is
        # not a file.
        site.assert_unchanged(before)


# -- file names ---------------------------------------------------------------------------------

ODD_NAMES = {
    "dotdot": "../../../../etc/passwd",
    "dotdot-win": "..\\..\\windows\\system.ini",
    "absolute": "/var/lib/wbs/dropbox.db",
    "nul": "laporan\x00.pdf.exe",
    "long": "n" * 300 + ".pdf",
    "quotes": "a\"b'c;d.txt",
    "rtl": "invoice\u202egnp.exe",
    "dots": "..",
    "cjk-long": "報告書" * 100,
    "emoji-long": "\U0001f600" * 300,
}


def test_odd_file_names_stay_inside_the_envelope(site: Site, tmp_path: Path) -> None:
    everything_before = {p for p in tmp_path.rglob("*")}
    reporter = started(site, "en")
    contents = {key: secrets.token_bytes(100) + key.encode() for key in ODD_NAMES}
    files = [(ODD_NAMES[key], contents[key]) for key in ODD_NAMES]
    resp = reporter.submit(Report(), files)
    assert resp.status == 303, notices(resp.text)
    assert f"{len(files)} files were attached" in reporter.agent.follow(resp).text
    opened = site.decrypt_items()
    by_content = {content: meta for meta, content in opened.values() if meta["kind"] == "file"}
    assert set(by_content) == set(contents.values())
    for key, sent in ODD_NAMES.items():
        name = by_content[contents[key]]["name"]
        if key.endswith("long"):
            assert name == sent[:255], len(name)  # capped, inside the envelope only
        elif key == "nul":
            assert name in (sent, sent.replace("\x00", "")), repr(name)
        elif key == "dotdot-win":
            assert name.replace("\\", "") == sent.replace("\\", "")  # the test client may drop \
        else:
            assert name == sent, (key, name)
    # Nothing was written anywhere but new envelopes in store/items.
    new = {p for p in tmp_path.rglob("*")} - everything_before
    assert all(p.parent == site.items_dir and p.suffix == ".env" for p in new if p.is_file()), new
    assert not (Path("/etc/passwd.env")).exists()


def test_file_part_with_oversized_metadata_leaves_nothing(site: Site) -> None:
    reporter = started(site, "en")
    before = site.snapshot()
    name = "\U0001f600" * 300 + ".pdf"
    media = "application/" + "\U0001f600" * 250
    resp = reporter.submit(Report(), [(name, b"isi", media)])
    assert resp.status in (303, 400, 413)
    assert site.pending() == [], "a pending envelope was left behind"
    if resp.status != 303:
        site.assert_unchanged(before)


# -- non-UTF-8 text ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_non_utf8_text_refused(site: Site, lang: str) -> None:
    reporter = started(site, lang)
    before = site.snapshot()
    fields: dict[str, str | bytes] = {
        **Report().fields(),
        "what": b"Pungutan \xff\xfe liar",
        "website": "",
    }
    resp = reporter.agent.post(reporter.action or "", fields, [("a.txt", b"abc")])
    assert resp.status == 400
    assert_in_language(resp, lang, UNREADABLE)
    assert 'id="what-error"' in resp.text
    site.assert_unchanged(before, kept=1)  # the file waits for the corrected form
    # A NUL in a text field is refused the same way.
    reporter.action = form_action(resp.text, "/submit")
    resp = reporter.submit(Report(who="Kepala\x00seksi"))
    assert resp.status == 400 and tr(lang, UNREADABLE) in notices(resp.text)
    site.assert_unchanged(before, kept=1)


def test_non_utf8_followup_refused(site: Site) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reporter.lookup()
    before = site.snapshot()
    fields: dict[str, str | bytes] = {"message": b"\xc3\x28 invalid"}
    resp = reporter.agent.post(reporter.followup_actions[regno], fields, [("b.txt", b"isi")])
    assert resp.status == 303 and resp.location == f"/lookup#report-{regno}"
    assert UNREADABLE in notices(reporter.lookup().text)
    site.assert_unchanged(before, kept=1)  # the file waits for the corrected follow-up


def test_non_utf8_codename_is_a_wrong_codename(site: Site) -> None:
    reporter = Reporter(site.client())
    reporter.login_page()
    resp = reporter.agent.post(
        "/login", [("token", reporter.token or ""), ("codename", b"\xff\xfe kata")]
    )
    assert resp.status == 400
    assert_in_language(
        resp, "id", "That codename was not recognised. Check the words and try again."
    )


# -- follow-ups -------------------------------------------------------------------------------


def test_followup_bad_input(site: Site) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reporter.lookup()
    before = site.snapshot()
    resp = reporter.followup(regno, "   ")
    assert resp.status == 303
    assert "Write a message or attach a file." in notices(reporter.lookup().text)
    resp = reporter.followup(regno, "x" * 50_001)
    assert resp.status == 303
    assert any("too long" in text for text in notices(reporter.lookup().text))
    site.assert_unchanged(before)
    # The report a follow-up goes to is the one its form's ticket was issued for: a `regno`
    # field naming another report of the same source, an unknown one or garbage changes nothing.
    other = reporter.file_report()
    bad_regnos = (other, "WBS-0000-0000-0", "WBS-XXXX", "", "../../etc", "WBS-" + "1" * 100)
    for bad in bad_regnos:
        reporter.lookup()
        resp = reporter.agent.post(
            reporter.followup_actions[regno], {"regno": bad, "message": "pesan"}, multipart=True
        )
        assert resp.status == 303 and resp.location == f"/lookup#report-{regno}", bad
    cards = {
        card.split('"', 1)[0]: card for card in reporter.lookup().text.split('id="report-')[1:]
    }
    assert f"You have sent {len(bad_regnos)} additional messages" in cards[regno]
    assert "additional message" not in cards[other]


# -- unknown language ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("asked", ["xx", "de", "", "EN", "../id", "id;en", "en%00"])
def test_unknown_language(site: Site, lang: str, asked: str) -> None:
    agent = site.client()
    agent.get(f"/?lang={lang}")
    resp = agent.get(f"/login?lang={asked}")
    assert resp.status == 400
    assert_in_language(resp, lang, BAD_REQUEST)  # in the language the reporter already had
    # The page offers the way out: links to the two languages that exist.
    assert 'href="?lang=en"' in resp.text or 'href="?lang=id"' in resp.text
    # And the choice was not changed.
    assert page_lang(agent.get("/")) == lang


# -- reply ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_malformed_reply_ids_refused(site: Site, lang: str, tmp_path: Path) -> None:
    reporter = started(site, lang)
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-03", reply_item(site, regno, "tetap ada"))
    import_responses(site, [reply], tmp_path)
    reporter.lookup()
    before = site.snapshot()
    for bad in (
        "",
        secrets.token_hex(16),
        reply.response_id.upper(),
        reply.response_id + "0",
        reply.response_id[:-1],
        "../../store/items/" + reply.response_id[:14],
        "' OR '1'='1' -- " + "a" * 16,
        "%" * 32,
    ):
        # The confirmation page: only for a well-formed id (it deletes nothing by itself).
        page = reporter.delete_reply(bad, confirm=False)
        well_formed = re.fullmatch(r"[0-9a-f]{32}", bad) is not None
        assert page.status == (200 if well_formed else 404), bad
        site.assert_unchanged(before)
        # "Yes, delete it", sent with this id whatever the page said: nothing is deleted.
        resp = reporter.agent.post(
            "/reply/delete",
            [("csrf_token", reporter.csrf or ""), ("reply_id", bad), ("confirm", "yes")],
        )
        assert resp.status == 303 and resp.location == "/lookup", bad
        page = reporter.lookup()
        assert tr(lang, REPLY_NOT_FOUND) in notices(page.text), bad
        assert "tetap ada" in page.text
        site.assert_unchanged(before)
    resp = reporter.agent.post(
        "/reply/delete",
        [("csrf_token", reporter.csrf or ""), ("reply_id", "x"), ("confirm", "yes")],
    )
    assert_in_language(reporter.agent.follow(resp), lang, REPLY_NOT_FOUND)


def test_deleting_a_reply_asks_first_and_deletes_nothing_until_confirmed(
    site: Site, tmp_path: Path
) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-03", reply_item(site, regno, "tetap ada"))
    import_responses(site, [reply], tmp_path)
    reporter.lookup()
    before = site.snapshot()
    resp = reporter.delete_reply(reply.response_id, confirm=False)
    assert resp.status == 200 and "Delete this reply?" in resp.text
    assert 'name="confirm" value="yes"' in resp.text
    site.assert_unchanged(before)
    assert "tetap ada" in reporter.lookup().text


def test_delete_reply_needs_login(site: Site, tmp_path: Path) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-03", reply_item(site, regno, "tetap ada"))
    import_responses(site, [reply], tmp_path)
    reporter.lookup()
    stranger = FlaskAgent(site.app)
    stranger.get("/generate")  # a visitor who is not logged in has no session, so no token
    before = site.snapshot()
    page = stranger.get(f"/reply/delete?reply_id={reply.response_id}")
    assert page.status == 303 and page.location == "/login?notice=login-first"
    for token in ("", reporter.csrf or ""):  # none, and the logged-in reporter's own token
        resp = stranger.post(
            "/reply/delete", {"csrf_token": token, "reply_id": reply.response_id, "confirm": "yes"}
        )
        assert resp.status == 400
        assert_in_language(resp, "id", CSRF_EXPIRED)
    site.assert_unchanged(before)
    assert stranger.cookie() is None
    assert "tetap ada" in reporter.lookup().text


# -- abuse ------------------------------------------------------------------------------------


def test_honeypot_filled_refused(site: Site) -> None:
    reporter = started(site, "en")
    before = site.snapshot()
    resp = reporter.submit(
        Report(),
        [("a.txt", secrets.token_bytes(200_000))],
        extra={"website": "http://spam.example"},
    )
    assert resp.status == 400
    assert_in_language(resp, "en", BAD_REQUEST)
    site.assert_unchanged(before)


@pytest.mark.parametrize("lang", LANGS)
def test_first_report_that_is_the_codename_refused(site: Site, lang: str) -> None:
    reporter = Reporter(site.client())
    codename = reporter.start(lang)
    before = site.snapshot()
    for attempt, (field_name, typed) in enumerate((
        ("what", codename.upper()),
        ("what", "  " + "-".join(codename.split()) + "\n"),
        ("message", codename.title()),
        ("pseudonym", codename),
        ("contact", codename.replace(" ", "_")),
    )):
        # The file is chosen once; each refused form keeps it for the next.
        files = [("a.txt", b"abc")] if attempt == 0 else []
        resp = reporter.submit(Report(**{field_name: typed}), files)
        assert resp.status == 400, field_name
        assert_in_language(resp, lang, CODENAME_IN_REPORT)
        site.assert_unchanged(before, kept=1)  # the one file waits for the corrected form
    # A report that merely shares a word with the codename is fine (and takes the kept file).
    assert reporter.submit(Report(what=codename.split()[0] + " disebut di rapat")).status == 303
    assert site.pending() == [] and site.rows()["entries"] == before["rows"]["entries"] + 2


def test_followup_that_is_the_codename_refused(site: Site) -> None:
    reporter = Reporter(site.client())
    codename = reporter.start("en")
    regno = reporter.file_report()
    reporter.lookup()
    before = site.snapshot()
    resp = reporter.followup(regno, codename.upper(), [("a.txt", b"a")])
    assert resp.status == 303
    assert "Do not write your codename in a message." in notices(reporter.lookup().text)
    site.assert_unchanged(before, kept=1)  # the file waits for the corrected follow-up


# -- methods and unknown pages -------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_404_and_405_pages(site: Site, lang: str) -> None:
    agent = site.client()
    agent.get(f"/?lang={lang}")
    resp = agent.get("/no-such-page")
    assert resp.status == 404
    assert_in_language(resp, lang, NOT_FOUND)
    for method, path in (
        ("GET", "/create"),
        ("GET", "/confirm"),
        ("GET", "/logout"),
        ("POST", "/lookup"),
        ("POST", "/thanks"),
        ("POST", "/logged-out"),
        ("PUT", "/reply/delete"),
        ("GET", "/followup"),
        ("PUT", "/submit"),
    ):
        resp = agent.request(method, path)
        assert resp.status == 405, (method, path)
        assert_in_language(resp, lang, "This page cannot be used that way.")

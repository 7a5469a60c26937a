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
from keys import tokens
from support.bundles import Response, import_responses, reply_item
from support.http import FlaskAgent
from support.instances import MiB, Site, make_site
from support.pages import (
    Report,
    Reporter,
    assert_in_language,
    marker,
    notices,
    page_lang,
    shown_text,
    tr,
)

BAD_REQUEST = "The request could not be understood. Please go back and try again."
TICKET_REFUSED = (
    "This form has expired or was not sent from this site. Please log in again with your "
    "codename and send it once more."
)
CSRF_EXPIRED = (
    "This form has expired or was not sent from this site. Please go back, reload the page and "
    "try again."
)
TOO_LARGE = (
    "What you sent is larger than this service accepts (at most %(limit)s per submission). Please "
    "send fewer or smaller files, or split them across a report and follow-ups."
)
NOT_FOUND = "This page does not exist."
UNREADABLE = "This field contains characters that cannot be read. Please type the text again."
REPLY_NOT_FOUND = "That reply could not be found. It may already have been deleted."
CODENAME_IN_REPORT = (
    "Do not write your codename in the report: it is your only key to your reports."
)
LANGS = ("id", "en")
ONE_MIB = re.compile(r"1(?:[.,]0)? ?MiB|1(?:[.,]0)? ?MB|1 ?048 ?576 ?(?:bytes|B)")


def started(site: Site, lang: str) -> Reporter:
    reporter = Reporter(site.client())
    reporter.start(lang)
    return reporter


# -- CSRF ----------------------------------------------------------------------------------


def _csrf_target(site: Site, route: str, lang: str) -> tuple[Reporter, dict[str, str]]:
    reporter = Reporter(site.client())
    if route == "/create":
        reporter.generate(lang)
        return reporter, {}
    if route == "/login":
        reporter.agent.get(f"/?lang={lang}")
        reporter.login_page()
        return reporter, {"codename": "kata apa saja"}
    reporter.start(lang)
    regno = reporter.file_report()
    reply = Response("reply", regno, "2026-01-02", reply_item(site, regno, "balasan"))
    import_responses(site, [reply], site.data_dir.parent)
    reporter.lookup()
    return reporter, {"reply_id": reply.response_id} if route == "/reply/delete" else {}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("route", ["/create", "/login", "/logout", "/reply/delete"])
@pytest.mark.parametrize("token", ["missing", "wrong", "other-session"])
def test_csrf_refused(site: Site, route: str, lang: str, token: str) -> None:
    reporter, fields = _csrf_target(site, route, lang)
    other = Reporter(site.client())
    other.generate()
    tokens_ = {"missing": None, "wrong": "IjAwMDAi.AAAAAA.forged", "other-session": other.csrf}
    if tokens_[token] is not None:
        fields["csrf_token"] = tokens_[token] or ""
    before = site.snapshot()
    session_before = dict(site.app.session_interface.store.get(reporter.agent.cookie()) or {})
    resp = reporter.agent.post(route, fields)
    assert resp.status == 400
    assert_in_language(resp, lang, CSRF_EXPIRED)
    site.assert_unchanged(before)
    # Nothing happened: still logged in (or still not), the reply is still there.
    session_after = dict(site.app.session_interface.store.get(reporter.agent.cookie()) or {})
    assert bool(session_after.get("source_id")) == bool(session_before.get("source_id"))


# -- upload tickets (the CSRF token of the upload forms) -----------------------------------


def _bad_tickets(site: Site, reporter: Reporter) -> dict[str, str | None]:
    ticket = reporter.ticket or ""
    subject, expires, mac = ticket.split(".")
    forged_mac = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    other_app = make_site(site.data_dir.parent / "other", with_app=True)
    foreign = tokens.issue(other_app.app.extensions["upload_ticket_key"], subject, 3600)
    expired = tokens.issue(site.app.extensions["upload_ticket_key"], subject, -5)
    return {
        "missing": None,
        "empty": "",
        "forged-mac": f"{subject}.{expires}.{forged_mac}",
        "extended-expiry": f"{subject}.{int(expires) + 10**6}.{mac}",
        "other-source": f"{secrets.token_hex(16)}.{expires}.{mac}",
        "other-process": foreign,
        "expired": expired,
        "huge": "a" * 100_000,
    }


@pytest.mark.parametrize("route", ["/submit", "/followup"])
def test_bad_ticket_refused_and_files_discarded(site: Site, route: str) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reporter.lookup()
    for name, ticket in _bad_tickets(site, reporter).items():
        before = site.snapshot()
        fields: dict[str, str | bytes] = {**Report().fields(), "regno": regno, "message": "m"}
        if ticket is not None:
            fields["ticket"] = ticket
        resp = reporter.agent.post(route, fields, [("bukti.pdf", secrets.token_bytes(70_000))])
        assert resp.status == 400, name
        assert_in_language(resp, "en", TICKET_REFUSED)
        site.assert_unchanged(before)


def test_bad_ticket_page_in_indonesian(site: Site) -> None:
    reporter = started(site, "id")
    before = site.snapshot()
    resp = reporter.submit(Report(), [("a.txt", b"abc")], ticket="rusak")
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
        "Attachments are not kept when the form has errors: please choose them again.",
    ):
        assert_in_language(resp, lang, msgid)
    site.assert_unchanged(before)
    # Whitespace is not an answer either; invalid choices are refused like missing ones.
    resp = reporter.submit(Report(what=" \r\n\t ", category="bogus", relation="boss"))
    assert resp.status == 400
    assert tr(lang, "This field is required.") in notices(resp.text)
    assert tr(lang, "Please choose a category.") in notices(resp.text)
    site.assert_unchanged(before)


def test_refused_form_keeps_what_was_typed(site: Site) -> None:
    reporter = started(site, "en")
    who = marker("who") + " <b>&"
    resp = reporter.submit(Report(what="", who=who, category="extortion"))
    assert resp.status == 400
    assert "ZQXWHO" in resp.text and "&lt;b&gt;&amp;" in resp.text  # kept, and escaped
    assert 'value="extortion" selected' in resp.text
    # The form still works: a new ticket is on the page.
    reporter.ticket = resp.text.split('name="ticket" value="', 1)[1].split('"', 1)[0]
    assert reporter.submit(Report()).status == 200


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
    site.assert_unchanged(before)


def test_fields_at_their_limits_accepted_and_limit_message_in_indonesian(site: Site) -> None:
    reporter = started(site, "id")
    at_limit = Report(**{name: "y" * limit for name, limit in TEXT_LIMITS.items()})
    resp = reporter.submit(at_limit)
    assert resp.status == 200
    reporter.open_form()
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
    assert resp.status == 200
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
    # The follow-up form too.
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


def _broken_bodies(ticket: str) -> dict[str, tuple[bytes, str]]:
    boundary = "XyZbound"
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="ticket"\r\n\r\n{ticket}\r\n'
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
    reporter.file_report()
    reporter.lookup()
    for name, (body, content_type) in _broken_bodies(reporter.ticket or "").items():
        before = site.snapshot()
        resp = reporter.agent.post_raw(route, body, content_type)
        assert resp.status in (400, 413), name
        assert page_lang(resp) == "en" and "Something went wrong" in resp.text, name
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
    assert resp.status == 200, notices(resp.text)
    assert f"{len(files)} files were attached" in resp.text
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
    assert resp.status in (200, 400, 413)
    assert site.pending() == [], "a pending envelope was left behind"
    if resp.status != 200:
        site.assert_unchanged(before)


# -- non-UTF-8 text ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_non_utf8_text_refused(site: Site, lang: str) -> None:
    reporter = started(site, lang)
    before = site.snapshot()
    fields: dict[str, str | bytes] = {
        "ticket": reporter.ticket or "",
        **Report().fields(),
        "what": b"Pungutan \xff\xfe liar",
        "website": "",
    }
    resp = reporter.agent.post("/submit", fields, [("a.txt", b"abc")])
    assert resp.status == 400
    assert_in_language(resp, lang, UNREADABLE)
    assert 'id="what-error"' in resp.text
    site.assert_unchanged(before)
    # A NUL in a text field is refused the same way.
    resp = reporter.submit(Report(who="Kepala\x00seksi"))
    assert resp.status == 400 and tr(lang, UNREADABLE) in notices(resp.text)
    site.assert_unchanged(before)


def test_non_utf8_followup_refused(site: Site) -> None:
    reporter = started(site, "en")
    regno = reporter.file_report()
    reporter.lookup()
    before = site.snapshot()
    fields: dict[str, str | bytes] = {
        "ticket": reporter.ticket or "",
        "regno": regno,
        "message": b"\xc3\x28 invalid",
    }
    resp = reporter.agent.post("/followup", fields, [("b.txt", b"isi")])
    assert resp.status == 302
    assert UNREADABLE in notices(reporter.lookup().text)
    site.assert_unchanged(before)


def test_non_utf8_codename_is_a_wrong_codename(site: Site) -> None:
    reporter = Reporter(site.client())
    reporter.login_page()
    resp = reporter.agent.post(
        "/login", [("csrf_token", reporter.csrf or ""), ("codename", b"\xff\xfe kata")]
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
    assert resp.status == 302
    assert "Write a message or attach a file." in notices(reporter.lookup().text)
    resp = reporter.followup(regno, "x" * 50_001)
    assert resp.status == 302
    assert any("too long" in text for text in notices(reporter.lookup().text))
    site.assert_unchanged(before)
    valid_unknown = "WBS-0000-0000-0"
    for bad in (valid_unknown, "WBS-XXXX", "", "../../etc", "WBS-" + "1" * 100):
        resp = reporter.followup(bad, "pesan", [("a.txt", b"a")])
        assert resp.status == 404, bad
        assert_in_language(resp, "en", NOT_FOUND)
        site.assert_unchanged(before)


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
        resp = reporter.delete_reply(bad)
        assert resp.status == 302, bad
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
    stranger = FlaskAgent(site.app)
    page = stranger.get("/generate")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    before = site.snapshot()
    resp = stranger.post(
        "/reply/delete", {"csrf_token": token, "reply_id": reply.response_id, "confirm": "yes"}
    )
    assert resp.status == 302 and resp.location == "/login"
    site.assert_unchanged(before)


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
    for field_name, typed in (
        ("what", codename.upper()),
        ("what", "  " + "-".join(codename.split()) + "\n"),
        ("message", codename.title()),
        ("pseudonym", codename),
        ("contact", codename.replace(" ", "_")),
    ):
        resp = reporter.submit(Report(**{field_name: typed}), [("a.txt", b"abc")])
        assert resp.status == 400, field_name
        assert_in_language(resp, lang, CODENAME_IN_REPORT)
        site.assert_unchanged(before)
    # A report that merely shares a word with the codename is fine.
    assert reporter.submit(Report(what=codename.split()[0] + " disebut di rapat")).status == 200


def test_followup_that_is_the_codename_refused(site: Site) -> None:
    reporter = Reporter(site.client())
    codename = reporter.start("en")
    regno = reporter.file_report()
    reporter.lookup()
    before = site.snapshot()
    resp = reporter.followup(regno, codename.upper(), [("a.txt", b"a")])
    assert resp.status == 302
    assert "Do not write your codename in a message." in notices(reporter.lookup().text)
    site.assert_unchanged(before)


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
        ("GET", "/logout"),
        ("POST", "/lookup"),
        ("GET", "/reply/delete"),
        ("GET", "/followup"),
        ("PUT", "/submit"),
    ):
        resp = agent.request(method, path)
        assert resp.status == 405, (method, path)
        assert_in_language(resp, lang, "This page cannot be used that way.")

"""The reporter's journey without surprises: nothing filed twice (POST, redirect, GET; single-use
tickets), the language link keeps a page's state, the codename is checked before it is created,
files survive a form sent back for correction, errors and limits are stated where they apply,
the card of each report tells it apart, and one Indonesian vocabulary."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from babel.messages.pofile import read_po
from flask import g

from dropbox import forms
from dropbox.labels import CATEGORY_LABELS, STATUS_LABELS
from support.bundles import Response, import_responses, reply_item
from support.instances import Site, make_site
from support.pages import Report, Reporter, element_text, notices

REPO = Path(__file__).resolve().parent.parent
PO = REPO / "dropbox" / "translations" / "id" / "LC_MESSAGES" / "messages.po"


def label(site: Site, text: object, lang: str) -> str:
    """A label of dropbox/labels.py as the site's pages show it in `lang`."""
    with site.app.test_request_context("/"):
        g.lang = lang
        return str(text)


def started(site: Site, lang: str | None = None) -> Reporter:
    reporter = Reporter(site.client())
    reporter.start(lang)
    return reporter


# -- 1. nothing filed twice -----------------------------------------------------------------------


def test_a_report_is_answered_with_a_redirect_and_reload_after_logout_files_nothing(
    site: Site,
) -> None:
    reporter = started(site)
    action = reporter.action
    sent = reporter.submit(Report())
    assert sent.status == 303 and sent.location == "/thanks"
    regno = element_text(reporter.agent.get("/thanks").text, "regno")
    reporter.lookup()
    assert reporter.logout().status == 303
    rows = site.rows()
    # Back then Reload after the logout: the form again, the thank-you page again.
    assert reporter.submit(Report(), action=action).status == 400
    thanks = reporter.agent.get("/thanks")
    assert thanks.status == 303 and regno not in thanks.text
    assert site.rows() == rows
    assert regno not in reporter.agent.follow(thanks).text


def test_each_report_card_shows_its_category_and_day(site: Site) -> None:
    reporter = started(site)
    reporter.file_report(Report(category="bribery"))
    reporter.open_form()
    reporter.file_report(Report(category="procurement_fraud"))
    page = reporter.lookup().text
    day = dt.date.today()
    for category in ("bribery", "procurement_fraud"):
        assert label(site, CATEGORY_LABELS[category], "id") in page
    assert page.count(f'datetime="{day.isoformat()}"') >= 2
    english = reporter.agent.get("/lookup?lang=en").text
    assert label(site, CATEGORY_LABELS["bribery"], "en") in english


# -- 2. the language link keeps the page's state --------------------------------------------------


def test_the_language_link_on_the_thank_you_page_keeps_the_register_number(site: Site) -> None:
    reporter = started(site)
    regno = reporter.file_report()
    english = reporter.agent.get("/thanks?lang=en")
    assert english.status == 200 and element_text(english.text, "regno") == regno
    assert 'lang="en"' in english.text


def test_the_language_link_works_on_the_logged_out_and_delete_confirmation_pages(
    site: Site, tmp_path: Path
) -> None:
    reporter = started(site)
    regno = reporter.file_report()
    import_responses(site, [Response("reply", regno, dt.date.today().isoformat(),
                                     reply_item(site, regno, "Terima kasih"))], tmp_path)
    page = reporter.lookup().text
    reply_id = re.search(r'id="reply-([0-9a-f]{32})"', page)
    assert reply_id
    confirm = reporter.agent.get(f"/reply/delete?reply_id={reply_id.group(1)}&lang=en")
    assert confirm.status == 200 and 'lang="en"' in confirm.text
    reporter.lookup()
    reporter.logout()
    for lang in ("en", "id"):
        logged_out = reporter.agent.get(f"/logged-out?lang={lang}")
        assert logged_out.status == 200 and f'lang="{lang}"' in logged_out.text


def test_the_language_switch_on_the_codename_page_keeps_the_codename(site: Site) -> None:
    reporter = Reporter(site.client())
    shown = reporter.generate()
    page = reporter.agent.history[-1].text
    switch = page.split('class="lang-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="pending"' in switch and 'name="lang" value="en"' in switch
    assert '<form method="post" action="/generate" class="lang-form">' in page
    english = reporter.agent.post("/generate", {"pending": reporter.pending or "", "lang": "en"})
    assert english.status == 200 and 'lang="en"' in english.text
    assert element_text(english.text, "codename") == shown
    confirm = reporter.agent.post("/confirm", {"pending": reporter.pending or "", "lang": "id"})
    assert confirm.status == 200 and 'lang="id"' in confirm.text
    assert shown not in confirm.text  # the confirmation page hides the codename


# -- 3. the codename is checked before it is created ----------------------------------------------


def test_a_mistyped_confirmation_is_refused_and_creates_nothing(site: Site) -> None:
    reporter = Reporter(site.client())
    codename = reporter.generate()
    page = reporter.confirm_page().text
    positions = [int(n) for n in re.findall(r'name="word(\d+)"', page)]
    assert len(positions) == 2 and len(set(positions)) == 2
    for number in positions:
        assert f"Kata ke-{number}" in page  # the label names the position
    words = codename.split()
    typo = {f"word{n}": words[n - 1] for n in positions}
    first = f"word{positions[0]}"
    typo[first] = typo[first][:-1] + ("a" if typo[first][-1] != "a" else "e")
    refused = reporter.create(typo)
    assert refused.status == 400
    assert 'aria-invalid="true"' in refused.text
    assert any("tidak cocok" in text for text in notices(refused.text))
    assert site.rows()["sources"] == 0
    assert reporter.create().status == 303  # the right words, typed in any case, work
    assert site.rows()["sources"] == 1


def test_the_codename_can_be_shown_again_in_the_first_session_only(site: Site) -> None:
    reporter = started(site)
    again = reporter.agent.get("/codename")
    assert again.status == 200 and element_text(again.text, "codename") == reporter.codename
    assert reporter.file_report()
    reporter.lookup()
    reporter.logout()
    returning = Reporter(site.client())
    assert returning.login(reporter.codename or "").status == 303
    later = returning.agent.get("/codename")
    assert later.status == 303 and "codename" not in later.text.lower().split("<title>")[0]


# -- 4. files survive a form sent back for correction ---------------------------------------------


def test_files_of_a_refused_form_are_kept_and_reach_the_inspectorate(site: Site) -> None:
    reporter = started(site)
    evidence = [("kontrak.pdf", b"%PDF-1.7 kontrak fiktif"), ("foto.jpg", b"\xff\xd8 foto")]
    refused = reporter.submit(Report(what=""), evidence)
    assert refused.status == 400
    assert any("2 berkas" in text for text in notices(refused.text)), notices(refused.text)
    assert site.items() == []  # kept, encrypted, but not stored as a report
    assert reporter.submit(Report(what="Kontrak fiktif")).status == 303
    contents = {meta.get("name"): body for meta, body in site.decrypt_items().values()}
    assert contents["kontrak.pdf"] == evidence[0][1]
    assert contents["foto.jpg"] == evidence[1][1]
    assert site.pending() == []


def test_kept_files_of_a_follow_up_reach_the_inspectorate(site: Site) -> None:
    reporter = started(site)
    regno = reporter.file_report()
    over = "x" * (forms.FOLLOWUP_LIMIT + 1)
    assert reporter.followup(regno, over, [("catatan.txt", b"catatan rapat")]).status == 303
    page = reporter.lookup().text
    assert "1 berkas" in page
    assert reporter.followup(regno, "Catatan rapat terlampir").status == 303
    names = {meta.get("name") for meta, _ in site.decrypt_items().values()}
    assert "catatan.txt" in names
    assert site.pending() == []


def test_the_report_form_offers_several_file_fields(site: Site) -> None:
    form = started(site).agent.get("/submit").text
    assert len(re.findall(r'<input type="file"[^>]*name="files"[^>]*multiple', form)) >= 2


def test_kept_files_are_destroyed_with_the_session(site: Site) -> None:
    reporter = started(site)
    assert reporter.submit(Report(what=""), [("a.txt", b"isi")]).status == 400
    assert len(site.pending()) == 1  # kept, as an envelope
    reporter.lookup()
    reporter.logout()
    assert site.pending() == []


# -- 5. errors and limits on the form -------------------------------------------------------------


def test_the_error_summary_links_to_each_field_and_takes_the_focus(site: Site) -> None:
    reporter = started(site)
    refused = reporter.submit({"category": "", "relation": "", "what": ""})
    assert refused.status == 400
    summary = refused.text.split("error-summary", 1)[1].split("</div>", 1)[0]
    for name in ("category", "relation", "what"):
        assert f'href="#{name}"' in summary
        assert f'id="{name}"' in refused.text
    assert re.search(r"<a [^>]*autofocus", summary)
    for name in ("category", "what"):
        tag = re.search(rf'<(?:select|textarea)[^>]*id="{name}"[^>]*>', refused.text)
        assert tag and 'aria-invalid="true"' in tag.group(0)
        assert f"{name}-error" in tag.group(0)


def test_limits_are_stated_and_text_is_never_cut_silently(site: Site) -> None:
    form = started(site).agent.get("/submit").text
    assert not re.search(r"<textarea[^>]*maxlength", form)
    assert "Paling banyak 10.000 karakter." in form  # Indonesian grouping
    assert "Paling banyak 50.000 karakter." in form
    assert "paling besar 1 GB" in form  # the default limit, in the units people read
    english = started(site, "en").agent.get("/submit?lang=en").text
    assert "At most 10,000 characters." in english and "1 GB" in english


def test_the_follow_up_form_warns_about_metadata_and_states_its_limits(site: Site) -> None:
    reporter = started(site)
    reporter.file_report()
    page = reporter.lookup().text
    followup = page.split('class="followup"', 1)[1]
    assert "informasi tersembunyi" in followup
    assert "Paling banyak 50.000 karakter." in followup
    assert "1 GB" in followup


def test_the_413_page_says_back_keeps_the_text(tmp_path: Path) -> None:
    small = make_site(tmp_path, upload_limit=1024 * 1024)
    reporter = started(small)
    too_big = reporter.submit(Report(), [("besar.bin", b"x" * (1024 * 1024 + 10))])
    assert too_big.status == 413
    assert "Kembali" in too_big.text and "masih ada di formulir" in too_big.text


# -- 6. follow-ups, deleted replies, a new report while logged in ---------------------------------


def test_after_a_reply_is_deleted_the_card_does_not_say_no_replies_yet(
    site: Site, tmp_path: Path
) -> None:
    reporter = started(site)
    regno = reporter.file_report()
    import_responses(site, [Response("reply", regno, dt.date.today().isoformat(),
                                     reply_item(site, regno, "Mohon data tambahan"))], tmp_path)
    reply_id = re.search(r'id="reply-([0-9a-f]{32})"', reporter.lookup().text)
    assert reply_id
    assert reporter.delete_reply(reply_id.group(1)).status == 303
    page = reporter.lookup().text
    assert "Belum ada balasan" not in page


def test_a_logged_in_reporters_new_report_keeps_their_codename(site: Site) -> None:
    reporter = started(site)
    reporter.file_report()
    index = reporter.agent.get("/").text
    assert 'href="/submit"' in index and 'href="/generate"' not in index
    again = reporter.agent.get("/generate")
    assert again.status == 303 and again.location == "/submit"
    assert site.rows()["sources"] == 1


# -- 7. one vocabulary ----------------------------------------------------------------------------


def test_one_indonesian_vocabulary(site: Site) -> None:
    """The seed's "nomor register", "pemeriksa" for the inspectorate's staff, and no
    criminal-procedure "penyelidikan" for the inspectorate's own examination."""
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    translated = " ".join(
        " ".join(message.string) if isinstance(message.string, tuple) else message.string
        for message in catalog
        if message.id
    ).lower()
    assert "registrasi" not in translated
    assert "penyelidik" not in translated
    assert "nomor register" in translated
    assert "pemeriksa" in translated
    assert label(site, STATUS_LABELS["investigating"], "id") == "Dalam pemeriksaan"


def test_kept_files_are_destroyed_when_the_server_stops(tmp_path: Path) -> None:
    """Sessions live as long as the process: a file kept for a corrected form goes with them at
    a clean stop (SIGTERM), not at the next start."""
    from support.http import HttpAgent
    from support.processes import real_server

    site = make_site(tmp_path, with_app=False)
    pending = site.data_dir / "store" / "pending"
    with real_server(site.data_dir, tmp_path / "logs") as server:
        reporter = Reporter(HttpAgent(server.port))
        reporter.start()
        assert reporter.submit(Report(what=""), [("bukti.txt", b"isi bukti")]).status == 400
        assert len(list(pending.glob("*"))) == 1
        server.stop()
        assert server.process is not None and server.process.returncode == 0
        assert list(pending.glob("*")) == []

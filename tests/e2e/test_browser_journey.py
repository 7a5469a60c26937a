"""The whole journey in a real browser with JavaScript off, as on Tor Browser "Safest".

Debian's headless Chromium, driven by Selenium, with JavaScript disabled by content setting (proved
on a canary page first), a fresh profile, and no network but 127.0.0.1. Against the real
`dropbox serve` (spill directory on /dev/shm) and the real `journalist-console serve`, both set up
by their CLIs in a temporary directory:

    reporter: landing → new report → codename → confirmation (two of its words typed back: first
    mistyped and refused, then right) → report form (category, relation, the five criteria,
    message, two attachments in two file fields) → redirect to the register number → log out
    (redirect to a page) → log in with the codename → /lookup shows the report → log out
    operator: `dropbox export` → `journalist-console import --server-key`
    investigator (its own browser): unlock with the passphrase → queue → the report; the desk,
    at most 3 page loads from the queue: open the report, one Respond submit (status
    "needs_info", the standard acknowledgement and a reply of their own), the report page's
    export button → the export page with the bundle; then the console restarted with a short
    idle time: a reply typed while the session idles out is kept, offered back after unlocking,
    discarded → lock
    operator: `dropbox import` of the bundle the web interface wrote
    reporter: log in → sees the reply (the acknowledgement and the investigator's words) and the
    new status → deletes the reply (its confirmation page, then "yes") → log out

Once in Indonesian (the default) and once in English (the "English" link, clicked).

At every page (see tests/e2e/browser.py): JavaScript is off and no <script> exists, every request
of the page went to the one 127.0.0.1 origin (the browser's performance log), the page's weight
(landing page HTML + CSS under 30 KiB, measured with urllib), no horizontal scrolling at 1280, 360
and 320 CSS px nor at 200% zoom, every form control labelled, HTML lang; screenshots at desktop
and phone widths of every step, in the folder the run prints. Readability findings (small text,
low contrast, small touch targets) are written to findings.txt in that folder and printed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

try:
    import selenium  # noqa: F401
except ImportError:  # pragma: no cover - a setup problem, not a product problem
    pytest.fail(
        "selenium is missing: pip install -e '.[dev]' (it is in the dev extras)", pytrace=False
    )

from babel.messages.pofile import read_po  # noqa: E402
from babel.support import Translations  # noqa: E402
from browser import Browser  # noqa: E402
from deployment import PASSPHRASE, REPO, deployment, landing_bytes, missing_tools  # noqa: E402
from page_audit import LANDING_BUDGET  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from dropbox.i18n import TRANSLATIONS  # noqa: E402
from keys.codename import wordlist  # noqa: E402


def site_text(language: str, msgid: str) -> str:
    """A text of the source site as it shows it in `language` (English is the msgid)."""
    if language == "en":
        return msgid
    return str(Translations.load(str(TRANSLATIONS), [language]).gettext(msgid))


ARTIFACTS = Path(
    os.environ.get("WBS_E2E_ARTIFACTS")
    or (REPO / "test-artifacts" / f"e2e-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
)
ATTACHED = {"id": "2 berkas telah dilampirkan", "en": "2 files were attached"}
PO_FILE = REPO / "dropbox" / "translations" / "id" / "LC_MESSAGES" / "messages.po"

REPORTS = {
    "id": {
        "category": "procurement_fraud",
        "relation": "employee",
        "what": "Harga laptop untuk Biro Umum digelembungkan sekitar 40 persen.",
        "who": "Kepala Bagian Pengadaan dan seorang rekanan penyedia.",
        "where": "Biro Umum, kantor pusat kementerian, Jakarta.",
        "when": "Maret sampai Mei tahun ini.",
        "how": "Spesifikasi di kontrak diubah setelah lelang; selisihnya dibagi.",
        "message": "Saya punya salinan kontrak dan daftar harga pembanding.",
        "reply": "Mohon kirim foto halaman tanda tangan kontrak.",
        "acknowledgement": "Terima kasih atas laporan Anda.",
        "kept": "Satu pertanyaan lagi: siapa yang menandatangani berita acara?",
    },
    "en": {
        "category": "bribery",
        "relation": "public",
        "what": "An official asked me for money to speed up a broadcasting licence.",
        "who": "A licensing officer at the regional office.",
        "where": "The regional licensing office, Surabaya.",
        "when": "Last Tuesday, around midday.",
        "how": "He said the file would be 'lost' unless I paid him in cash.",
        "message": "I kept the receipt he refused to sign.",
        "reply": "Please tell us the officer's desk or room number if you know it.",
        "acknowledgement": "Thank you for your report.",
        "kept": "One more question: did anyone else see the payment?",
    },
}


def untranslated_markers(language: str) -> list[str]:
    """Phrases of four words or more that must not appear on a page in `language`: the English
    source strings on Indonesian pages, the Indonesian translations on English pages."""
    with PO_FILE.open("rb") as handle:
        catalog = read_po(handle)
    phrases = []
    for message in catalog:
        if not message.id or not message.string or isinstance(message.id, tuple):
            continue
        other = message.id if language == "id" else message.string
        if other == (message.string if language == "id" else message.id):
            continue
        first = re.split(r"%\(|[.:;!?]", other)[0].strip()
        if len(first.split()) >= 4:
            phrases.append(first)
    return phrases


def check_language(browser: Browser, language: str, markers: list[str], where: str) -> None:
    text = " ".join(browser.text().split())
    leaked = [phrase for phrase in markers if phrase in text]
    assert not leaked, f"{where}: text in the wrong language on a {language} page: {leaked[:3]}"


def make_attachments(folder: Path, language: str) -> list[Path]:
    folder.mkdir()
    first = folder / ("kontrak pengadaan.pdf" if language == "id" else "receipt scan.pdf")
    first.write_bytes(b"%PDF-1.4\n% e2e test attachment\n" + os.urandom(20_000))
    second = folder / ("daftar-harga.txt" if language == "id" else "notes.txt")
    second.write_text("Laptop A: 14.000.000\nLaptop B: 21.500.000\n", encoding="utf-8")
    return [first, second]


def fill_report(browser: Browser, report: dict[str, str], files: list[Path]) -> None:
    Select(browser.find("select#category")).select_by_value(report["category"])
    browser.find(f"input[name=relation][value={report['relation']}]").click()
    for name in ("what", "who", "where", "when", "how", "message"):
        field = browser.find(f"textarea#{name}")
        field.clear()
        field.send_keys(report[name])
    # One file per field: choosing files in a second field keeps the first field's choice.
    for number, path in enumerate(files, 1):
        browser.find(f"input#files{number}").send_keys(str(path))


@pytest.mark.parametrize("language", ["id", "en"])
def test_journey_without_javascript(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = missing_tools()
    assert not missing, "cannot run the browser journey, missing: " + "; ".join(missing)
    artifacts = ARTIFACTS / language
    artifacts.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():
        print(f"\n[e2e] screenshots and findings: {artifacts}", flush=True)
    report = REPORTS[language]
    markers = untranslated_markers(language)
    status_label = site_text(language, "More information needed")
    files = make_attachments(tmp_path / "attachments", language)
    reporter = investigator = None
    landing_total = 0
    started = dt.datetime.now()

    with deployment(tmp_path / "deploy") as box:
        try:
            # ---- the landing page's weight, as the server sends it ----------------------------
            sizes = landing_bytes(box.site_url, "" if language == "id" else "?lang=en")
            landing_total = sum(sizes.values())
            assert landing_total < LANDING_BUDGET, (
                f"landing page HTML + CSS: {landing_total} bytes, budget {LANDING_BUDGET}: {sizes}"
            )

            counter = itertools.count(1)
            reporter = Browser(f"reporter-{language}", box.site_url, artifacts, counter=counter)
            reporter.prove_javascript_off()
            site = box.site_url

            def page(step: str, **kwargs: Any) -> None:
                reporter.page(step, expect_lang=language, **kwargs)
                check_language(reporter, language, markers, step)

            # ---- reporter: a new report -------------------------------------------------------
            reporter.get(site + "/")
            if language == "en":
                reporter.page("landing-default", expect_lang="id")
                reporter.click_and_wait(reporter.driver.find_element("link text", "English"))
            page("landing", zoom_shot=True)
            reporter.click_and_wait(reporter.find("main a.button[href='/generate']"))
            page("codename", zoom_shot=True)
            codename = reporter.find("#codename").text.strip()
            words = codename.split()
            assert len(words) >= 6, codename
            assert set(words) <= set(wordlist("id" if language == "id" else "en")), codename
            reporter.click_and_wait(reporter.find("form[action='/confirm'] button[type=submit]"))
            page("confirm", zoom_shot=True)
            assert codename not in reporter.text()  # typed from the copy, not from the screen
            asked = [
                int(field.get_attribute("name").removeprefix("word"))
                for field in reporter.finds("form[action='/create'] input[name^=word]")
            ]
            assert len(asked) == 2 and all(1 <= n <= len(words) for n in asked), asked
            # A mistake in the copy is found now: refused, with the fields marked.
            for number in asked:
                reporter.find(f"input#word{number}").send_keys(words[number - 1] + "x")
            reporter.click_and_wait(reporter.find("form[action='/create'] button[type=submit]"))
            page("confirm-mistyped", status=400)
            assert reporter.find("#confirm-error").text
            for number in asked:
                field = reporter.find(f"input#word{number}")
                assert field.get_attribute("aria-invalid") == "true"
                field.clear()
                field.send_keys(words[number - 1].upper())  # case must not matter
            reporter.click_and_wait(reporter.find("form[action='/create'] button[type=submit]"))
            assert reporter.driver.current_url.endswith("/submit"), reporter.driver.current_url
            page("report-form", zoom_shot=True)
            fill_report(reporter, report, files)
            page("report-form-filled", navigated=False)
            reporter.click_and_wait(reporter.find("form.report button[type=submit]"))
            # POST, then redirect: the thank-you page is a page of its own.
            assert reporter.driver.current_url.endswith("/thanks"), reporter.driver.current_url
            page("register-number", zoom_shot=True)
            regno = reporter.find("#regno").text.strip()
            assert re.fullmatch(r"WBS-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]", regno), regno
            assert ATTACHED[language] in reporter.find("main").text
            reporter.click_and_wait(reporter.find("header form[action='/logout'] button"))
            assert reporter.driver.current_url.endswith("/logged-out")
            page("logged-out")
            assert not reporter.finds("header form[action='/logout']")

            # ---- reporter: back with the codename ---------------------------------------------
            reporter.click_and_wait(reporter.find("main a[href='/']"))
            page("landing-again")
            reporter.click_and_wait(reporter.find("main a.button[href='/login']"))
            page("login", zoom_shot=True)
            reporter.find("input#codename").send_keys(codename.upper())  # case must not matter
            reporter.click_and_wait(reporter.find("main form[action='/login'] button"))
            assert reporter.driver.current_url.endswith("/lookup"), reporter.driver.current_url
            page("lookup-first", zoom_shot=True)
            card = reporter.find(f"#report-{regno}")
            assert site_text(language, "Received") in card.text
            reporter.click_and_wait(reporter.find("header form[action='/logout'] button"))
            page("logged-out-2")

            # ---- the USB stick, server to console ----------------------------------------------
            imported = box.to_console()
            assert "1 new reports" in imported, imported
            console = box.start_console()

            # ---- investigator: the console's web interface -------------------------------------
            investigator = Browser(
                f"investigator-{language}", console, artifacts, strict_small=False, counter=counter
            )
            investigator.prove_javascript_off()

            def desk(step: str, **kwargs: Any) -> None:
                investigator.page(step, expect_lang=language, budget=None, **kwargs)

            investigator.get(console + "/")
            if language == "en":
                investigator.page("unlock-default", budget=None, expect_lang="id")
                investigator.click_and_wait(investigator.find("header a.lang"))
            desk("unlock")
            investigator.find("input#passphrase").send_keys(PASSPHRASE)
            investigator.click_and_wait(investigator.find("main form button[type=submit]"))
            desk("queue")
            row = investigator.find("table.queue tbody tr")
            assert regno in row.text and report["what"][:20] in row.text  # the first words
            assert investigator.finds("nav.views a[href='/?show=unanswered']")
            assert investigator.finds("a.skip[href='#main']")

            # ---- the desk: acknowledge + reply + status + export in at most 3 page loads ------
            loads = 0

            def load(element: Any) -> None:
                nonlocal loads
                loads += 1
                investigator.click_and_wait(element)

            load(investigator.find("table.queue a.regno"))
            desk("report")
            shown = investigator.text()
            for name in ("what", "who", "where", "when", "how", "message"):
                assert report[name] in shown, (name, shown[:2000])
            for path in files:
                assert path.name in shown, (path.name, shown[:2000])
            card = investigator.find("section#respond")
            Select(card.find_element("css selector", "select#respond-status")).select_by_value(
                "needs_info"
            )
            standard = card.find_element("css selector", "select#respond-standard")
            Select(standard).select_by_value("acknowledgement")
            card.find_element("css selector", "textarea#message").send_keys(report["reply"])
            desk("respond-filled", navigated=False)
            load(card.find_element("css selector", "button[name=then][value=stay]"))
            desk("responded")
            assert status_label in investigator.find("h1 .status").text
            load(investigator.find("button#export-now"))
            desk("exported")
            assert loads <= 3, loads
            written = [link.text for link in investigator.finds("ul.exports a")]
            assert written, "the export page lists no bundle"
            bundle = box.home / "exports" / written[0]
            assert bundle.is_file(), bundle

            # ---- no lost work: the session idles out while a reply is typed -------------------
            box.stop_console()
            idle = 8
            console = box.start_console("--idle-seconds", str(idle))
            investigator.allowed_origin = console  # a new port: the same console's origin
            investigator.get(f"{console}/report/{regno}")
            investigator.find("input#passphrase").send_keys(PASSPHRASE)
            investigator.click_and_wait(investigator.find("main form button[type=submit]"))
            assert f"/report/{regno}" in investigator.driver.current_url
            typed_at = time.monotonic()  # the last request: the idle time counts from here
            investigator.find("textarea#message").send_keys(report["kept"])
            desk("typing", navigated=False)
            time.sleep(max(0.0, idle + 1.5 - (time.monotonic() - typed_at)))
            investigator.click_and_wait(investigator.find("button[name=then][value=stay]"))
            assert "/unlock" in investigator.driver.current_url
            desk("idled-out")
            assert investigator.finds("main .flash.info")  # locked, and the text was kept
            investigator.find("input#passphrase").send_keys(PASSPHRASE)
            investigator.click_and_wait(investigator.find("main form button[type=submit]"))
            desk("kept-reply-offered")
            assert investigator.find("textarea#message").get_attribute("value") == report["kept"]
            assert investigator.finds("#kept-message")
            investigator.click_and_wait(
                investigator.find("button[formaction$='/draft/discard'][value=message]")
            )
            desk("kept-reply-discarded")
            assert investigator.find("textarea#message").get_attribute("value") == ""
            investigator.click_and_wait(investigator.find("header form[action='/lock'] button"))
            desk("locked")
            investigator.prove_javascript_off()
            box.stop_console()
            saved = tmp_path / "saved"
            saved.mkdir()
            box.console("save", regno, "--out", saved)  # what the browser uploaded, decrypted
            originals = [p for p in saved.rglob("*") if p.is_file() and ".safe." not in p.name]
            got = sorted(path.read_bytes() for path in originals)
            assert got == sorted(path.read_bytes() for path in files)  # beside their safe copies

            # ---- the USB stick, console to server ----------------------------------------------
            box.to_server(bundle)

            # ---- reporter: reads the reply, deletes it, leaves ---------------------------------
            reporter.get(site + "/login")
            page("login-again")
            reporter.find("input#codename").send_keys(codename.replace(" ", "-"))
            reporter.click_and_wait(reporter.find("main form[action='/login'] button"))
            page("lookup-reply", zoom_shot=True)
            card = reporter.find(f"#report-{regno}")
            assert status_label in card.find_element("css selector", ".status-now").text
            replies = card.find_elements("css selector", ".reply")
            assert len(replies) == 1 and report["reply"] in replies[0].text, card.text
            assert report["acknowledgement"] in replies[0].text  # the standard text, first
            assert report["kept"] not in card.text  # the discarded draft never left
            followup = card.find_element("css selector", "details.followup")
            assert followup.get_attribute("open") is not None  # needs_info opens "add information"
            delete_link = replies[0].find_element("css selector", "a[href^='/reply/delete?']")
            reporter.click_and_wait(delete_link)
            page("confirm-delete")
            assert reporter.finds("main form input[name=confirm][value=yes]")  # asks first
            reporter.click_and_wait(
                reporter.find("main form[action='/reply/delete'] button[type=submit]")
            )
            assert reporter.driver.current_url.endswith("/lookup"), reporter.driver.current_url
            page("lookup-reply-deleted")
            card = reporter.find(f"#report-{regno}")
            assert not card.find_elements("css selector", ".reply")
            assert report["reply"] not in reporter.text()
            assert reporter.finds("main .notice")  # "The reply was deleted."
            assert status_label in card.find_element("css selector", ".status-now").text
            reporter.click_and_wait(reporter.find("header form[action='/logout'] button"))
            page("logged-out-3")
            reporter.get(site + "/lookup")  # the session is gone: back to the login page
            current = urlsplit(reporter.driver.current_url)
            assert current.path == "/login", reporter.driver.current_url
            page("lookup-after-logout")
            reporter.prove_javascript_off()  # still off at the end of the journey
        finally:
            summary = []
            findings: list[str] = []
            for browser in (reporter, investigator):
                if browser is None:
                    continue
                findings += browser.soft
                summary += [
                    {
                        "step": s.name,
                        "url": s.url,
                        "bytes": s.transferred,
                        "content_width": {
                            "1280": s.width_desktop,
                            "360": s.width_phone,
                            "320": s.width_reflow,
                            "zoom200": s.width_zoom,
                        },
                        "requests": s.requests,
                        "screenshots": s.screenshots,
                        "findings": s.soft,
                    }
                    for s in browser.steps
                ]
                browser.close()
            (artifacts / "steps.json").write_text(json.dumps(summary, indent=1))
            (artifacts / "findings.txt").write_text("\n".join(findings) + "\n")
            with capsys.disabled():
                print(
                    f"[e2e] {language}: {len(summary)} pages checked, landing page HTML + CSS "
                    f"{landing_total} bytes, "
                    f"{len(findings)} readability findings (see findings.txt); "
                    f"{(dt.datetime.now() - started).total_seconds():.0f} s",
                    flush=True,
                )

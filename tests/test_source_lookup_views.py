"""What a returning reporter sees on /lookup is always the database's present state.

The site keeps a reporter's decrypted reports in their session between visits and keeps one
database connection per worker thread; neither may ever show a page older than the data: a reply
imported from the console, a status, a follow-up and a deletion each show on the very next visit,
and the kept page is the page a fresh login computes from scratch.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from babel.dates import format_date

from keys.records import today
from support.pages import followup_action, login, new_source, submit_report
from support.roundtrip import Deployment

# What differs between two renders of the same state: the single-use ticket of the follow-up
# form and the per-session CSRF token.
_PER_REQUEST = re.compile(r"(ticket=|name=\"csrf_token\" value=\"|name=\"token\" value=\")[^\"&]+")


def _same_state(page: str) -> str:
    return _PER_REQUEST.sub(r"\1*", page)


def _fresh_lookup(d: Deployment, codename: str) -> str:
    client = d.client.application.test_client()
    assert login(client, codename).status_code == 303
    return client.get("/lookup").get_data(as_text=True)


def _reply_ids(page: str) -> list[str]:
    return re.findall(r"reply_id=([0-9a-f]{32})", page)


def test_each_change_shows_on_the_next_visit(tmp_path: Path) -> None:
    d = Deployment(tmp_path)
    codename = new_source(d.client)
    regno = submit_report(d.client, what="Perjalanan dinas fiktif di Biro Keuangan")
    d.to_console()
    assert d.console("reply", regno, "--message", "Balasan pertama dari inspektorat.") == 0
    d.to_server()

    first = d.client.get("/lookup").get_data(as_text=True)
    assert "Balasan pertama dari inspektorat." in first
    again = d.client.get("/lookup").get_data(as_text=True)
    assert _same_state(again) == _same_state(first) == _same_state(_fresh_lookup(d, codename))

    # An import by another connection (the `dropbox import` command) shows at once.
    assert d.console("reply", regno, "--message", "Balasan kedua: mohon bukti kuitansi.") == 0
    assert d.console("status", regno, "investigating") == 0
    d.to_server()
    second = d.client.get("/lookup").get_data(as_text=True)
    assert "Balasan kedua: mohon bukti kuitansi." in second
    assert _same_state(second) == _same_state(_fresh_lookup(d, codename))
    assert _same_state(second) != _same_state(first)

    # The reporter's own deletion.
    doomed = _reply_ids(second)[0]
    deleted = d.client.post("/reply/delete", data={
        "reply_id": doomed, "confirm": "yes",
        "csrf_token": re.findall(r'name="csrf_token" value="([^"]+)"', second)[0]})
    assert deleted.status_code == 303
    third = d.client.get("/lookup").get_data(as_text=True)  # with the notice it was deleted
    assert doomed not in _reply_ids(third) and len(_reply_ids(third)) == 1
    third = d.client.get("/lookup").get_data(as_text=True)
    assert _same_state(third) == _same_state(_fresh_lookup(d, codename))

    # A follow-up changes the report's counts.
    sent = d.client.post(followup_action(third, regno),
                         data={"message": "Tambahan: kuitansi hotel ada di lemari arsip."},
                         content_type="multipart/form-data")
    assert sent.status_code == 303
    d.client.get("/lookup")  # with the notice it was sent
    fourth = d.client.get("/lookup").get_data(as_text=True)
    assert _same_state(fourth) != _same_state(third)
    assert _same_state(fourth) == _same_state(_fresh_lookup(d, codename))


def test_another_codename_in_the_same_browser_never_gets_the_kept_page(tmp_path: Path) -> None:
    d = Deployment(tmp_path)
    browser = d.client
    new_source(browser)
    first_regno = submit_report(browser, what="Laporan orang pertama tentang gratifikasi")
    other_browser = d.new_reporter()
    other = new_source(other_browser)
    other_regno = submit_report(other_browser, what="Laporan orang kedua")
    assert f"report-{first_regno}" in browser.get("/lookup").get_data(as_text=True)

    assert login(browser, other).status_code == 303  # over the first reporter's session
    shown = browser.get("/lookup").get_data(as_text=True)
    assert f"report-{other_regno}" in shown and f"report-{first_regno}" not in shown


def test_days_are_written_in_each_page_language(tmp_path: Path) -> None:
    """Each day is formatted once per language and kept: the second language must not get the
    first one's words."""
    d = Deployment(tmp_path)
    new_source(d.client)
    submit_report(d.client, what="Pungutan liar di loket layanan")
    received = today()
    expected = {lang: format_date(dt.date.fromisoformat(received), format="long", locale=lang)
                for lang in ("id", "en")}
    assert expected["id"] != expected["en"]
    for lang in ("id", "en", "id"):
        page = d.client.get(f"/lookup?lang={lang}").get_data(as_text=True)
        assert expected[lang] in page, (lang, expected[lang])
        other = "en" if lang == "id" else "id"
        assert expected[other] not in page

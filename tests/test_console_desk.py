"""The investigators' desk in the web console (Flask test client, CSRF on): the Respond card,
standard texts, "save and open the next report", the queue's filters and search, links after an
import, and no lost work: a session that slides with activity, typed text kept as a draft when
the console locks, and offered back after unlocking.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.bundles import open_response, read_console_bundle
from support.console import Desk, make_desk
from support.instances import console_identity, write_passphrase_file


@pytest.fixture
def desk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Desk]:
    made = make_desk(tmp_path, capsys, monkeypatch, today="2025-03-10")
    made.late = made.server.add_report(
        day="2025-01-31", category="bribery", what="Suap <b>izin</b>"
    )
    made.english = made.server.add_report(day="2025-02-20", language="en", what="A bribe")
    made.fresh = made.server.add_report(day="2025-03-01", category="corruption")
    made.import_new()
    yield made
    made.close()


def field(page: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, page[:3000]
    return match.group(1)


# -- the Respond card ------------------------------------------------------------------------------


def test_status_and_message_in_one_submit_then_export_from_the_report_page(desk: Desk) -> None:
    web = desk.web()
    page = f"/report/{desk.late}"
    shown = web.text(page)
    assert shown.index('id="respond"') < shown.index("<h2>Berkas</h2>")  # near the top
    said = {"status": "verifying", "standard": "acknowledgement", "message": "Mohon sabar."}
    response = web.post(f"{page}/respond", said, page)
    assert response.status_code == 302 and response.headers["Location"].endswith(page)
    shown = web.text(page)
    assert "status diubah dan balasan disimpan" in shown
    assert "2 tanggapan menunggu ekspor berikutnya." in shown
    assert 'class="status status-verifying"' in shown
    assert "Terima kasih atas laporan Anda. Laporan ini sudah kami terima" in shown
    assert "jawaban sudah ditulis, belum diekspor" in shown
    exported = web.post("/export", {}, page)  # the export button on the report page
    assert exported.status_code == 302
    assert "Bundel 1 ditulis: 2 tanggapan" in web.text("/export")
    bundle = read_console_bundle(
        desk.home / "exports" / "wbs-console-00001.bundle",
        desk.home / "console.pub",
        desk.tmp / "s",
    )
    assert [r["kind"] for r in bundle.manifest["responses"]] == ["status", "reply"]
    shown = web.text(page)
    assert "dijawab terlambat" in shown and "menunggu ekspor berikutnya" not in shown
    reply = bundle.items[bundle.manifest["responses"][1]["item"]]
    _meta, document = open_response(reply, console_identity(desk.home))
    assert document["message"].startswith("Terima kasih atas laporan Anda.")
    assert document["message"].endswith("\n\nMohon sabar.")


def test_an_english_report_gets_the_english_standard_text_put_in_the_box(desk: Desk) -> None:
    web = desk.web()
    page = f"/report/{desk.english}"
    shown = web.post(
        f"{page}/respond",
        {"standard": "more_information", "then": "insert", "message": "Which office?"},
        page,
    )
    assert shown.status_code == 200
    box = field(shown.get_data(as_text=True), "message")
    assert box.startswith("Thank you for your report. To follow it up we need the information")
    assert box.endswith("\n\nWhich office?")
    assert "menunggu ekspor berikutnya" not in web.text(page)  # nothing was saved


def test_save_and_open_the_next_report_in_the_list_it_came_from(desk: Desk) -> None:
    web = desk.web()
    order = re.findall(
        r'href="/report/([^"?]+)\?show=unanswered" class="regno"', web.text("/?show=unanswered")
    )
    assert order == [desk.late, desk.english, desk.fresh]  # most urgent first
    page = f"/report/{order[0]}?show=unanswered"
    assert 'name="show" value="unanswered"' in web.text(page)
    said = {"message": "Terima kasih.", "then": "next", "show": "unanswered"}
    nxt = web.post(f"/report/{order[0]}/respond", said, page)
    assert nxt.headers["Location"].endswith(f"/report/{order[1]}?show=unanswered")
    said["message"] = "Thank you."
    web.post(f"/report/{order[1]}/respond", said, page)
    last = web.post(f"/report/{order[2]}/respond", said, page)
    assert last.headers["Location"].endswith("/?show=unanswered")
    assert "Itu laporan terakhir dalam daftar ini." in web.text("/?show=unanswered")


def test_nothing_to_send_is_refused_and_keeps_what_was_typed(desk: Desk) -> None:
    web = desk.web()
    page = f"/report/{desk.late}"
    refused = web.post(
        f"{page}/respond", {"status": "received", "message": "  ", "text": "cat"}, page
    )
    assert refused.status_code == 400
    assert "Tidak ada yang dikirim: pilih status lain atau tulis pesan." in refused.get_data(
        as_text=True
    )
    assert field(refused.get_data(as_text=True), "text") == "cat"


# -- standard texts --------------------------------------------------------------------------------


def test_administrators_keep_the_standard_texts(desk: Desk) -> None:
    web = desk.web()
    assert "Teks baku" in web.text("/")  # the administrator's menu
    changed = web.post("/texts/acknowledgement/id", {"body": "Laporan Anda kami terima."}, "/texts")
    assert changed.status_code == 302
    assert "Diubah pada 2025-03-10 oleh investigator." in web.text("/texts")
    page = f"/report/{desk.late}"
    web.post(f"{page}/respond", {"standard": "acknowledgement", "message": ""}, page)
    assert "Laporan Anda kami terima." in web.text(page)
    assert web.post("/texts/acknowledgement/id", {"body": " "}, "/texts").status_code == 400
    web.post("/texts/acknowledgement/id", {"action": "reset"}, "/texts")
    assert "Teks bawaan." in web.text("/texts")
    web.close()
    listed = desk.ok("texts", "list")
    assert "acknowledgement (id, built-in)" in listed
    audit = desk.ok("audit", "show")
    assert audit.count("standard_text_changed") == 2
    desk.ok("texts", "set", "closed", "en", "--body", "We closed it.")
    assert "closed (en, changed 2025-03-10 by investigator)" in desk.ok("texts", "list")


def test_an_investigator_reads_but_cannot_change_the_standard_texts(desk: Desk) -> None:
    pp = write_passphrase_file(desk.tmp / "pp-budi", "frasa sandi milik budi")
    desk.ok("user", "add", "budi", "--new-passphrase-file", pp)
    web = desk.web(unlocked=False)
    page = web.text("/unlock")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    web.client.post(
        "/unlock",
        data={"csrf_token": token.group(1), "user": "budi", "passphrase": "frasa sandi milik budi"},
    )
    assert "Terima kasih atas laporan Anda." in web.text("/texts")
    assert 'name="body"' not in web.text("/texts")
    refused = web.post("/texts/closed/id", {"body": "x"}, "/texts")
    assert refused.status_code == 403


# -- the queue -------------------------------------------------------------------------------------


def test_queue_filters_search_first_words_and_dates_that_never_wrap(desk: Desk) -> None:
    web = desk.web()
    queue = web.text("/")
    assert '<a class="skip" href="#main">Langsung ke isi</a>' in queue and 'id="main"' in queue
    assert "Suap &lt;b&gt;izin&lt;/b&gt;" in queue  # the first words of "what", escaped
    assert '<td class="day">2025-01-31</td>' in queue
    assert "a.skip" in web.text(
        "/static/console.css"
    ) and ".day, td.day { white-space: nowrap; }" in web.text("/static/console.css")
    overdue = web.text("/?show=overdue")
    assert desk.late in overdue and desk.fresh not in overdue
    web.post(f"/report/{desk.fresh}/respond", {"message": "Terima kasih."}, f"/report/{desk.fresh}")
    web.post("/export", {})
    unanswered = web.text("/?show=unanswered")
    assert desk.fresh not in unanswered and desk.late in unanswered
    assert desk.fresh in web.text("/?show=open")
    web.post(f"/report/{desk.fresh}/assign", {"assignee": "investigator"}, f"/report/{desk.fresh}")
    mine = web.text("/?mine=1")
    assert desk.fresh in mine and desk.late not in mine
    part = desk.late[4:8].lower()
    found = web.text(f"/?q={part}")
    assert desk.late in found and desk.fresh not in found
    exact = web.client.get(f"/?q={desk.late.lower().replace('-', ' ')}")
    assert exact.status_code == 302 and exact.headers["Location"].endswith(f"/report/{desk.late}")
    assert web.client.get("/?show=archived").status_code == 400


def test_after_an_import_links_to_the_new_reports(desk: Desk) -> None:
    web = desk.web()
    arrived = desk.server.add_report(day="2025-03-09")
    desk.server.add_followup(desk.fresh, "Ada foto tambahan.", day="2025-03-09")
    path = desk.tmp / "server-2.bundle"
    desk.server.export(path, [desk.home / "inspectorate.pub"])
    response = web.client.post(
        "/import",
        data={"csrf_token": web.token("/import"), "bundle": (io.BytesIO(path.read_bytes()), "b")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/import?bundle=2")
    page = web.text("/import?bundle=2")
    links = re.findall(r'<li><a href="/report/([^"]+)" class="regno">', page)
    assert links == [arrived, desk.fresh]
    assert (
        page.index("Laporan baru") < page.index(arrived) < page.index("kiriman baru dari pelapor")
    )


# -- no lost work ----------------------------------------------------------------------------------


def test_the_session_slides_with_activity(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request every ten minutes for an hour keeps the console unlocked: the cookie is signed
    again at every request (before, it expired 15 minutes after the unlock, whatever happened)."""
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    web = desk.web()
    for _ in range(6):
        clock[0] += 10 * 60
        response = web.client.get(f"/report/{desk.late}")
        assert response.status_code == 200
        assert "wbs_console=" in response.headers.get("Set-Cookie", "")
    said = {"message": "Masih bekerja."}
    assert web.post(f"/report/{desk.late}/respond", said, f"/report/{desk.late}").status_code == 302
    clock[0] += 16 * 60  # then a real pause: the keys go
    assert web.client.get("/").status_code == 302 and web.held.session is None


def kept_drafts(desk: Desk) -> list[tuple[str, str, str | None, str]]:
    conn = desk.db()
    try:
        return [tuple(r) for r in conn.execute("SELECT regno, kind, status, text FROM drafts")]
    finally:
        conn.close()


def test_a_session_that_idles_out_keeps_the_typed_reply(desk: Desk) -> None:
    web = desk.web()
    page = f"/report/{desk.late}"
    token = web.token(page)  # the page is open; the investigator types for a long time
    web.held.last_seen -= 16 * 60
    typed = {
        "csrf_token": token,
        "regno": desk.late,
        "status": "needs_info",
        "message": "Mohon kirim foto kuitansi.\nTerima kasih.",
        "text": "Cek dengan Biro Umum.",
        "then": "stay",
    }
    response = web.client.post(f"{page}/respond", data=typed)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/unlock?next=/report/{desk.late}")
    assert web.held.session is None  # locked, and nothing was sent
    notice = web.text("/unlock")
    assert "Konsol dikunci karena tidak digunakan." in notice
    assert "Yang sedang Anda ketik sudah disimpan" in notice
    raw = (desk.home / "console.db").read_bytes()
    assert b"kuitansi" not in raw and b"Biro Umum" not in raw  # encrypted (SQLCipher)
    assert web.unlock(then=page).headers["Location"].endswith(page)
    shown = web.text(page)
    assert field(shown, "message") == "Mohon kirim foto kuitansi.\nTerima kasih."
    assert field(shown, "text") == "Cek dengan Biro Umum."
    assert '<option value="needs_info" selected>' in shown
    assert 'id="kept-message"' in shown and 'id="kept-note"' in shown
    assert "menunggu ekspor berikutnya" not in shown
    assert "badge draft" in web.text("/") and 'id="drafts"' in web.text("/")
    # Sending it discards the message's draft; the note stays kept until it is added.
    web.post(
        f"{page}/respond",
        {
            "status": "needs_info",
            "message": field(shown, "message"),
            "text": "Cek dengan Biro Umum.",
        },
        page,
    )
    web.close()
    assert [(r[0], r[1]) for r in kept_drafts(desk)] == [(desk.late, "note")]


def test_lock_on_the_report_page_keeps_what_is_typed(desk: Desk) -> None:
    web = desk.web()
    page = f"/report/{desk.late}"
    shown = web.text(page)
    assert re.search(
        r'<button type="submit" class="secondary" form="desk" formaction="/lock">', shown
    )
    typed = {"regno": desk.late, "message": "Setengah jadi", "status": "received", "text": ""}
    locked = web.post("/lock", typed, page)
    assert locked.headers["Location"].endswith(f"/unlock?next=/report/{desk.late}")
    web.unlock()
    assert field(web.text(page), "message") == "Setengah jadi"
    discarded = web.post(
        f"{page}/draft/discard", {"kind": "message", "message": "Setengah jadi"}, page
    )
    assert discarded.status_code == 302
    assert field(web.text(page), "message") == ""


def test_a_form_reaching_a_locked_console_is_carried_through_the_unlock_page(
    desk: Desk,
) -> None:
    web = desk.web()
    page = f"/report/{desk.late}"
    token = web.token(page)
    cookie = web.client.get_cookie("wbs_console")
    assert cookie is not None
    web.close()
    restarted = desk.web(unlocked=False)  # `serve` was restarted: a new signing key, no session
    restarted.client.set_cookie("wbs_console", cookie.value)
    typed = {
        "csrf_token": token,
        "regno": desk.late,
        "message": "Baris satu\nbaris dua",
        "status": "received",
        "text": "",
    }
    response = restarted.client.post(f"{page}/respond", data=typed)
    assert response.status_code == 401
    carried = response.get_data(as_text=True)
    assert 'id="carried"' in carried and desk.late in carried
    assert "Bad request" not in carried and "CSRF" not in carried
    value = re.search(r'name="carried_message" value="([^"]*)"', carried)
    assert value and value.group(1) == "Baris satu\nbaris dua"
    assert (
        restarted.unlock(
            regno=desk.late, message=value.group(1), status="received", text=""
        ).status_code
        == 302
    )
    assert field(restarted.text(page), "message") == "Baris satu\nbaris dua"
    # A form from another site is not carried.
    restarted.client.post("/lock", data={"csrf_token": restarted.token("/")})
    foreign = restarted.client.post(
        f"{page}/respond", data=typed, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert foreign.status_code == 400 and "carried_message" not in foreign.get_data(as_text=True)


def test_csrf_failures_speak_the_page_language(desk: Desk) -> None:
    web = desk.web()
    refused = web.client.post("/export", data={})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Formulir ini sudah kedaluwarsa" in text and "CSRF" not in text
    web.client.get("/lang/en")
    english = web.client.post("/export", data={}).get_data(as_text=True)
    assert "This form has expired" in english and "CSRF" not in english


def test_respond_on_the_command_line(desk: Desk) -> None:
    out = desk.ok(
        "respond", desk.english, "--status", "closed", "--text", "closed", "--message", "Good luck."
    )
    assert "status closed (Closed) and a reply recorded" in out
    shown = desk.ok("show", desk.english)
    assert "Our examination of your report is complete" in shown and "Good luck." in shown
    code, _out, err = desk.run("respond", desk.english)
    assert code == 1 and "nothing to send" in err

"""Regression tests for the source-site holes a red-team review found (each failed before its fix;
docs/threat-model.md names them): a logout undone by a request in flight, upload tickets that
outlived the logout and could be replayed, uploads encrypted to disk before the ticket was
checked, a codename hidden inside longer text, a report for a just-forgotten source, time-derived
validators on static files, exact access times from operator commands, a session flood evicting
a codename just shown, logout keeping the session id, waitress's timed queue warnings, spill
folders left behind, the expired codename page, and any Host header accepted."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from flask import Response

from dropbox import instance as instance_module
from dropbox.maintenance import maintain
from dropbox.service import DropBox
from dropbox.sessions import COOKIE_NAME
from keys import tokens
from support.http import FlaskAgent
from support.instances import Site, make_site
from support.pages import Report, Reporter, notices
from support.processes import DROPBOX_CLI

REPO = Path(__file__).resolve().parent.parent
ONION = "a" * 56 + ".onion"


def logged_in_reporter(site: Site) -> tuple[FlaskAgent, Reporter]:
    agent = site.client()
    reporter = Reporter(agent)
    reporter.start()
    return agent, reporter


class UploadCounter:
    """Counts the encrypted uploads the site starts (each one an envelope in store/pending)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = DropBox.new_upload

        def counting(box: DropBox, filename: str, media_type: str):  # type: ignore[no-untyped-def]
            self.count += 1
            return original(box, filename, media_type)

        monkeypatch.setattr(DropBox, "new_upload", counting)


# -- 1. a logout is never undone --------------------------------------------------------------


def test_a_request_in_flight_cannot_bring_back_a_logged_out_session(site: Site) -> None:
    """A request that loaded the session before the logout and saves it after: the session
    stays gone, and so does the key derived from the codename."""
    agent, reporter = logged_in_reporter(site)
    cookie = agent.cookie()
    assert cookie
    interface = site.app.session_interface
    with site.app.test_request_context("/lookup", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}):
        from flask import request

        in_flight = interface.open_session(site.app, request)
        assert in_flight.get("source_id")
        reporter.lookup()
        assert reporter.logout().status == 303  # the logout completes meanwhile
        in_flight["touched"] = True  # the slow request changes something, then ends
        response = Response()
        interface.save_session(site.app, in_flight, response)
    assert interface.store.get(cookie) is None
    assert len(interface.store) == 0
    again = site.client()
    again.client.set_cookie(COOKIE_NAME, cookie)
    assert again.get("/lookup").status == 303  # sent to the login page


def test_an_expired_session_is_not_revived_by_a_request_in_flight(site: Site) -> None:
    agent, _ = logged_in_reporter(site)
    cookie = agent.cookie()
    interface = site.app.session_interface
    with site.app.test_request_context("/lookup", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}):
        from flask import request

        in_flight = interface.open_session(site.app, request)
        interface.store.idle_seconds = 0.01
        time.sleep(0.05)
        interface.store.get("x" * 40)  # anyone's next request sweeps the idle session out
        interface.store.idle_seconds = site.instance.session_idle_seconds
        in_flight["touched"] = True
        interface.save_session(site.app, in_flight, Response())
    assert interface.store.get(cookie) is None


# -- 2, 3. upload tickets: single use, die with the login, checked before the body ----------------


def test_a_ticket_dies_with_the_logout(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    agent, reporter = logged_in_reporter(site)
    action = reporter.action
    before = site.snapshot()
    assert reporter.logout().status == 303
    counter = UploadCounter(monkeypatch)
    for cookies in ("kept", "dropped"):
        if cookies == "dropped":
            agent.drop_cookies()
        refused = reporter.submit(Report(), [("bukti.pdf", b"%PDF" + os.urandom(4096))],
                                  action=action)
        assert refused.status == 400
    site.assert_unchanged(before)
    assert counter.count == 0  # not even encrypted into store/pending


def test_a_followup_ticket_dies_with_the_logout(site: Site) -> None:
    agent, reporter = logged_in_reporter(site)
    regno = reporter.file_report()
    reporter.lookup()
    action = reporter.followup_actions[regno]
    assert reporter.logout().status == 303
    before = site.snapshot()
    assert reporter.followup(regno, "info tambahan", action=action).status == 400
    site.assert_unchanged(before)


def test_a_ticket_is_single_use(site: Site) -> None:
    """Sending the same form twice (Back and resend, a replayed request) files one report."""
    _, reporter = logged_in_reporter(site)
    action = reporter.action
    assert reporter.submit(Report(), action=action).status == 303
    after_first = site.snapshot()
    again = reporter.submit(Report(), action=action)
    assert again.status == 400
    assert any("already sent" in text or "sudah pernah dikirim" in text
               for text in notices(again.text)), notices(again.text)
    site.assert_unchanged(after_first)


def test_a_ticket_dies_with_idle_expiry(site: Site) -> None:
    _, reporter = logged_in_reporter(site)
    store = site.app.session_interface.store
    store.idle_seconds = 0.01
    time.sleep(0.05)
    before = site.snapshot()
    refused = reporter.submit(Report(), [("a.txt", b"late")])
    store.idle_seconds = site.instance.session_idle_seconds
    assert refused.status == 400
    site.assert_unchanged(before)


def test_a_forged_ticket_writes_nothing_before_it_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, reporter = logged_in_reporter(site)
    counter = UploadCounter(monkeypatch)
    before = site.snapshot()
    for action in ("/submit?ticket=forged", "/submit", "/followup?ticket=" + "A" * 32):
        refused = reporter.submit(Report(), [("big.bin", os.urandom(2 * 1024 * 1024))],
                                  action=action)
        assert refused.status == 400
    assert counter.count == 0
    site.assert_unchanged(before)


def test_a_route_that_takes_no_files_writes_none(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, _ = logged_in_reporter(site)
    counter = UploadCounter(monkeypatch)
    for path in ("/login", "/logout", "/reply/delete", "/create", "/confirm", "/generate"):
        agent.post(path, {"codename": "x"}, [("a.bin", os.urandom(100_000))])
    assert counter.count == 0
    assert site.pending() == []


def test_a_ticket_of_one_form_does_not_open_another(site: Site) -> None:
    _, reporter = logged_in_reporter(site)
    regno = reporter.file_report()
    reporter.lookup()
    followup_action = reporter.followup_actions[regno]
    ticket = followup_action.split("ticket=", 1)[1]
    before = site.snapshot()
    assert reporter.submit(Report(), action=f"/submit?ticket={ticket}").status == 400
    site.assert_unchanged(before)


# -- 4. the codename anywhere in the report -------------------------------------------------------


@pytest.mark.parametrize("where", ["what", "who", "message", "pseudonym", "contact"])
def test_the_codename_inside_longer_text_is_refused(site: Site, where: str) -> None:
    agent, reporter = logged_in_reporter(site)
    assert reporter.codename
    shouting = "-".join(reporter.codename.upper().split())
    text = f"my codename is {shouting}, please call me"
    before = site.snapshot()
    report = Report()
    setattr(report, where, text[: 100 if where == "pseudonym" else 500])
    if where == "pseudonym":
        report.pseudonym = reporter.codename
    refused = reporter.submit(report)
    assert refused.status == 400
    assert "codename" in refused.text or "kode rahasia" in refused.text
    site.assert_unchanged(before)
    # Part of it is no codename: the words alone may appear in a report.
    partial = " ".join(reporter.codename.split()[:-1])
    assert reporter.submit(Report(what=f"di ruang {partial} rapat")).status == 303


def test_the_codename_inside_a_followup_is_refused(site: Site) -> None:
    _, reporter = logged_in_reporter(site)
    regno = reporter.file_report()
    assert reporter.codename
    before = site.snapshot()
    message = f"Tambahan: {reporter.codename}\nterima kasih"
    assert reporter.followup(regno, message).status == 303
    site.assert_unchanged(before)
    assert any("codename" in text or "kode rahasia" in text
               for text in notices(reporter.lookup().text))


# -- 5. a report for a source the daily job just forgot -------------------------------------------


def test_a_report_for_a_just_forgotten_source_is_refused_cleanly(site: Site) -> None:
    _, reporter = logged_in_reporter(site)
    tomorrow_but_one = dt.date.today() + dt.timedelta(days=2)
    assert maintain(site.box, tomorrow_but_one).forgotten_sources == 1
    before = site.snapshot()
    refused = reporter.submit(Report(), [("bukti.txt", b"isi bukti")])
    assert refused.status == 410
    assert "Traceback" not in refused.text
    site.assert_unchanged(before)
    assert site.app.session_interface.store.get(reporter.agent.cookie() or "") is None


# -- 6. static files ------------------------------------------------------------------------------


def test_static_files_carry_no_time_derived_validator(site: Site) -> None:
    css = REPO / "templates" / "source" / "static" / "style.css"
    resp = site.client().get("/static/style.css")
    assert resp.status == 200
    assert resp.header("Last-Modified") is None
    assert resp.header("ETag") == f'"{hashlib.sha256(css.read_bytes()).hexdigest()}"'
    page = site.client().get("/")
    link = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', page.text)
    assert link
    conditional = site.client().client.get(link.group(1),
                                           headers={"If-None-Match": resp.header("ETag")})
    assert conditional.status_code == 304


# -- 7. operator commands -------------------------------------------------------------------------


def test_operator_commands_leave_day_only_times(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    reporter = Reporter(site.client())
    reporter.start()
    reporter.file_report()
    names = ("config.json", "db.key", "codename-salts.json", "server-signing.key", "dropbox.db")
    bundle = tmp_path / "out.bundle"
    for command in (["check"], ["export", "--out", str(bundle)], ["maintain"], ["keys"]):
        for name in names:  # as the site leaves them: the time of day already hidden
            os.utime(site.data_dir / name, (0, 0))
        time.sleep(0.01)
        result = subprocess.run([str(DROPBOX_CLI), command[0], "--data", str(site.data_dir),
                                 *command[1:]], capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), result.stderr
        for name in (*names, "."):
            info = (site.data_dir / name).stat()
            assert info.st_atime % 86400 == 0, f"{command[0]} left an exact access time on {name}"
            assert info.st_mtime % 86400 == 0, f"{command[0]} left an exact change time on {name}"


# -- 8. a flood cannot evict a codename just shown ------------------------------------------------


def test_a_flood_of_page_views_cannot_lose_a_codename_just_shown(site: Site) -> None:
    store = site.app.session_interface.store
    store.max_sessions = 5
    victim = Reporter(site.client())
    victim.generate()
    flooder = site.client()
    for number in range(150):
        flooder.get("/generate" if number % 2 else "/login")
        flooder.drop_cookies()
    assert len(store) == 0  # page views and codename pages hold no server-side state
    victim.create()
    assert victim.open_form().status == 200


# -- 9. logout ------------------------------------------------------------------------------------


def test_logout_leaves_no_session_id_even_with_a_language_chosen(site: Site) -> None:
    agent, reporter = logged_in_reporter(site)
    agent.get("/lookup?lang=en")
    old = agent.cookie()
    reporter.lookup()
    reporter.logout()
    assert agent.cookie() is None
    assert agent.cookie("wbs_lang") == "en"
    assert site.app.session_interface.store.get(old or "") is None
    page = agent.get("/logged-out")
    assert page.status == 200 and 'lang="en"' in page.text


# -- 10, 11. waitress's queue warnings, spill folders ----------------------------------------------


def _serve(site: Site, port: int, threads: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(DROPBOX_CLI), "serve", "--data", str(site.data_dir), "--port", str(port),
         "--threads", str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the site did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_a_burst_writes_no_timed_queue_warning(tmp_path: Path) -> None:
    import http.client

    site = make_site(tmp_path, with_app=False)
    port = _free_port()
    process = _serve(site, port, threads=1)

    def hit() -> None:
        for _ in range(20):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()

    try:
        workers = [threading.Thread(target=hit) for _ in range(24)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert b"queue" not in err.lower(), err[-2000:]
    assert out.decode().strip().splitlines() == [f"Serving the source site on http://127.0.0.1:{port}/"]


def test_the_spill_folder_goes_with_the_server_and_leftovers_go_at_start(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_app=False)
    spill = Path("/dev/shm") / f"wbs-dropbox-{site.instance.instance_id[:12]}"
    spill.mkdir(mode=0o700)
    leftover = spill / "tmpleft"
    leftover.write_bytes(b"body of a killed run")
    process = _serve(site, _free_port(), threads=2)
    try:
        assert not leftover.exists()  # swept at start-up
        assert spill.is_dir()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    assert not spill.exists()


# -- 12. the codename page expired --------------------------------------------------------------


@pytest.mark.parametrize("pending", ["expired", "forged", "other-browser"])
def test_an_expired_codename_page_gets_a_new_codename_with_the_reason(
    site: Site, pending: str
) -> None:
    reporter = Reporter(site.client())
    reporter.generate()
    if pending == "expired":
        reporter.pending = tokens.seal(site.app.extensions["pending_key"], "pending",
                                       {"c": "a b", "p": [0], "v": "x" * 64}, -1)
    elif pending == "forged":
        reporter.pending = "A" * 80
    else:
        reporter.agent.drop_cookies()
        reporter.agent.client.delete_cookie("wbs_visit")
    resp = reporter.agent.post("/create", {"pending": reporter.pending or "", "word1": "a"})
    assert resp.status == 303 and resp.location == "/generate?notice=expired"
    page = reporter.agent.get(resp.location)
    assert page.status == 200 and 'id="codename"' in page.text
    assert any("expired" in text or "kedaluwarsa" in text for text in notices(page.text))
    assert site.rows()["sources"] == 0


# -- the Host header ------------------------------------------------------------------------------


def test_only_the_configured_onion_and_the_loopback_are_answered(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_app=False)
    instance_module.change_onion_names(site.data_dir, add=ONION)
    site = make_site(tmp_path, with_app=True, name="data2")
    instance_module.change_onion_names(site.data_dir, add=ONION)
    from dropbox.app import create_app

    app = create_app(DropBox(instance_module.load(site.data_dir)))
    client = app.test_client()
    for host, status in ((ONION, 200), ("localhost", 200), ("127.0.0.1:8080", 200),
                         ("b" * 56 + ".onion", 400), ("evil.example", 400)):
        assert client.get("/", headers={"Host": host}).status_code == status, host
    with pytest.raises(instance_module.InstanceError):
        instance_module.change_onion_names(site.data_dir, add="notanonion.example")


def test_the_operator_sets_the_onion_name_with_one_command(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_app=False)
    result = subprocess.run([sys.executable, "-m", "dropbox.cli", "onion", "--data",
                             str(site.data_dir), "--add", ONION.upper()],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert ONION in result.stdout
    assert instance_module.load(site.data_dir).onion_names == (ONION,)

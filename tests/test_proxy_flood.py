"""The deployed path under attack: HAProxy (`deploy/haproxy.cfg` as shipped) in front of a real
`dropbox serve` with the real codename KDF, clients speaking for Tor circuits through PROXY
protocol headers, as tor's onion service sends them.

What is checked: the per-circuit caps answer with the site's bilingual 429 page and touch no
other circuit; a flood from several circuits (bad logins, /create, trickling connections) leaves
an honest reporter on another circuit able to create a codename, file a report with a file, log
in and read it; the site never sees a circuit id; the proxy writes nothing per request.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from dropbox.sessions import COOKIE_NAME
from keys import codename
from support.http import HttpAgent, circuit_address
from support.instances import MiB, make_site
from support.pages import OneStepReporter as Reporter
from support.pages import report_fields
from support.processes import RealServer, free_port, real_server
from support.proxy import HAPROXY_CFG, Proxy, haproxy_binary, open_stream, running_proxy

REPO = Path(__file__).resolve().parent.parent
BROWSER = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
HONEST = 0xABCD0001
ATTACKERS = [0x1000 + n for n in range(8)]
T = TypeVar("T")


@dataclass
class Deployed:
    server: RealServer
    proxy: Proxy

    def circuit(self, number: int) -> HttpAgent:
        return HttpAgent(self.proxy.port, user_agent=BROWSER, circuit=number)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    tmp = tmp_path_factory.mktemp("proxy")
    site = make_site(tmp, upload_limit=16 * MiB, with_app=False)
    with (
        real_server(site.data_dir, tmp / "server-logs") as real,
        running_proxy(real.port, tmp / "proxy") as proxy,
    ):
        yield Deployed(real, proxy)


def _new_circuit() -> int:
    return secrets.randbelow(2**31) + 0x20000


def _is_our_page(reply_text: str, code: int) -> bool:
    return f"({code})" in reply_text and 'lang="id"' in reply_text and 'lang="en"' in reply_text


# -- the shipped configuration ----------------------------------------------------------------


def test_the_shipped_configuration_is_valid_with_its_two_addresses(tmp_path: Path) -> None:
    binary = haproxy_binary()
    env = {**os.environ, "WBS_FRONT": "127.0.0.1:1", "WBS_BACKEND": "127.0.0.1:2"}
    checked = subprocess.run(
        [binary, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, env=env, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # No per-request logging, no forwarding of the circuit address, no admin socket.
    config = HAPROXY_CFG.read_text()
    active = [line.split("#", 1)[0].strip() for line in config.splitlines()]
    active = [line for line in active if line]
    for forbidden in (
        "log ",
        "option httplog",
        "option forwardfor",
        "stats ",
        "send-proxy",
        "http-request set-header",
        "http-request add-header",
    ):
        assert not any(line.startswith(forbidden) for line in active), forbidden
    assert any(line.startswith("bind") and "accept-proxy" in line for line in active)


def test_the_proxy_error_pages_are_the_sites_own() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_proxy_pages.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_stream_without_a_circuit_header_is_refused(deployed: Deployed) -> None:
    with socket.create_connection(("127.0.0.1", deployed.proxy.port), timeout=10) as stream:
        stream.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = stream.recv(100)
        except ConnectionResetError:
            answer = b""
    assert answer == b""


# -- the whole journey through the proxy -------------------------------------------------------


def test_a_reporter_files_and_reads_a_report_through_the_proxy(deployed: Deployed) -> None:
    reporter = Reporter(deployed.circuit(_new_circuit()))
    text = reporter.create(lang="id")
    regno = reporter.submit(
        report_fields("Pengadaan kendaraan dinas fiktif"),
        [("bukti.pdf", os.urandom(3 * 1024 * 1024), "application/pdf")],
    )
    assert reporter.logout().status == 303
    again = Reporter(deployed.circuit(_new_circuit()))
    assert again.login(text).status == 303
    page = again.lookup()
    assert page.status == 200 and regno in page.text


# -- per-circuit caps --------------------------------------------------------------------------


def _held_login(port: int, circuit: int) -> socket.socket:
    """A POST /login whose body is still on its way: it counts as in flight at the proxy."""
    stream = open_stream(port, circuit)
    stream.sendall(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
        b"urlencoded\r\nContent-Length: 40\r\n\r\n"
    )
    return stream


def test_one_codename_check_in_flight_per_circuit(deployed: Deployed) -> None:
    circuit, other = _new_circuit(), _new_circuit()
    held = _held_login(deployed.proxy.port, circuit)
    try:
        time.sleep(0.3)
        second = Reporter(deployed.circuit(circuit)).login("kopi meja buku")
        assert second.status == 429
        assert _is_our_page(second.text, 429)
        assert second.header("cache-control") == "no-store"
        assert "default-src 'none'" in second.header("content-security-policy") or ""
        assert second.header("retry-after") == "30"
        # Another circuit is untouched: its wrong codename is checked and refused as such.
        assert Reporter(deployed.circuit(other)).login("kopi meja buku").status == 400
    finally:
        held.close()


def test_codename_checks_per_circuit_are_rate_limited(deployed: Deployed) -> None:
    circuit = _new_circuit()
    reporter = Reporter(deployed.circuit(circuit))
    statuses = [reporter.login(codename.generate("id")).status for _ in range(12)]
    assert statuses[:10] == [400] * 10, statuses
    assert statuses[10:] == [429, 429], statuses
    # Pages still load for that circuit, and other circuits check codenames as before.
    assert deployed.circuit(circuit).get("/").status == 200
    assert Reporter(deployed.circuit(_new_circuit())).login("kopi meja").status == 400


def test_a_circuit_over_its_request_rate_gets_429_and_others_do_not(deployed: Deployed) -> None:
    circuit = _new_circuit()
    statuses = Counter(deployed.circuit(circuit).get("/robots.txt").status for _ in range(70))
    assert statuses[429] >= 5 and statuses[200] >= 55, statuses
    assert deployed.circuit(_new_circuit()).get("/").status == 200


def test_a_circuit_cannot_hold_more_than_twelve_connections(deployed: Deployed) -> None:
    circuit = _new_circuit()
    streams = [open_stream(deployed.proxy.port, circuit) for _ in range(12)]
    try:
        time.sleep(0.3)
        with pytest.raises(OSError):
            extra = open_stream(deployed.proxy.port, circuit)
            try:
                extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                if extra.recv(100) == b"":
                    raise ConnectionResetError("closed by the proxy")
            finally:
                extra.close()
        assert deployed.circuit(_new_circuit()).get("/").status == 200
    finally:
        for stream in streams:
            stream.close()


# -- the site never sees a circuit -------------------------------------------------------------


def test_the_site_never_sees_a_circuit_id(tmp_path: Path) -> None:
    """A recording backend behind the shipped configuration gets no trace of the circuit."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", free_port()))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                data = connection.recv(65536)
                received.append(data)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with running_proxy(port, tmp_path / "proxy") as proxy:
            http = HttpAgent(proxy.port, user_agent=BROWSER, circuit=0x0102_0304)
            assert http.get("/").status == 200
            assert http.post("/login", {"codename": "kopi meja"}).status == 200
    finally:
        listener.close()
    assert len(received) == 2
    for request in received:
        lowered = request.lower()
        assert b"proxy tcp" not in lowered
        for trace in (
            b"fc00",
            b"dead:beef",
            b"102:304",
            b"forwarded",
            b"x-real-ip",
            b"x-client",
            b"16909060",
        ):
            assert trace not in lowered, request


# -- the flood ---------------------------------------------------------------------------------


@dataclass
class Flood:
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1


def _bad_logins(flood: Flood, port: int, circuit: int, limit: int) -> None:
    http = HttpAgent(port, user_agent=BROWSER, circuit=circuit)
    for _ in range(limit):
        if flood.stop.is_set():
            return
        try:
            flood.count(f"login {Reporter(http).login(codename.generate('id')).status}")
        except (OSError, AssertionError) as error:
            flood.count(f"login {type(error).__name__}")


def _creates(flood: Flood, port: int, circuit: int, limit: int) -> None:
    http = HttpAgent(port, user_agent=BROWSER, circuit=circuit)
    for _ in range(limit):
        if flood.stop.is_set():
            return
        try:
            # The codename page, then /create with every word typed back (whichever two the
            # confirmation step would ask): each one costs the site a codename derivation. The
            # session a create made is thrown away first (logged in, /generate would send this
            # visitor to the report form instead of a new codename).
            http.cookies.pop(COOKIE_NAME, None)
            page = http.get("/generate")
            pending = re.search(r'name="pending" value="([^"]+)"', page.text)
            shown = re.search(r'id="codename">([^<]+)<', page.text)
            if pending and shown:
                words = {f"word{n}": word for n, word in enumerate(shown.group(1).split(), 1)}
                status = http.post("/create", {"pending": pending.group(1), **words}).status
            else:
                status = page.status
            flood.count(f"create {status}")
        except OSError as error:
            flood.count(f"create {type(error).__name__}")


def _trickle(flood: Flood, port: int, circuit: int) -> None:
    """Opens a stream and sends a request head one byte at a time, every 2 s, reopening when
    the proxy drops it; records how each stream ended."""
    head = b"GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
    while not flood.stop.is_set():
        try:
            stream = open_stream(port, circuit, timeout=30)
        except OSError:
            flood.count("trickle refused")
            flood.stop.wait(2)
            continue
        try:
            stream.settimeout(0.2)
            for byte in head:
                if flood.stop.wait(2):
                    flood.count("trickle still open at the end")
                    return
                stream.sendall(bytes([byte]))
                with_answer = b""
                try:
                    with_answer = stream.recv(64)
                except TimeoutError:
                    continue
                flood.count(
                    "trickle cut "
                    + (with_answer.split(b"\r\n")[0].decode() if with_answer else "silently")
                )
                break
            else:
                flood.count("trickle completed")
        except OSError:
            flood.count("trickle reset")
        finally:
            stream.close()


@pytest.mark.slow
def test_an_honest_reporter_gets_through_a_flood_from_eight_circuits(deployed: Deployed) -> None:
    flood = Flood()
    port = deployed.proxy.port
    workers = []
    for circuit in ATTACKERS:
        for thread_number in range(8):  # 64 threads of codename checks
            target = _bad_logins if thread_number % 2 == 0 else _creates
            workers.append(threading.Thread(target=target, args=(flood, port, circuit, 400)))
        for _ in range(25):  # 200 trickling connections
            workers.append(threading.Thread(target=_trickle, args=(flood, port, circuit)))
    for worker in workers:
        worker.daemon = True
        worker.start()
    timings: dict[str, float] = {}

    def timed(name: str, action: Callable[[], T]) -> T:
        started = time.monotonic()
        result = action()
        timings[name] = time.monotonic() - started
        return result

    def new_reporter(offset: int) -> Reporter:
        return Reporter(HttpAgent(port, user_agent=BROWSER, circuit=HONEST + offset))

    try:
        time.sleep(2)  # the flood is on
        honest = new_reporter(0)
        text = timed("create", lambda: honest.create(lang="id"))
        regno = timed(
            "report",
            lambda: honest.submit(
                report_fields("Pungutan liar di loket perizinan"),
                [("bukti.jpg", os.urandom(2 * 1024 * 1024), "image/jpeg")],
            ),
        )
        assert timed("logout", honest.logout).status == 303
        for attempt in range(1, 4):
            login = timed(f"login {attempt}", lambda n=attempt: new_reporter(n).login(text))
            assert login.status == 303, (login.status, login.text[-400:])
        reader = new_reporter(10)
        assert reader.login(text).status == 303
        assert regno in reader.lookup().text
        for number in range(5):
            landing = timed(
                f"landing {number}", lambda n=number: new_reporter(20 + n).agent.get("/")
            )
            assert landing.status == 200
        # Let the trickling streams reach the proxy's request timeout while the flood goes on.
        time.sleep(max(0.0, 17 - sum(timings.values())))
    finally:
        flood.stop.set()
        for worker in workers:
            worker.join(30)
    outcomes = flood.outcomes
    # The flood really ran and was held at the proxy: most codename checks were refused per
    # circuit (429) without reaching the site, and trickling streams were cut by the proxy.
    assert outcomes["login 429"] + outcomes["create 429"] > 100, outcomes
    assert outcomes["login 400"] >= 1, outcomes  # and some did reach the KDF, and were checked
    assert not any("503" in key for key in outcomes), outcomes
    cut = sum(
        n
        for key, n in outcomes.items()
        if key.startswith(("trickle cut", "trickle reset", "trickle refused"))
    )
    assert cut >= 100, outcomes
    # Every honest step was answered well within the time a reporter waits.
    assert max(timings.values()) < 10, timings
    # The proxy wrote nothing about any of it.
    log = deployed.proxy.log_text()
    for trace in ("fc00", "dead:beef", "GET", "POST", "/login", circuit_address(HONEST)):
        assert trace not in log, log[-2000:]
    assert not re.search(r"\d\d:\d\d:\d\d", log), log[-2000:]


# -- without the proxy: the site's own queue ---------------------------------------------------


def test_an_honest_login_waits_its_turn_during_a_login_flood_at_the_site(
    deployed: Deployed,
) -> None:
    """Straight to waitress (the demo path): five loops of wrong codenames no longer make an
    honest login answer "busy"; it queues behind them, first come first served."""
    site_port = deployed.server.port
    reporter = Reporter(HttpAgent(site_port, user_agent=BROWSER))
    text = reporter.create(lang="en")
    stop = threading.Event()
    statuses: Counter[int] = Counter()

    def attacker() -> None:
        http = HttpAgent(site_port, user_agent=BROWSER)
        while not stop.is_set():
            statuses[Reporter(http).login(codename.generate("id")).status] += 1

    threads = [threading.Thread(target=attacker, daemon=True) for _ in range(5)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        honest = [
            Reporter(HttpAgent(site_port, user_agent=BROWSER)).login(text).status for _ in range(10)
        ]
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert honest == [303] * 10, (honest, statuses)
    assert statuses[400] >= 10, statuses

"""The deployed path on a real onion service (issue 14, part 3): a private Tor network on the
loopback (tests/tornet.py), the onion service run from `deploy/torrc` with only its directory
and target port rewritten, HAProxy with `deploy/haproxy.cfg` as shipped, and a real
`dropbox serve` behind it. A client tor drives it over SOCKS (socks5h); each SOCKS username is a
circuit of its own (IsolateSOCKSAuth), so a test can be several visitors at once.

What is checked:
- the whole reporter journey through Tor, a 3 MiB attachment included, which the inspectorate's
  key then opens byte for byte;
- the service publishes proof-of-work parameters in its descriptor, read from the descriptor
  the client fetched from the network's HSDirs and decrypted as any visitor decrypts it;
- a flood from several circuits (wrong codenames, /create, trickling connections) is refused
  per circuit by HAProxy, which tells circuits apart only by the circuit ids tor exports, while
  an honest reporter on another circuit creates a codename, files a report, logs in and reads it.

The site answers only its onion name(s) and the loopback (Flask's TRUSTED_HOSTS, from the
instance's `onion_names`): over Tor every request carries `Host: <the onion>`. So the fixture
learns the address first (the onion service writes its hostname file as it starts), adds it to
the instance as `dropbox onion --add` does, and only then starts `dropbox serve`, on the port
HAProxy already forwards to.

The network bootstraps once for the module (35-45 s here); everything runs on 127.0.0.1. A
network that does not come up fails the tests with every tor's log tail, within 120 s.
Skipped only where tor, tor-gencert or haproxy is missing (`make test` installs them).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
import socks
from tornet import (
    OnionConnection,
    TorNetwork,
    TorNode,
    descriptor_inner_layer,
    private_network,
    tor_tools,
    wait_for,
    write_torrc,
)

from dropbox.instance import change_onion_names
from dropbox.sessions import COOKIE_NAME
from keys import codename
from keys.keytypes import RecipientIdentity
from support.http import HttpAgent
from support.inspection import decrypt_store
from support.instances import MiB, make_site
from support.pages import OneStepReporter as Reporter
from support.pages import element_text, hidden, report_fields
from support.processes import RealServer, free_port, real_server
from support.proxy import Proxy, haproxy_binary, running_proxy

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SHIPPED_TORRC = REPO / "deploy" / "torrc"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
# Measured 28-47 s from the first tor's start to the onion's first page on a 2-core machine.
BOOTSTRAP_TIMEOUT = 120
T = TypeVar("T")
ONION_RE = re.compile(r"^[a-z2-7]{56}\.onion$")


# -- the onion service, as deployed --------------------------------------------------------


def service_torrc(directory: Path, proxy_port: int) -> Path:
    """deploy/torrc with exactly two values changed, every other line kept as shipped:
    - HiddenServiceDir: /var/lib/tor/wbs-dropbox/ -> this test's directory (the system's tor
      owns /var/lib/tor; a test must neither need nor touch it);
    - HiddenServicePort: the target 127.0.0.1:8080 -> the test's HAProxy on 127.0.0.1:<port>
      (a free port; the onion's virtual port stays 80).
    DataDirectory, logging and the test network's authorities are not set by deploy/torrc (they
    come from Debian's defaults file in service); `service_defaults` provides them."""
    text = SHIPPED_TORRC.read_text("utf-8")
    rewrites = {
        "HiddenServiceDir /var/lib/tor/wbs-dropbox/": f"HiddenServiceDir {directory / 'hs'}/",
        "HiddenServicePort 80 127.0.0.1:8080": f"HiddenServicePort 80 127.0.0.1:{proxy_port}",
    }
    for shipped, rewritten in rewrites.items():
        assert text.count(f"\n{shipped}\n") == 1, f"deploy/torrc no longer has '{shipped}'"
        text = text.replace(f"\n{shipped}\n", f"\n{rewritten}\n")
    torrc = directory / "torrc"
    torrc.write_text(text, "utf-8")
    return torrc


def service_defaults(network: TorNetwork, directory: Path) -> Path:
    """The --defaults-torrc of the test's onion service, in place of Debian's
    tor-service-defaults-torrc, whose every line either is switched off by deploy/torrc
    (SocksPort, ControlSocket, CookieAuthentication) or cannot work here (DataDirectory
    /var/lib/tor, PidFile /run/tor, User debian-tor, Log syslog). It holds what a tor needs to
    join the test network (TestingTorNetwork, PathsNeededToBuildCircuits, the three
    DirAuthority lines), a DataDirectory and a notice log in the test directory, a Nickname,
    RunAsDaemon 0 and __OwningControllerProcess: deploy/torrc sets none of them, and any option
    it does set would override this file."""
    return write_torrc(directory / "defaults-torrc", network.options("service", directory))


def start_onion_service(network: TorNetwork, proxy_port: int) -> TorNode:
    directory = network.node_directory("service")
    return network.launch(
        "service",
        directory,
        service_torrc(directory, proxy_port),
        service_defaults(network, directory),
    )


# -- visitors --------------------------------------------------------------------------------


class OnionHttp(HttpAgent):
    """The tests' HTTP client (one cookie jar, a browser's headers, no redirects followed) over
    the client tor: every request is a new stream on the circuit of SOCKS user `circuit`."""

    def __init__(self, onion: str, socks_port: int, circuit: str, timeout: float = 60) -> None:
        super().__init__(port=80, host=onion, timeout=timeout, user_agent=BROWSER)
        self.socks_port = socks_port
        self.socks_user = circuit

    def _connection(self) -> http.client.HTTPConnection:
        return OnionConnection(self.host, self.socks_port, self.socks_user, self.timeout)


@dataclass
class Onion:
    address: str
    network: TorNetwork
    service: TorNode
    proxy: Proxy
    server: RealServer
    inspectorate: RecipientIdentity

    def visitor(self, circuit: str) -> OnionHttp:
        return OnionHttp(self.address, self.network.socks_port, circuit)

    def failure(self, what: str) -> str:
        """`what`, with what the logs say (for assertion messages)."""
        return (
            f"{what}\n{self.network.diagnostics()}\n--- haproxy:\n{self.proxy.log_text()[-1500:]}"
        )


def onion_address(network: TorNetwork, service: TorNode, deadline: float) -> str:
    """The address the onion service wrote into its hostname file as it started (long before
    it can be reached: its descriptor is not published yet)."""
    hostname = service.directory / "hs" / "hostname"

    def written() -> bool:
        return hostname.exists() and bool(ONION_RE.match(hostname.read_text().strip()))

    if not wait_for(written, max(0.0, deadline - time.monotonic()), 0.1) or network.dead():
        pytest.fail(f"the onion service wrote no onion address\n{network.diagnostics()}")
    network.milestone("onion address")
    return hostname.read_text().strip()


def wait_until_reachable(network: TorNetwork, address: str, deadline: float) -> None:
    """Fetches the landing page through Tor, each try on a new circuit, until it answers."""
    last_error = "not tried"
    for attempt in range(1000):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or network.dead():
            break
        try:
            page = OnionHttp(
                address, network.socks_port, f"probe-{attempt}", timeout=min(15.0, remaining)
            ).get("/")
            if page.status == 200:
                network.milestone("onion answers")
                return
            last_error = f"the landing page answered {page.status}"
        except OSError as error:
            last_error = f"{type(error).__name__}: {error}"
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
    pytest.fail(f"the onion service did not answer ({last_error})\n{network.diagnostics()}")


@pytest.fixture(scope="module")
def onion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Onion]:
    if tor_tools() is None:
        pytest.skip("tor or tor-gencert is not installed (`make test` installs them)")
    haproxy_binary()  # skips where haproxy is missing
    tmp = tmp_path_factory.mktemp("onion")
    instance = make_site(tmp, upload_limit=16 * MiB, with_app=False)
    # HAProxy forwards to the site's port before the site runs: the site can start only once
    # the onion address is known, and the onion service needs HAProxy's port to start.
    site_port = free_port()
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(running_proxy(site_port, tmp / "proxy"))
        network = stack.enter_context(private_network(tmp / "tor"))
        deadline = time.monotonic() + BOOTSTRAP_TIMEOUT
        if not network.wait_for_consensus(deadline):
            pytest.fail(f"the test network made no full consensus\n{network.diagnostics()}")
        # The client and the service start now, so that they bootstrap at once.
        network.start_client()
        service = start_onion_service(network, proxy.port)
        address = onion_address(network, service, deadline)
        # As install.sh does with `dropbox onion --add`: the site answers this name from now on.
        assert change_onion_names(instance.data_dir, add=address).onion_names == (address,)
        server = stack.enter_context(
            real_server(instance.data_dir, tmp / "server-logs", port=site_port)
        )
        wait_until_reachable(network, address, deadline)
        yield Onion(address, network, service, proxy, server, instance.recipient)


# -- the journey -----------------------------------------------------------------------------


def test_a_reporter_files_and_reads_a_report_over_the_onion_service(onion: Onion) -> None:
    assert ONION_RE.match(onion.address), onion.address
    reporter = Reporter(onion.visitor("journey-1"))
    text = reporter.create(lang="en")
    attachment = os.urandom(3 * MiB)
    regno = reporter.submit(
        report_fields("Procurement contract awarded to the director's brother"),
        [("evidence.pdf", attachment, "application/pdf")],
    )
    assert reporter.logout().status == 303
    # Later, a new visit on a new circuit: the codename alone leads back to the report.
    again = Reporter(onion.visitor("journey-2"))
    login = again.login(text)
    assert login.status == 303, (login.status, login.text[-300:])
    page = again.lookup()
    assert page.status == 200 and regno in page.text, onion.failure(page.text[-500:])
    # The attachment crossed Tor whole: the inspectorate's key opens it, byte for byte.
    opened = decrypt_store(onion.server.data, onion.inspectorate)
    assert attachment in [content for _, content in opened.values()]


# -- proof of work ---------------------------------------------------------------------------

POW_PARAMS = re.compile(r"^pow-params v1 (\S+) (\d+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)$", re.M)


def test_the_descriptor_publishes_proof_of_work_parameters(onion: Onion) -> None:
    """The descriptor the client fetched from the HSDirs, decrypted with the onion address alone
    (as every visitor does), carries `pow-params v1`: clients are told to solve puzzles when the
    service is flooded. It is the descriptor the network serves, not what the service's log
    says it meant to publish."""
    label = onion.address.removesuffix(".onion")
    assert onion.visitor("pow-check").get("/").status == 200  # the descriptor is cached now
    with onion.network.control() as control:
        descriptor = control.getinfo(f"hs/client/desc/id/{label}")
    assert descriptor.startswith("hs-descriptor 3\n"), descriptor[:200]
    inner = descriptor_inner_layer(descriptor, onion.address)
    # Both layers opened (their MACs are checked): this is the innermost plaintext.
    assert inner.startswith("create2-formats 2\n"), inner[:200]
    assert "\nintroduction-point " in inner, inner[:2000]
    params = POW_PARAMS.search(inner)
    assert params, f"no pow-params in the descriptor's inner layer:\n{inner[:1500]}"
    seed, _, expires = params.groups()
    assert len(base64.b64decode(seed)) == 32, seed
    assert datetime.fromisoformat(expires + "+00:00") > datetime.now(UTC), expires


# -- the flood ---------------------------------------------------------------------------------

ATTACKER_CIRCUITS = [f"attacker-{number}" for number in range(4)]
LOGIN_THREADS = 2  # per attacker circuit, each one loop of wrong codenames
CREATE_THREADS = 2  # per attacker circuit, each one loop of GET /generate + POST /create
TRICKLE_THREADS = 4  # per attacker circuit, each one slow stream at a time
ATTACKER_LOOPS = 400  # an upper bound on each loop; the flood is stopped long before
TRICKLE_HEAD = b"GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
TRICKLE_INTERVAL = 2.0  # seconds between bytes: the head would take 100 s; HAProxy allows 15 s
FLOOD_LIMIT = 75  # seconds: the flood stops by then whatever happens
TRICKLE_CUT = "trickle cut HTTP/1.1 408"


@dataclass
class Flood:
    onion: Onion
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    deadline: float = field(default_factory=lambda: time.monotonic() + FLOOD_LIMIT)

    def count(self, circuit: str, outcome: str) -> None:
        with self.lock:
            self.outcomes[(circuit, outcome)] += 1

    def total(self) -> int:
        with self.lock:
            return sum(self.outcomes.values())

    def on(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def number(self, outcome: str) -> int:
        """How many outcomes, over all circuits, contain `outcome`."""
        with self.lock:
            return sum(n for (_, seen), n in self.outcomes.items() if outcome in seen)

    def circuits_with(self, outcome: str) -> set[str]:
        with self.lock:
            return {circuit for (circuit, seen) in self.outcomes if outcome in seen}

    def summary(self) -> str:
        with self.lock:
            return f"flood outcomes {sorted(self.outcomes.items())}"


def _bad_logins(flood: Flood, circuit: str) -> None:
    http = flood.onion.visitor(circuit)
    for _ in range(ATTACKER_LOOPS):
        if not flood.on():
            return
        try:
            page = http.get("/login")
            if page.status != 200:
                flood.count(circuit, f"login page {page.status}")
                continue
            form = {"token": hidden(page.text, "token"), "codename": codename.generate()}
            answer = http.post("/login", form)
            flood.count(circuit, f"login {answer.status}")
        except (OSError, AssertionError) as error:  # AssertionError: a page without a form
            flood.count(circuit, f"login {type(error).__name__}")


def _creates(flood: Flood, circuit: str) -> None:
    http = flood.onion.visitor(circuit)
    for _ in range(ATTACKER_LOOPS):
        if not flood.on():
            return
        try:
            # A new codename each time: the session a create made is thrown away (logged in,
            # /generate would send this visitor to the report form instead).
            http.cookies.pop(COOKIE_NAME, None)
            page = http.get("/generate")
            if page.status != 200:
                flood.count(circuit, f"create page {page.status}")
                continue
            # The confirmation step asks two of the words; every word typed back answers it,
            # whichever two they are: each POST /create costs the site a codename derivation.
            words = element_text(page.text, "codename").split()
            form = {"pending": hidden(page.text, "pending")}
            form |= {f"word{n}": word for n, word in enumerate(words, 1)}
            answer = http.post("/create", form)
            flood.count(circuit, f"create {answer.status}")
        except (OSError, AssertionError) as error:  # AssertionError: a page without a form
            flood.count(circuit, f"create {type(error).__name__}")


def _trickle_once(flood: Flood, circuit: str) -> str:
    """One stream that sends a request head a byte every 2 s; how it ended."""
    stream = socks.socksocket()
    try:
        stream.set_proxy(
            socks.SOCKS5,
            "127.0.0.1",
            flood.onion.network.socks_port,
            rdns=True,
            username=circuit,
            password=circuit,
        )
        stream.settimeout(30)
        stream.connect((flood.onion.address, 80))
        stream.settimeout(0.2)
        for byte in TRICKLE_HEAD:
            if flood.stop.wait(TRICKLE_INTERVAL) or not flood.on():
                return "trickle still open at the end"
            stream.sendall(bytes([byte]))
            try:
                answer = stream.recv(64)
            except TimeoutError:
                continue  # nothing yet: the proxy is still waiting for the head
            return "trickle cut " + (answer.split(b"\r\n")[0].decode() if answer else "silently")
        return "trickle completed"
    except OSError as error:
        return f"trickle {type(error).__name__}"
    finally:
        stream.close()


def _trickles(flood: Flood, circuit: str) -> None:
    for _ in range(ATTACKER_LOOPS):
        if not flood.on():
            return
        flood.count(circuit, _trickle_once(flood, circuit))


def _start_flood(flood: Flood) -> list[threading.Thread]:
    workers = []
    for circuit in ATTACKER_CIRCUITS:
        loops = (
            [_bad_logins] * LOGIN_THREADS
            + [_creates] * CREATE_THREADS
            + [_trickles] * TRICKLE_THREADS
        )
        workers += [
            threading.Thread(target=loop, args=(flood, circuit), daemon=True) for loop in loops
        ]
    for worker in workers:
        worker.start()
    return workers


def _honest_visit(onion: Onion, timings: dict[str, float]) -> None:
    """A reporter on a circuit of their own: creates a codename, files a report with a file,
    logs out, logs in again as a new session and finds the report."""

    def timed(step: str, action: Callable[[], T]) -> T:
        started = time.monotonic()
        result = action()
        timings[step] = round(time.monotonic() - started, 2)
        return result

    honest = Reporter(onion.visitor("honest"))
    text = timed("create", lambda: honest.create(lang="id"))
    regno = timed(
        "report",
        lambda: honest.submit(
            report_fields("Pungutan liar di loket perizinan"),
            [("bukti.jpg", os.urandom(MiB), "image/jpeg")],
        ),
    )
    assert timed("logout", honest.logout).status == 303
    again = Reporter(onion.visitor("honest"))
    login = timed("login", lambda: again.login(text))
    assert login.status == 303, (login.status, login.text[-300:])
    page = timed("lookup", again.lookup)
    assert page.status == 200 and regno in page.text, page.status


def test_an_honest_reporter_gets_through_a_flood_from_several_circuits(onion: Onion) -> None:
    flood = Flood(onion)
    workers = _start_flood(flood)
    timings: dict[str, float] = {}
    try:
        # The flood is on once HAProxy has refused every attacker circuit at least once.
        attackers = set(ATTACKER_CIRCUITS)
        assert wait_for(lambda: flood.circuits_with(" 429") == attackers, 40, 0.25), flood.summary()
        before = flood.total()
        try:
            _honest_visit(onion, timings)
        except (AssertionError, OSError) as error:
            raise AssertionError(f"honest reporter: {error!r}; {flood.summary()}") from error
        during = flood.total() - before
        # The flood goes on until HAProxy's 15 s request timeout has cut a trickling stream of
        # every attacker circuit.
        wait_for(lambda: flood.circuits_with(TRICKLE_CUT) == attackers, 40, 0.25)
    finally:
        flood.stop.set()
        for worker in workers:
            worker.join(35)
    summary = f"honest steps {timings}; {flood.summary()}"
    assert not any(worker.is_alive() for worker in workers), summary
    # Every honest step was answered in seconds, while the flood went on all through the visit
    # (a flood that only slowed the site down would show here) ...
    assert max(timings.values()) < 20, summary
    assert during >= 20, summary
    # ... and HAProxy refused it per circuit: every attacker circuit was answered 429 (request
    # rate and codename-check caps), far more often than its codename checks got through.
    assert flood.circuits_with(" 429") == attackers, summary
    checked = flood.number("login 400") + flood.number("create 303")
    assert flood.number(" 429") > 2 * checked, summary
    # A circuit gets at most 10 codename checks a minute to the site (the flood lasts < 75 s).
    for circuit in ATTACKER_CIRCUITS:
        checks = flood.outcomes[(circuit, "login 400")] + flood.outcomes[(circuit, "create 303")]
        assert checks <= 20, summary
    # Trickling streams: HAProxy answered 408 on every attacker circuit; none got a page.
    assert flood.circuits_with(TRICKLE_CUT) == attackers, summary
    assert flood.number("trickle completed") == 0, summary
    # And it wrote nothing about any circuit.
    assert "fc00" not in onion.proxy.log_text(), onion.proxy.log_text()[-1500:]

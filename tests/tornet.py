"""A private Tor network on the loopback, for tests that need a real onion service.

Three directory authorities (keys from `tor-gencert`), four relays and one client tor, all on
127.0.0.1 and in one temporary directory, built the way Tor's own test-network tool (chutney)
builds them: `TestingTorNetwork 1`, a consensus every 20 s, no reachability tests, no exits
(onion services need none). Nothing here ever contacts the public Tor network: every tor knows
only the three local `DirAuthority` lines.

A fresh network is slow to become usable for onion services; three things make it quick
(about 40 s to a first page on 2 cores) and steady:
- every relay is voted Guard, HSDir, Stable and Fast in the first consensus;
- the authorities weight the relays equally (`write_bandwidth_file`);
- the client and the onion service start only once the consensus exists, and the relays are
  told to fetch it at once (`TorNetwork.wait_for_consensus`).

Also here, the client side a test needs:
- `OnionConnection`: an HTTP connection through the client's SOCKS port with the onion name
  resolved by tor (socks5h); the SOCKS username picks the circuit (`IsolateSOCKSAuth`);
- `TorControl`: the client's control port (cookie authentication) for `GETINFO`;
- `descriptor_inner_layer`: the two encrypted layers of a v3 onion service descriptor opened
  with the onion address alone (rend-spec-v3 section 2.5), to read what the service published.

Imported as a plain module (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import socks  # PySocks

LOOPBACK = "127.0.0.1"
AUTHORITIES = 3
RELAYS = 4

# Options every tor of the network takes (authorities, relays, clients, the onion service).
# TestingTorNetwork allows private addresses and many relays on one address, and drops the
# download delays; PathsNeededToBuildCircuits 0.67 lets a tor build circuits once it has the
# descriptors for two thirds of the likely paths (chutney's value).
NETWORK_OPTIONS = ("TestingTorNetwork 1", "PathsNeededToBuildCircuits 0.67")

# The authorities: vote every 20 s from the first consensus on (chutney's schedule, the fastest
# that stays in step on a loaded machine), and take every relay as reachable instead of testing
# it (tests that run every half hour). Every relay can serve in any position from the first
# consensus on: voted Guard and HSDir, and Stable and Fast, which by default go only to relays
# up longer than the median and to those with measured traffic (half the relays of a network
# a minute old); onion service circuits need Stable relays.
AUTHORITY_OPTIONS = (
    "AuthoritativeDirectory 1",
    "V3AuthoritativeDirectory 1",
    "AssumeReachable 1",
    "TestingV3AuthInitialVotingInterval 20",
    "TestingV3AuthInitialVoteDelay 4",
    "TestingV3AuthInitialDistDelay 4",
    "V3AuthVotingInterval 20",
    "V3AuthVoteDelay 4",
    "V3AuthDistDelay 4",
    "TestingDirAuthVoteGuard *",
    "TestingDirAuthVoteHSDir *",
    "AuthDirVoteStableGuaranteeMinUptime 0",
    "AuthDirVoteStableGuaranteeMTBF 0",
    "AuthDirFastGuarantee 1",  # bytes/s: any relay at all
)

# Relays (authorities too): on the loopback only, never an exit, never a SOCKS proxy; they
# publish their descriptor at once rather than after a reachability self-test.
RELAY_OPTIONS = (
    f"Address {LOOPBACK}",
    "AddressDisableIPv6 1",
    "AssumeReachable 1",
    "ExitRelay 0",
    "ExitPolicy reject *:*",
    "SocksPort 0",
    "ContactInfo test-network@invalid",
)


def tor_tools() -> tuple[str, str] | None:
    """(tor, tor-gencert), or None where either is missing."""
    tor = shutil.which("tor") or shutil.which("tor", path="/usr/sbin:/usr/bin")
    gencert = shutil.which("tor-gencert") or shutil.which("tor-gencert", path="/usr/bin")
    return (tor, gencert) if tor and gencert else None


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports on the loopback (all held open at once, so no repeats)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def write_torrc(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def write_bandwidth_file(path: Path, fingerprints: Iterable[str]) -> Path:
    """The relays "measured" at the same bandwidth, as a bandwidth authority would report them
    (bandwidth-file-spec.txt, version 1.0.0: a timestamp line, then one line a relay).

    Without it the weights are the relays' self-reported traffic, a few KB/s at random, and the
    busiest tor is drawn for nearly every hop: also as the last hop of an onion service's
    circuit whose first hop it already is (vanguards-lite lets the guard recur there), and
    such a circuit fails, again and again until a later consensus evens the weights out.
    Authorities are never weighted by measurement (they vote "MeasuredButAuthority"), so, as in
    the public network, they carry next to no circuits: the four relays carry them all."""
    lines = [str(int(time.time()))]
    lines += [f"node_id=${fingerprint} bw=1000" for fingerprint in fingerprints]
    partial = path.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n", "ascii")
    partial.rename(path)  # an authority never reads half a file
    return path


def fingerprint_in(directory: Path) -> str:
    """The RSA identity fingerprint a tor wrote in its data directory ("nickname HEX")."""
    text = (directory / "fingerprint").read_text("ascii")
    match = re.fullmatch(r"\S+ ([0-9A-F]{40})\s*", text)
    assert match, text
    return match.group(1)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"({path.name}: missing)"
    return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])


@dataclass
class TorNode:
    """One tor process; its DataDirectory, configuration and logs live in `directory`."""

    name: str
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.directory / "notice.log"

    def diagnostics(self, lines: int = 25) -> str:
        status = self.process.poll()
        state = "running" if status is None else f"exited with status {status}"
        text = f"--- {self.name} ({state}), notice.log:\n{tail(self.log, lines)}"
        if status is not None:  # a tor that fails on its configuration says why on stdout only
            text += f"\n--- {self.name}, stdout:\n{tail(self.directory / 'stdout.log', lines)}"
        return text

    def stop(self) -> None:
        """SIGTERM makes tor exit at once (SIGINT would make a relay wait 30 s)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass
class TorNetwork:
    root: Path
    tor: str
    gencert: str
    nodes: list[TorNode] = field(default_factory=list)
    authority_lines: list[str] = field(default_factory=list)
    socks_port: int = 0
    control_port: int = 0
    authority_dirport: int = 0
    started: float = field(default_factory=time.monotonic)
    milestones: dict[str, float] = field(default_factory=dict)
    no_defaults: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # An empty --defaults-torrc: nothing from /etc/tor or Debian's service defaults.
        self.no_defaults = write_torrc(self.root / "empty-defaults", [])

    def milestone(self, name: str) -> None:
        self.milestones[name] = round(time.monotonic() - self.started, 1)

    def options(self, name: str, directory: Path) -> list[str]:
        """What any tor joining this network needs, `name` being its nickname."""
        return [
            *NETWORK_OPTIONS,
            *self.authority_lines,
            f"Nickname {name}",
            f"DataDirectory {directory}",
            f"Log notice file {directory / 'notice.log'}",
            "RunAsDaemon 0",
            # Should the test process die without its teardown, every tor exits on its own.
            f"__OwningControllerProcess {os.getpid()}",
        ]

    def node_directory(self, name: str) -> Path:
        directory = self.root / name
        (directory / "keys").mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)
        return directory

    def launch(self, name: str, directory: Path, torrc: Path, defaults: Path) -> TorNode:
        with (directory / "stdout.log").open("wb") as out:
            process = subprocess.Popen(
                [self.tor, "--defaults-torrc", str(defaults), "-f", str(torrc)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        node = TorNode(name, directory, process)
        self.nodes.append(node)
        return node

    def start_relays(self) -> None:
        """The authorities and the relays; the network has a consensus some 20-35 s later."""
        names = [f"auth{n}" for n in range(AUTHORITIES)] + [f"relay{n}" for n in range(RELAYS)]
        directories = {name: self.node_directory(name) for name in names}
        ports = free_ports(len(names) + AUTHORITIES)
        orports = dict(zip(names, ports, strict=False))
        dirports = dict(zip(names[:AUTHORITIES], ports[len(names) :], strict=True))

        # The authorities' keys first: every torrc names them.
        def authority_line(name: str) -> str:
            fingerprint = self.relay_fingerprint(directories[name])
            v3ident = self.authority_keys(directories[name], dirports[name])
            return (
                f"DirAuthority {name} orport={orports[name]} v3ident={v3ident} "
                f"{LOOPBACK}:{dirports[name]} {fingerprint}"
            )

        with ThreadPoolExecutor(2) as pool:
            self.authority_lines = list(pool.map(authority_line, dirports))
        self.authority_dirport = dirports["auth0"]
        bandwidths = self.root / "bandwidths"
        for name, directory in directories.items():
            lines = [
                *self.options(name, directory),
                *RELAY_OPTIONS,
                f"ORPort {LOOPBACK}:{orports[name]}",
            ]
            if name in dirports:
                lines += [
                    *AUTHORITY_OPTIONS,
                    f"DirPort {LOOPBACK}:{dirports[name]}",
                    # Read at each vote, the first one seconds from now: written below.
                    f"V3BandwidthsFile {bandwidths}",
                ]
            self.launch(name, directory, write_torrc(directory / "torrc", lines), self.no_defaults)
        self.milestone("relays started")
        relays = [directories[name] / "fingerprint" for name in names[AUTHORITIES:]]
        if not wait_for(lambda: all(path.exists() for path in relays), 30, 0.1):
            raise AssertionError(f"the relays made no keys in 30 s\n{self.diagnostics()}")
        write_bandwidth_file(bandwidths, [fingerprint_in(path.parent) for path in relays])

    def consensus_size(self) -> int:
        """How many relays the first authority's current consensus lists (0: none yet). Asked of
        its DirPort with a plain connection (never through an HTTP proxy from the environment)."""
        connection = http.client.HTTPConnection(LOOPBACK, self.authority_dirport, timeout=5)
        try:
            connection.request("GET", "/tor/status-vote/current/consensus-microdesc")
            response = connection.getresponse()
            text = response.read().decode("ascii", "replace")
        except OSError:
            return 0
        finally:
            connection.close()
        return text.count("\nr ") if response.status == 200 else 0

    def wait_for_consensus(self, deadline: float) -> bool:
        """Waits (until the time.monotonic() `deadline`) for a consensus that lists every
        authority and relay, then until every relay has it too.

        A tor that asked for the consensus before there was one (every relay: they start with
        the authorities) has backed off exponentially and may ask again only 30 s later; the
        clients would then fail to fetch descriptors from those relays and back off in turn.
        SIGHUP resets a tor's download schedules: the relays fetch the consensus at once."""
        while not self.consensus_size() == AUTHORITIES + RELAYS:
            if time.monotonic() > deadline or self.dead():
                return False
            time.sleep(0.5)
        self.milestone("consensus")
        relays = [node for node in self.nodes if node.name.startswith("relay")]
        for relay in relays:
            relay.process.send_signal(signal.SIGHUP)
        consensus_files = [relay.directory / "cached-microdesc-consensus" for relay in relays]
        while not all(path.exists() for path in consensus_files):
            if time.monotonic() > deadline or self.dead():
                return False
            time.sleep(0.2)
        self.milestone("relays have it")
        return True

    def start_client(self) -> None:
        """The visitors' tor: a SOCKS port where each username/password is a circuit of its own
        (IsolateSOCKSAuth), and a control port with cookie authentication."""
        self.socks_port, self.control_port = free_ports(2)
        directory = self.node_directory("client")
        lines = [
            *self.options("client", directory),
            f"SocksPort {LOOPBACK}:{self.socks_port} IsolateSOCKSAuth",
            f"ControlPort {LOOPBACK}:{self.control_port}",
            "CookieAuthentication 1",
            "ClientOnly 1",
        ]
        self.launch("client", directory, write_torrc(directory / "torrc", lines), self.no_defaults)

    def authority_keys(self, directory: Path, dirport: int) -> str:
        """The authority's v3 identity and signing keys and certificate; returns the identity's
        fingerprint (v3ident). The passphrase only encrypts the offline identity key, which tor
        never reads."""
        keys = directory / "keys"
        subprocess.run(
            [
                self.gencert,
                "--create-identity-key",
                "--passphrase-fd",
                "0",
                "-i",
                str(keys / "authority_identity_key"),
                "-s",
                str(keys / "authority_signing_key"),
                "-c",
                str(keys / "authority_certificate"),
                "-m",
                "12",
                "-a",
                f"{LOOPBACK}:{dirport}",
            ],
            input=secrets.token_hex(16).encode() + b"\n",
            capture_output=True,
            check=True,
            timeout=60,
        )
        certificate = (keys / "authority_certificate").read_text("ascii")
        match = re.search(r"^fingerprint ([0-9A-F]{40})$", certificate, re.MULTILINE)
        assert match, certificate[:300]
        return match.group(1)

    def relay_fingerprint(self, directory: Path) -> str:
        """Creates the relay identity key in `directory` and returns its RSA fingerprint."""
        subprocess.run(
            [self.tor, "--defaults-torrc", str(self.no_defaults), "-f", str(self.no_defaults)]
            + ["--DataDirectory", str(directory), "--ORPort", "1", "--list-fingerprint"],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return fingerprint_in(directory)

    def dead(self) -> list[TorNode]:
        return [node for node in self.nodes if node.process.poll() is not None]

    def diagnostics(self, lines: int = 20) -> str:
        elapsed = round(time.monotonic() - self.started, 1)
        header = f"network up {elapsed} s; milestones (s) {self.milestones}"
        return "\n".join([header, *(node.diagnostics(lines) for node in self.nodes)])

    def stop(self) -> None:
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            node.stop()

    def control(self) -> TorControl:
        return TorControl(self.control_port, self.root / "client" / "control_auth_cookie")


@contextlib.contextmanager
def private_network(root: Path) -> Iterator[TorNetwork]:
    """A network whose authorities and relays are started (not yet in consensus); every tor in
    it is stopped on leaving, the client and tors added with `launch` included."""
    tools = tor_tools()
    assert tools, "tor and tor-gencert are needed"
    network = TorNetwork(root, *tools)
    try:
        network.start_relays()
        yield network
    finally:
        network.stop()


# -- the client's side ------------------------------------------------------------------------


class OnionConnection(http.client.HTTPConnection):
    """HTTP through the client tor's SOCKS port; the host name goes to tor unresolved (socks5h),
    and the SOCKS username/password select the circuit (IsolateSOCKSAuth)."""

    def __init__(
        self, onion: str, socks_port: int, circuit: str, timeout: float = 60, port: int = 80
    ) -> None:
        super().__init__(onion, port, timeout=timeout)
        self.socks_port = socks_port
        self.circuit = circuit

    def connect(self) -> None:
        sock = socks.socksocket()
        sock.set_proxy(
            socks.SOCKS5,
            LOOPBACK,
            self.socks_port,
            rdns=True,
            username=self.circuit,
            password=self.circuit,
        )
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class TorControlError(RuntimeError):
    pass


class TorControl:
    """A minimal controller (control-spec.txt): cookie authentication and GETINFO."""

    MAX_REPLY_LINES = 10_000

    def __init__(self, port: int, cookie_file: Path, timeout: float = 15) -> None:
        self.socket = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.reader = self.socket.makefile("rb")
        try:
            self.command(f"AUTHENTICATE {cookie_file.read_bytes().hex()}")
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> TorControl:
        return self

    def __exit__(self, *_: object) -> None:
        self.reader.close()
        self.socket.close()

    def command(self, line: str) -> list[str]:
        """Sends one command; returns the reply's lines (a data block as one multi-line item)."""
        self.socket.sendall(line.encode("ascii") + b"\r\n")
        items: list[str] = []
        for _ in range(self.MAX_REPLY_LINES):
            text = self.readline()
            status, kind, rest = text[:3], text[3:4], text[4:]
            if kind == "+":
                items.append(rest + "\n" + self.data_block())
            else:
                items.append(rest)
            if kind == " ":
                if not status.startswith("2"):
                    raise TorControlError(f"{line.split()[0]}: {text}")
                return items
        raise TorControlError("reply too long")

    def readline(self) -> str:
        raw = self.reader.readline(1 << 20)
        if not raw.endswith(b"\n"):
            raise TorControlError("connection closed or line too long")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def data_block(self) -> str:
        """The lines up to the lone "." that ends a data reply, dot-unstuffed."""
        lines: list[str] = []
        for _ in range(self.MAX_REPLY_LINES):
            line = self.readline()
            if line == ".":
                return "\n".join(lines)
            lines.append(line[1:] if line.startswith("..") else line)
        raise TorControlError("data reply too long")

    def getinfo(self, key: str) -> str:
        first = self.command(f"GETINFO {key}")[0]
        if not first.startswith(f"{key}="):
            raise TorControlError(f"unexpected reply to GETINFO {key}: {first[:200]}")
        return first[len(key) + 1 :].removeprefix("\n")


# -- onion service descriptors (rend-spec-v3 section 2.5) ------------------------------------


def onion_identity_key(onion: str) -> bytes:
    """The service's ed25519 identity key: the first 32 of the 35 bytes an address encodes."""
    label = onion.removesuffix(".onion")
    raw = base64.b32decode(label.upper())
    assert len(raw) == 35 and raw[34] == 3, f"not a v3 onion address: {onion}"
    return raw[:32]


def _pem_body(text: str, keyword: str, kind: str) -> bytes:
    """The base64 object that follows `keyword` in a descriptor layer."""
    match = re.search(
        rf"^{keyword}\n-----BEGIN {kind}-----\n(.*?)\n-----END {kind}-----$",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert match, f"no {keyword} in the descriptor layer"
    return base64.b64decode("".join(match.group(1).split()))


def blinded_key(signing_key_cert: bytes) -> bytes:
    """The blinded key that signed the descriptor-signing-key certificate (cert-spec.txt): the
    certificate's extension of type 4. Layout: version, type, expiry (4), key type, certified
    key (32), extension count, then each extension as length (2), type, flags, data."""
    offset = 40
    for _ in range(signing_key_cert[39]):
        length = int.from_bytes(signing_key_cert[offset : offset + 2], "big")
        if signing_key_cert[offset + 2] == 4:
            return signing_key_cert[offset + 4 : offset + 4 + length]
        offset += 4 + length
    raise AssertionError("the descriptor signing key certificate names no signing key")


def aes_256_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256 in counter mode, by the openssl command (the test environment has no Python AES;
    the key and IV are of a public test descriptor)."""
    done = subprocess.run(
        ["openssl", "enc", "-d", "-aes-256-ctr", "-K", key.hex(), "-iv", iv.hex()],
        input=data,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def open_layer(blob: bytes, secret: bytes, revision: int, constant: bytes) -> str:
    """One encrypted layer: SALT(16) | ENCRYPTED | MAC(32), keys from SHAKE-256, MAC checked."""
    salt, encrypted, mac = blob[:16], blob[16:-32], blob[-32:]
    keys = hashlib.shake_256(secret + revision.to_bytes(8, "big") + salt + constant).digest(80)
    key, iv, mac_key = keys[:32], keys[32:48], keys[48:]
    expected = hashlib.sha3_256(
        len(mac_key).to_bytes(8, "big") + mac_key + len(salt).to_bytes(8, "big") + salt + encrypted
    ).digest()
    assert hmac.compare_digest(mac, expected), "descriptor layer MAC mismatch: wrong keys"
    return aes_256_ctr(key, iv, encrypted).rstrip(b"\0").decode("utf-8")


def descriptor_inner_layer(descriptor: str, onion: str) -> str:
    """The plaintext of a v3 descriptor's innermost layer (introduction points, proof-of-work
    parameters), as any client that knows the onion address reads it. Without client
    authorization both layers are keyed by the blinded key and the subcredential alone."""
    revision = re.search(r"^revision-counter (\d+)$", descriptor, re.MULTILINE)
    assert revision, descriptor[:500]
    blinded = blinded_key(_pem_body(descriptor, "descriptor-signing-key-cert", "ED25519 CERT"))
    credential = hashlib.sha3_256(b"credential" + onion_identity_key(onion)).digest()
    subcredential = hashlib.sha3_256(b"subcredential" + credential + blinded).digest()
    middle = open_layer(
        _pem_body(descriptor, "superencrypted", "MESSAGE"),
        blinded + subcredential,
        int(revision.group(1)),
        b"hsdir-superencrypted-data",
    )
    return open_layer(
        _pem_body(middle, "encrypted", "MESSAGE"),
        blinded + subcredential,
        int(revision.group(1)),
        b"hsdir-encrypted-data",
    )

"""Tor circuits on loopback for benchmark 5: HAProxy with `deploy/haproxy.cfg` as shipped in
front of `dropbox serve`, and connections that arrive as streams of a given Tor circuit.

Tor's onion service (HiddenServiceExportCircuitID haproxy) opens every stream to the proxy with a
PROXY protocol v1 line whose source address carries the circuit's number in its last 32 bits:
    PROXY TCP6 fc00:dead:beef:4dad::AABB:CCDD ::1 <port> 80
A connection made here sends that line first, so one process can be any number of circuits.
(The same idea as tests/support/proxy.py; the benchmarks do not import from tests/.)
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, bench_env, free_port, started

HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
# Circuit numbers: the attackers' are small, the honest ones are drawn from their own range so
# that no honest try ever shares a stick-table entry with an attacker or with an earlier try.
ATTACKER_BASE = 0x1000
HONEST_BASE = 0xABC0_0000


def haproxy_binary() -> str | None:
    found = shutil.which("haproxy")
    if found:
        return found
    return "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None


def circuit_address(circuit: int) -> str:
    """The source address tor gives a circuit: its number in the last 32 bits."""
    return f"fc00:dead:beef:4dad::{circuit >> 16:x}:{circuit & 0xFFFF:x}"


def proxy_line(circuit: int) -> bytes:
    return f"PROXY TCP6 {circuit_address(circuit)} ::1 {circuit % 65535 + 1} 80\r\n".encode()


class CircuitConnection(http.client.HTTPConnection):
    """An HTTP connection that arrives at the proxy as a stream of Tor circuit `circuit`."""

    def __init__(self, host: str, port: int, circuit: int, timeout: float = 60) -> None:
        super().__init__(host, port, timeout=timeout)
        self.circuit = circuit

    def connect(self) -> None:
        super().connect()
        if self.sock is None:
            raise ConnectionError("no socket after connect")
        self.sock.sendall(proxy_line(self.circuit))


def open_stream(port: int, circuit: int, timeout: float = 60) -> socket.socket:
    """A raw stream of circuit `circuit` to the proxy, PROXY line sent; the caller writes HTTP."""
    stream = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        stream.sendall(proxy_line(circuit))
    except OSError:
        stream.close()
        raise
    return stream


class HonestCircuits:
    """A thread-safe source of fresh honest circuit numbers (each used once)."""

    def __init__(self, base: int = HONEST_BASE) -> None:
        self._numbers = itertools.count(base)
        self._lock = threading.Lock()

    def new(self) -> int:
        with self._lock:
            return next(self._numbers)


@dataclass
class Proxy:
    port: int
    backend_port: int
    pid: int
    log: Path


@contextlib.contextmanager
def running_haproxy(binary: str, backend_port: int, log: Path) -> Iterator[Proxy]:
    """`WBS_FRONT=127.0.0.1:P1 WBS_BACKEND=127.0.0.1:P2 haproxy -db -f deploy/haproxy.cfg`, in
    the foreground, stopped (by its pid) when the block ends, also on error."""
    port = free_port()
    env = bench_env()
    env["WBS_FRONT"] = f"127.0.0.1:{port}"
    env["WBS_BACKEND"] = f"127.0.0.1:{backend_port}"
    with started([binary, "-db", "-f", str(HAPROXY_CFG)], port, log, env=env) as process:
        yield Proxy(port, backend_port, process.pid, log)

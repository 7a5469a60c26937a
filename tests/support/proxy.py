"""HAProxy in front of a real `dropbox serve`, as deployed: `deploy/haproxy.cfg` as shipped,
with its two addresses from the environment, and clients that speak for Tor circuits.

Tor's onion service (HiddenServiceExportCircuitID haproxy) opens every stream to the proxy with a
PROXY protocol v1 line whose source address carries the circuit's number:
    PROXY TCP6 fc00:dead:beef:4dad::AABB:CCDD ::1 <port> 80
`CircuitConnection` sends that line first, so a test can be any number of circuits at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.http import proxy_line
from support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"


def haproxy_binary() -> str:
    path = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if path is None:
        pytest.skip("haproxy is not installed (scripts/system-packages.txt; `make test` has it)")
    return path


def open_stream(port: int, circuit: int, timeout: float = 60) -> socket.socket:
    """A raw stream of circuit `circuit` to the proxy, PROXY line sent; the caller writes HTTP."""
    stream = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    stream.sendall(proxy_line(circuit))
    return stream


@dataclass
class Proxy:
    port: int
    backend_port: int
    process: subprocess.Popen[bytes]
    log: Path
    stopped: bool = field(default=False)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""


def wait_for_proxy(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"haproxy exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"haproxy did not listen on {port} within {timeout} s")


@contextlib.contextmanager
def running_proxy(
    backend_port: int, logs: Path, config: Path = HAPROXY_CFG, launcher: Sequence[str] = ()
) -> Iterator[Proxy]:
    """`haproxy -f deploy/haproxy.cfg` in the foreground, its output kept for the audits;
    `launcher` (a command prefix) runs it under a sandbox of a test's choosing."""
    binary = haproxy_binary()
    port = free_port()
    env = {
        **os.environ,
        "WBS_FRONT": f"127.0.0.1:{port}",
        "WBS_BACKEND": f"127.0.0.1:{backend_port}",
    }
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"haproxy-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*launcher, binary, "-db", "-f", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proxy = Proxy(port, backend_port, process, log)
    try:
        wait_for_proxy(port, process)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

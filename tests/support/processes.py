"""The installed command lines and real servers in subprocesses.

- where things are: `REPO`, `VENV_BIN`, `DROPBOX_CLI`, `CONSOLE_CLI`;
- `free_port` (the one), `wait_for_port`, `stop_process`, `run`, `wait_until`;
- `RealServer` / `real_server`: `dropbox serve` on 127.0.0.1 with a RAM-backed spill directory,
  optionally under a file-size limit (a full disk), stopped, killed and restarted at will, its
  output kept in files for the audits;
- `run_cli` (`journalist-console` in a subprocess) and `console_cli_usable`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.http import HttpAgent

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
DROPBOX_CLI = VENV_BIN / "dropbox"
CONSOLE_CLI = VENV_BIN / "journalist-console"
TOR_BROWSER = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout: float = 30.0, log: Path | None = None
) -> None:
    """Until something accepts connections on 127.0.0.1:port; the process must not die first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = f": {log.read_text(errors='replace')[-2000:]}" if log is not None else ""
            raise RuntimeError(f"server exited early with status {process.returncode}{said}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it does not end within ten seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run(
    command: Sequence[str | Path], timeout: float = 300, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def wait_until(predicate: Any, timeout: float, interval: float = 0.002) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def new_spill_dir() -> Path:
    """A fresh directory name under /dev/shm (tmpfs here), for the server's request spill."""
    return Path("/dev/shm") / f"wbs-test-spill-{secrets.token_hex(6)}"


# A `dropbox serve` whose every file write fails past a size, as on a full disk (EFBIG instead of
# ENOSPC; SIGXFSZ ignored so the write fails instead of killing the process).
_LIMITED_SERVE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from dropbox.cli import main
sys.exit(main(["serve", *sys.argv[2:]]))
"""


@dataclass
class RealServer:
    """`dropbox serve` on 127.0.0.1 in a subprocess; stdout/stderr go to files kept for audits."""

    data: Path
    spill: Path
    logs: Path
    fsize_limit: int | None = None
    extra: Sequence[str] = ()
    fixed_port: int | None = None  # a port chosen beforehand (a proxy in front already knows it)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_files: list[Path] = field(default_factory=list)

    def start(self) -> RealServer:
        """Start (or restart) on a new free port, or on `fixed_port`; returns once the site
        answers."""
        self.port = self.fixed_port or free_port()
        self.logs.mkdir(parents=True, exist_ok=True)
        run_number = len(self.log_files) // 2
        out_path = self.logs / f"serve-{run_number}.out"
        err_path = self.logs / f"serve-{run_number}.err"
        self.log_files += [out_path, err_path]
        serve_args = [
            "--data",
            str(self.data),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--spill-dir",
            str(self.spill),
            *self.extra,
        ]
        if self.fsize_limit is None:
            command = [str(DROPBOX_CLI), "serve", *serve_args]
        else:
            command = [sys.executable, "-c", _LIMITED_SERVE, str(self.fsize_limit), *serve_args]
        with out_path.open("wb") as out, err_path.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=self.logs)
        wait_for_port(self.port, self.process, log=err_path)
        self._wait_until_it_answers()
        return self

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dropbox serve exited with {self.process.returncode}")
            with contextlib.suppress(OSError):
                probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                try:
                    probe.request("GET", "/robots.txt")
                    if probe.getresponse().status == 200:
                        return
                finally:
                    probe.close()
            time.sleep(0.1)
        raise RuntimeError("dropbox serve did not answer within 30 s")

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, as a power cut or the OOM killer would do."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        stop_process(self.process)

    def log_bytes(self) -> bytes:
        return b"".join(path.read_bytes() for path in self.log_files if path.exists())

    def log_text(self) -> str:
        return self.log_bytes().decode("utf-8", "replace")

    def agent(self) -> HttpAgent:
        """A plain HTTP client of this server (one cookie jar)."""
        return HttpAgent(self.port)

    def client(self, user_agent: str = TOR_BROWSER) -> HttpAgent:
        """A client that sends a browser's User-Agent and Accept-Language, as Tor Browser does."""
        return HttpAgent(self.port, timeout=120, user_agent=user_agent)


@contextlib.contextmanager
def real_server(
    data: Path,
    logs: Path,
    spill: Path | None = None,
    fsize_limit: int | None = None,
    extra: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[RealServer]:
    """A started real server with its own RAM-backed spill directory (on `port` if given, else
    on a free one); stopped and cleaned after."""
    server = RealServer(data, spill or new_spill_dir(), logs, fsize_limit, extra, port)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(server.spill, ignore_errors=True)


def process_fd_targets(pid: int) -> list[str]:
    targets = []
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir() if fd_dir.exists() else []:
        with contextlib.suppress(OSError):
            targets.append(os.readlink(entry))
    return targets


def run_cli(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed `journalist-console` entry point in a subprocess."""
    return subprocess.run(
        [str(CONSOLE_CLI), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def console_cli_usable() -> tuple[bool, str]:
    """Whether `journalist-console` exists and offers the commands the console tests drive."""
    if not CONSOLE_CLI.exists():
        return False, f"{CONSOLE_CLI} is not installed"
    result = run([CONSOLE_CLI, "--help"], timeout=60)
    if result.returncode != 0:
        return False, f"journalist-console --help failed: {result.stderr.strip()[-200:]}"
    missing = [
        name for name in ("init", "import", "list", "show", "save") if name not in result.stdout
    ]
    if missing:
        return False, f"journalist-console lacks {', '.join(missing)}"
    return True, ""

"""The sandbox every untrusted parser runs in: bubblewrap, resource limits, a wall clock.

What a program inside can reach, and why:

* Files: a read-only view of /usr (the programs and their libraries) and of the few /etc and
  /var entries they need (fonts, LibreOffice's own settings); a fresh, size-capped tmpfs as /tmp
  and as the root, gone when the sandbox ends. No /etc/passwd, no home directory, no console
  home, no /run: the file being converted is *copied* in (`--ro-bind-data`, from a memory file
  descriptor, so it needs no path on the host at all), and results leave only through stdout.
  Nothing can be written anywhere the host keeps.
* Namespaces (`--unshare-all`): no network (a fresh network namespace with nothing in it), its
  own process tree, IPC, hostname and cgroup view; a user namespace in which it is `nobody`, and
  `--disable-userns`, so it cannot create another one (the usual door to kernel bugs).
* `--die-with-parent`: if the console dies, the sandbox dies with it. `--new-session`: no
  controlling terminal, so nothing can push keystrokes into the investigator's terminal (TIOCSTI).
* The no-new-privileges bit (bwrap always sets it): no setuid program can raise privileges.
* The seccomp filter of rendition/seccomp.py: no mount, ptrace, bpf, io_uring, keyring, module,
  or non-AF_UNIX socket calls.
* Resource limits, set by `prlimit` inside the sandbox (so they count the sandbox's own
  processes): CPU seconds, address space, size of any file written, number of processes, open
  files, no core dumps. And a wall clock, kept by the console: when it runs out the whole
  process group is killed.
* When the console runs as root (it should not; the tests do), bwrap is started as `nobody` by
  `setpriv`: an escape would land as nobody, and the kernel counts the process limit (it exempts
  root's processes from RLIMIT_NPROC).
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from journalist_console.rendition import seccomp

NOBODY: Final = 65534
SANDBOX_DIR: Final = "/sandbox"
READ_CHUNK = 1 << 20
STDERR_TAIL = 8192
# Host paths the programs need, read-only. /usr holds the programs; the rest is configuration.
RO_PATHS: Final = ("/usr", "/etc/fonts", "/etc/libreoffice", "/var/cache/fontconfig")
MERGED_DIRS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64")
PRIVATE_TMP: Final = "/tmp"  # noqa: S108 - inside the sandbox: its own empty tmpfs
ENVIRONMENT: Final = {
    "PATH": "/usr/bin:/bin",
    "HOME": PRIVATE_TMP,
    "TMPDIR": PRIVATE_TMP,
    "LANG": "C.UTF-8",
    "SAL_USE_VCLPLUGIN": "svp",  # LibreOffice: no display
    "OMP_THREAD_LIMIT": "1",  # tesseract: one thread, within the process limit
}


@dataclass(frozen=True)
class Limits:
    """What one conversion may use. The defaults fit a 100-page office document on 2 cores."""

    cpu_seconds: int = 240  # per process (RLIMIT_CPU)
    address_space: int = 4 << 30  # per process (RLIMIT_AS); LibreOffice maps a lot
    file_size: int = 512 << 20  # any one file written (RLIMIT_FSIZE)
    processes: int = 64  # in the sandbox (RLIMIT_NPROC, counted in its user namespace)
    open_files: int = 256
    tmp_bytes: int = 1 << 30  # the tmpfs at /tmp
    wall_seconds: float = 300.0  # the whole conversion, kept by the console


class SandboxUnavailable(Exception):
    """bubblewrap (or prlimit, or a user namespace) is missing: nothing is converted."""


class SandboxTimeout(Exception):
    """The wall clock ran out; the sandbox was killed."""


class Cancelled(Exception):
    """The console asked to stop (it is being locked); the sandbox was killed."""


class EndOfStream(Exception):
    """The program inside closed its output before the record the console was reading."""


def tools() -> dict[str, str | None]:
    """Where the host programs the sandbox needs are (None: missing)."""
    return {name: shutil.which(name) for name in ("bwrap", "prlimit", "setpriv")}


def unavailable_reason() -> str | None:
    """Why no sandbox can be made here (None: it can)."""
    found = tools()
    missing = [name for name in ("bwrap", "prlimit") if found[name] is None]
    if os.geteuid() == 0 and found["setpriv"] is None:
        missing.append("setpriv")
    if missing:
        return f"missing programs: {', '.join(missing)} (install bubblewrap and util-linux)"
    return None


# The programs each route runs inside the sandbox (all from /usr, the only place it sees).
CONVERTERS: Final = {
    "pdf": ("python3", "pdfinfo", "pdftoppm"),
    "office": ("python3", "soffice", "pdfinfo", "pdftoppm"),
    "html": ("python3", "soffice", "pdfinfo", "pdftoppm"),
    "image": ("python3",),
}


def converters_missing(route: str, ocr: bool) -> list[str]:
    """The programs a route needs that /usr lacks (so it fails as "missing", not as a damaged
    file). Images need Debian's Pillow for the sandbox's python3 (python3-pil)."""
    names = [*CONVERTERS.get(route, ()), *(["tesseract"] if ocr else [])]
    missing = [name for name in names if shutil.which(name, path="/usr/bin") is None]
    if route == "image" and not any(Path("/usr/lib").glob("python3*/*-packages/PIL")):
        missing.append("python3-pil")
    return missing


def _system_binds() -> list[str]:
    argv: list[str] = []
    for path in RO_PATHS:
        argv += ["--ro-bind-try", path, path]
    for path in MERGED_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    return argv


def command(
    argv: list[str], files: dict[str, int], limits: Limits, seccomp_fd: int | None
) -> list[str]:
    """The full command line: [setpriv ...] bwrap OPTIONS prlimit LIMITS -- argv.

    `files`: name in /sandbox -> a readable descriptor whose content bwrap copies in read-only.
    """
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    bwrap = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns"]
    bwrap += ["--uid", str(NOBODY), "--gid", str(NOBODY), "--die-with-parent", "--new-session"]
    bwrap += ["--clearenv"]
    for name, value in ENVIRONMENT.items():
        bwrap += ["--setenv", name, value]
    bwrap += _system_binds()
    bwrap += ["--proc", "/proc", "--dev", "/dev"]
    bwrap += ["--size", str(limits.tmp_bytes), "--tmpfs", PRIVATE_TMP, "--dir", SANDBOX_DIR]
    for name, fd in files.items():
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad sandbox file name {name!r}")
        bwrap += ["--perms", "0444", "--ro-bind-data", str(fd), f"{SANDBOX_DIR}/{name}"]
    if seccomp_fd is not None:
        bwrap += ["--seccomp", str(seccomp_fd)]
    # Nothing but the size-capped /tmp is writable: not the root, not /dev (its devices still
    # work), so no file can grow anywhere else in memory either.
    bwrap += ["--remount-ro", "/", "--remount-ro", "/dev"]
    bwrap += ["--chdir", PRIVATE_TMP, "--"]
    prlimit = [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.address_space}",
        f"--fsize={limits.file_size}",
        f"--nproc={limits.processes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]
    return prefix + bwrap + prlimit + argv


def _pipe_with(data: bytes) -> int:
    """A pipe's read end already holding `data` (the seccomp program: well under a pipe's size)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end


class Run:
    """One program running in the sandbox; read its stdout with `read_exact` until it ends.

    Use as a context manager: leaving it kills whatever still runs in the sandbox and waits.
    """

    def __init__(
        self,
        argv: list[str],
        files: dict[str, int],
        limits: Limits = Limits(),  # noqa: B008 - frozen
        cancel: threading.Event | None = None,
    ) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise SandboxUnavailable(reason)
        program = seccomp.program()
        seccomp_fd = _pipe_with(program) if program is not None else None
        keep = [*files.values(), *([seccomp_fd] if seccomp_fd is not None else [])]
        for fd in files.values():
            os.lseek(fd, 0, os.SEEK_SET)
        self.deadline = time.monotonic() + limits.wall_seconds
        self.cancel = cancel or threading.Event()
        self.stderr_tail = b""  # for tests and debugging; never logged (it may quote the file)
        try:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
                command(argv, files, limits, seccomp_fd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=keep,
                start_new_session=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        if self.process.stdout is None or self.process.stderr is None:
            raise RuntimeError("the sandbox's output pipes are missing")
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout, selectors.EVENT_READ, "out")
        self._selector.register(self.process.stderr, selectors.EVENT_READ, "err")
        self._buffer = bytearray()
        self._eof = False

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _fill(self) -> None:
        """Read whatever is available (waiting at most until the deadline)."""
        while True:
            if self.cancel.is_set():
                self.kill()
                raise Cancelled()
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise SandboxTimeout()
            events = self._selector.select(timeout=min(left, 0.5))
            for key, _mask in events:
                chunk = os.read(key.fd, READ_CHUNK)
                if key.data == "err":
                    if not chunk:
                        self._selector.unregister(key.fileobj)
                    self.stderr_tail = (self.stderr_tail + chunk)[-STDERR_TAIL:]
                elif chunk:
                    self._buffer += chunk
                else:
                    self._selector.unregister(key.fileobj)
                    self._eof = True
            if events and (self._buffer or self._eof):
                return

    def read_exact(self, size: int) -> bytes:
        """Exactly `size` bytes of the program's output (EndOfStream if it ends first)."""
        while len(self._buffer) < size:
            if self._eof:
                raise EndOfStream()
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def at_end(self) -> bool:
        """Whether the program's output is over (waits for more or for its end)."""
        while not self._buffer and not self._eof:
            self._fill()
        return not self._buffer and self._eof

    def wait(self) -> int:
        """The exit status of bwrap (the program's own, or 128 + the signal that killed it)."""
        left = max(0.1, self.deadline - time.monotonic())
        try:
            return self.process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.kill()
            raise SandboxTimeout() from None

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        self._selector.close()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def describe_exit(status: int) -> str:
    """A failure code for a sandbox that ended without saying DONE or FAIL."""
    if status > 128 and status - 128 in (signal.SIGXCPU, signal.SIGXFSZ, signal.SIGKILL):
        return "limit"
    return "crashed"


def memory_file(name: str) -> int:
    """A file that lives in memory only (memfd): where the decrypted original waits for bwrap."""
    return os.memfd_create(name, os.MFD_CLOEXEC)


def script_fd() -> int:
    """The converter's source, to copy into the sandbox (rendition/convert.py)."""
    return os.open(Path(__file__).with_name("convert.py"), os.O_RDONLY | os.O_CLOEXEC)

"""The deployment the browser journey runs against: a console home and a server data directory
made by the two CLIs in a temporary directory, the real `dropbox serve` (support.processes) and
`journalist-console serve` on free 127.0.0.1 ports, and the USB-stick hops (`dropbox export` ->
`journalist-console import`, the console's bundle -> `dropbox import`).
"""

from __future__ import annotations

import contextlib
import html.parser
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from support.processes import (
    CONSOLE_CLI,
    DROPBOX_CLI,
    REPO,
    RealServer,
    free_port,
    new_spill_dir,
    stop_process,
    wait_for_port,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSPHRASE = "kopi tubruk di pagi hari yang sunyi"
__all__ = ["REPO", "PASSPHRASE", "Deployment", "deployment", "landing_bytes", "missing_tools"]


def missing_tools() -> list[str]:
    """What this machine lacks to run the browser journey (empty when everything is there)."""
    missing = []
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            missing.append(f"{path} (Debian package {package})")
    for path in (DROPBOX_CLI, CONSOLE_CLI):
        if not path.exists():
            missing.append(f"{path} (pip install -e '.[dev]')")
    return missing


# ----------------------------------------------------------------------------------------------
# The deployment: both CLIs, both servers


@dataclass
class Deployment:
    root: Path
    home: Path = field(init=False)
    data: Path = field(init=False)
    passphrase_file: Path = field(init=False)
    spill: Path = field(init=False)
    logs: Path = field(init=False)
    site_port: int = 0
    console_port: int = 0
    site: RealServer | None = None
    console_web: subprocess.Popen[bytes] | None = None
    bundles: int = 0

    def __post_init__(self) -> None:
        self.home = self.root / "console"
        self.data = self.root / "data"
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True)
        self.passphrase_file = self.root / "passphrase"
        self.passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
        self.spill = new_spill_dir()

    # -- the CLIs ------------------------------------------------------------------------------
    def run(self, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(arg) for arg in argv],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, argv))} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def console(self, command: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return self.run(
            CONSOLE_CLI,
            command,
            "--home",
            self.home,
            "--passphrase-file",
            self.passphrase_file,
            *args,
        )

    def init(self) -> None:
        self.console("init")
        self.run(
            DROPBOX_CLI,
            "init",
            "--data",
            self.data,
            "--recipient",
            self.home / "inspectorate.pub",
            "--console-key",
            self.home / "console.pub",
        )

    def next_bundle(self, stem: str) -> Path:
        self.bundles += 1
        return self.root / f"{self.bundles:02d}-{stem}.bundle"

    def to_console(self) -> str:
        """`dropbox export` → USB → `journalist-console import --server-key` (console stopped)."""
        out = self.next_bundle("server-to-console")
        self.run(DROPBOX_CLI, "export", "--data", self.data, "--out", out)
        return self.console("import", out, "--server-key", self.data / "server.pub").stdout

    def to_server(self, bundle: Path) -> str:
        """The console's bundle (written by its web interface) → USB → `dropbox import`."""
        copy = self.next_bundle("console-to-server")
        shutil.copyfile(bundle, copy)
        return self.run(DROPBOX_CLI, "import", "--data", self.data, copy).stdout

    # -- the servers ---------------------------------------------------------------------------
    def start_site(self) -> str:
        self.site = RealServer(self.data, self.spill, self.logs / "site").start()
        self.site_port = self.site.port
        return self.site_url

    def start_console(self, *extra: str) -> str:
        """`journalist-console serve` (with `extra` options, such as a short --idle-seconds)."""
        self.console_port = free_port()
        log = self.logs / "console-serve.log"
        with log.open("wb") as out:
            self.console_web = subprocess.Popen(
                [
                    str(CONSOLE_CLI),
                    "serve",
                    "--home",
                    str(self.home),
                    "--port",
                    str(self.console_port),
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.logs,
            )
        wait_for_port(self.console_port, self.console_web, 30, log)
        return self.console_url

    def stop_console(self) -> None:
        stop_process(self.console_web)
        self.console_web = None

    @property
    def site_url(self) -> str:
        return f"http://127.0.0.1:{self.site_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def close(self) -> None:
        stop_process(self.console_web)
        if self.site is not None:
            self.site.stop()
        shutil.rmtree(self.spill, ignore_errors=True)


@contextlib.contextmanager
def deployment(root: Path) -> Iterator[Deployment]:
    made = Deployment(root)
    try:
        made.init()
        made.start_site()
        yield made
    finally:
        made.close()


# ----------------------------------------------------------------------------------------------
# Page size, measured the plain way


def landing_bytes(site_url: str, query: str = "") -> dict[str, int]:
    """The landing page's HTML and every stylesheet it links, as the server sends them."""
    sizes: dict[str, int] = {}
    page_url = f"{site_url}/{query}"
    with urllib.request.urlopen(page_url, timeout=10) as response:  # noqa: S310 (loopback)
        body = response.read()
    sizes[page_url] = len(body)
    parser = _LinkParser()
    parser.feed(body.decode("utf-8"))
    for href in parser.stylesheets:
        url = urljoin(page_url, href)
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            sizes[url] = len(response.read())
    return sizes


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and "stylesheet" in (values.get("rel") or "").split():
            self.stylesheets.append(values.get("href") or "")


# ----------------------------------------------------------------------------------------------

"""A real server and a real console wired together through their command lines, as an operator
and an inspectorate would (tests/test_roundtrip.py, tests/test_key_lifecycle.py).

- `Deployment`: a console home and a server data directory made by `journalist-console init` and
  `dropbox init` from the console's key files; the bundles' USB hops; a rebuilt server;
- `lookup_as`: what a reporter sees on /lookup after logging in with a codename.
"""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.cli import main as dropbox_main
from dropbox.service import DropBox
from journalist_console.cli import main as console_main
from support.pages import login

PASSPHRASE = "correct horse battery staple kopi"


class Deployment:
    """A console home and a server data directory, wired together by their CLIs' key files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "console"
        self.data = root / "data"
        self.passphrase_file = root / "passphrase"
        self.passphrase_file.write_text(PASSPHRASE + "\n")
        assert self.console("init") == 0
        assert dropbox_main(["init", "--data", str(self.data),
                             "--recipient", str(self.home / "inspectorate.pub"),
                             "--console-key", str(self.home / "console.pub")]) == 0
        self.box = DropBox(instance_module.load(self.data))
        self.client = create_app(self.box).test_client()
        self.bundles = 0

    def console(self, *args: str) -> int:
        return console_main([args[0], "--home", str(self.home),
                             "--passphrase-file", str(self.passphrase_file), *args[1:]])

    def run(self, *words: str, user: str | None = None, passphrase_file: Path | None = None
            ) -> int:
        """A console command of any depth (`keys rotate-recipient`, `user add NAME`): the
        common options go last."""
        return console_main([*words, "--home", str(self.home), "--passphrase-file",
                             str(passphrase_file or self.passphrase_file),
                             *(["--user", user] if user else [])])

    def new_reporter(self) -> FlaskClient:
        """A new browser for the next reporter (a logged-in one is sent from /generate to the
        form): `client` becomes it, so the calls that follow act as that reporter."""
        self.client = self.client.application.test_client()
        return self.client

    def restart(self) -> None:
        """The site reads its keys at start: a new app over the same data directory."""
        self.box = DropBox(instance_module.load(self.data))
        self.client = create_app(self.box).test_client()

    def rebuild_server(self) -> Path:
        """The server rebuilt on clean hardware (docs/operator.md 12): a new data directory,
        instance, signing key and site, from the console's current public-key files. Returns
        the old data directory (kept: a test replays what it exported)."""
        old = self.data
        self.data = self.root / f"data-{len(list(self.root.glob('data*')))}"
        assert dropbox_main(["init", "--data", str(self.data),
                             "--recipient", str(self.home / "inspectorate.pub"),
                             "--console-key", str(self.home / "console.pub")]) == 0
        self.restart()
        return old

    def bundle_path(self) -> Path:
        self.bundles += 1
        return self.root / f"{self.bundles}.bundle"

    def to_console(self) -> Path:
        out = self.bundle_path()
        assert dropbox_main(["export", "--data", str(self.data), "--out", str(out)]) == 0
        assert self.console("import", str(out), "--server-key",
                            str(self.data / "server.pub")) == 0
        return out

    def to_server(self) -> Path:
        out = self.bundle_path()
        assert self.console("export", "--out", str(out)) == 0
        assert dropbox_main(["import", "--data", str(self.data), str(out)]) == 0
        return out

    def stored_bytes(self) -> bytes:
        return b"".join(path.read_bytes() for path in sorted(self.data.rglob("*"))
                        if path.is_file())


def lookup_as(deployment: Deployment, codename: str) -> str:
    client = deployment.client.application.test_client()
    assert login(client, codename).status_code == 303
    return client.get("/lookup").get_data(as_text=True)

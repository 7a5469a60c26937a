"""A console home at work, for the tests of the investigators' desk: fed by a FakeServer, driven
through the command line in process and through the web interface's test client, on a day the
test chooses (`dates.today` is replaced while it lives).

    desk = make_desk(tmp_path, capsys, monkeypatch)      # today: 2025-01-01
    regno = desk.server.add_report(day="2025-01-01")
    desk.import_new(); desk.day("2025-01-30"); desk.ok("reply", regno, "--message", "...")
    desk.day("2025-02-01"); desk.export()
    rows = desk.rows()                                   # list --json, by register number
    web = desk.web()                                     # an unlocked web console
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from journalist_console import dates, schema
from journalist_console.cli import main
from journalist_console.home import Home
from journalist_console.vault import open_vault
from journalist_console.web import create_app
from support.bundles import FakeServer
from support.instances import PASSPHRASE, init_console, write_passphrase_file

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class WebDesk:
    """The web console of a home, one browser (its cookie jar) on it."""

    app: Flask
    client: FlaskClient

    def token(self, path: str = "/") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = TOKEN.search(page)
        assert match, page[:2000]
        return match.group(1)

    def post(self, path: str, data: dict[str, Any], page: str | None = None, **kw: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.token(page or path), **data}, **kw)

    def unlock(self, passphrase: str = PASSPHRASE, then: str = "", **carried: str) -> TestResponse:
        """Unlock (and go on to `then`, as the unlock page's form does), carrying `carried`."""
        data = {"csrf_token": self.token("/unlock"), "passphrase": passphrase}
        data |= {f"carried_{name}": value for name, value in carried.items()}
        return self.client.post("/unlock", data=data, query_string={"next": then} if then else {})

    def text(self, path: str) -> str:
        return self.client.get(path).get_data(as_text=True)

    @property
    def held(self) -> Any:
        return self.app.extensions["wbs_console"]

    def close(self) -> None:
        self.held.shutdown()


@dataclass
class Desk:
    tmp: Path
    home: Path
    pp: Path
    server: FakeServer
    server_pub: Path
    capsys: pytest.CaptureFixture[str]
    clock: list[dt.date]
    exports: list[Path] = field(default_factory=list)
    webs: list[WebDesk] = field(default_factory=list)

    def day(self, text: str) -> None:
        self.clock[0] = dt.date.fromisoformat(text)

    def run(self, *args: str | Path) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*map(str, args), "--home", str(self.home), "--passphrase-file", str(self.pp)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str | Path) -> str:
        code, out, err = self.run(*args)
        assert code == 0, (args, out, err)
        return out

    def import_new(self) -> str:
        path = self.tmp / f"server-{self.server.sequence + 1}.bundle"
        self.server.export(path, [self.home / "inspectorate.pub"])
        return self.ok("import", path, "--server-key", self.server_pub)

    def export(self) -> Path:
        path = self.tmp / f"console-{len(self.exports) + 1}.bundle"
        self.ok("export", "--out", path)
        self.exports.append(path)
        return path

    def rows(self, *options: str) -> dict[str, dict[str, Any]]:
        return {row["regno"]: row for row in json.loads(self.ok("list", "--json", *options))}

    def stats(self) -> dict[str, Any]:
        return dict(json.loads(self.ok("stats", "--json")))

    def db(self) -> Any:
        vault = open_vault(Home(self.home), PASSPHRASE.encode())
        return schema.connect(Home(self.home).database, vault.db_key)

    def web(self, unlocked: bool = True) -> WebDesk:
        """The web console on this home (the command line is refused while it runs)."""
        app = create_app(Home(self.home))
        web = WebDesk(app, app.test_client())
        self.webs.append(web)
        if unlocked:
            assert web.unlock().status_code == 302
        return web

    def close(self) -> None:
        for web in self.webs:
            web.close()
        self.webs.clear()


def make_desk(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    today: str = "2025-01-01",
) -> Desk:
    clock = [dt.date.fromisoformat(today)]
    monkeypatch.setattr(dates, "today", lambda: clock[0])
    home = tmp_path / "home"
    init_console(home)
    server = FakeServer()
    return Desk(
        tmp=tmp_path,
        home=home,
        pp=write_passphrase_file(tmp_path / "passphrase"),
        server=server,
        server_pub=server.write_verify_key(tmp_path / "server.pub"),
        capsys=capsys,
        clock=clock,
    )

"""`make demo` prints both directions of the USB round trip (scripts/demo.py), and what it prints
works: the `dropbox export` line writes a bundle the console's Import page takes, and once an
investigator has answered, the console's export bundle named there goes back through the
`dropbox import` line, after which the reporter reads the answer.
"""

from __future__ import annotations

import importlib.util
import io
import re
import shlex
import subprocess
from pathlib import Path
from types import ModuleType

from dropbox import instance as inst
from dropbox.app import create_app as site_app
from dropbox.service import DropBox
from journalist_console.home import Home
from journalist_console.web import create_app as console_app
from support.pages import new_source, submit_report
from support.processes import REPO, VENV_BIN


def demo_in(root: Path) -> ModuleType:
    """scripts/demo.py with its .demo/ folder under `root`."""
    spec = importlib.util.spec_from_file_location("wbs_demo", REPO / "scripts" / "demo.py")
    assert spec and spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.ROOT, demo.DEMO, demo.BIN = root, root / ".demo", VENV_BIN
    demo.CONSOLE_HOME, demo.DATA = demo.DEMO / "console", demo.DEMO / "data"
    demo.PASSPHRASE, demo.USB = demo.DEMO / "demo-passphrase.txt", demo.DEMO / "usb"
    return demo


def test_make_demo_prints_both_directions_and_they_work(tmp_path: Path) -> None:
    demo = demo_in(tmp_path)
    demo.setup()
    demo.USB.mkdir()
    lines = demo.round_trip(tmp_path)
    text = "\n".join(lines)
    assert "Server -> console" in text and "Console -> server" in text
    assert "/import" in text and "/export" in text
    commands = [shlex.split(line) for line in lines if line.strip().startswith(str(VENV_BIN))]
    assert [command[1] for command in commands] == ["export", "import"]
    fingerprint = re.search(r"fingerprint with ([0-9A-Z ]{19})\.", text)
    assert fingerprint, text

    # A reporter files a report on the demo's site.
    box = DropBox(inst.load(demo.DATA))
    box.setup()
    site = site_app(box).test_client()
    new_source(site)
    regno = submit_report(site, what="Uang pelicin di loket perizinan")

    # 1. server -> console, as printed, then the console's Import page.
    subprocess.run(commands[0], cwd=tmp_path, check=True, capture_output=True)
    bundle = demo.USB / "to-console-1.bundle"
    console = console_app(Home(demo.CONSOLE_HOME))
    try:
        browser = console.test_client()

        def token(path: str) -> str:
            found = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(path).text)
            assert found
            return found.group(1)

        passphrase = demo.PASSPHRASE.read_text().strip()
        browser.post("/unlock", data={"csrf_token": token("/unlock"), "passphrase": passphrase})
        upload = {"csrf_token": token("/import"), "bundle": (io.BytesIO(bundle.read_bytes()), "b")}
        page = browser.post("/import", data=upload, content_type="multipart/form-data").text
        assert fingerprint.group(1) in page  # the fingerprint the demo printed
        waiting = re.search(r'name="token" value="([0-9a-f]{32})"', page)
        assert waiting
        browser.post(
            "/import/confirm",
            data={"csrf_token": token("/import"), "token": waiting.group(1), "decision": "trust"},
        )
        # 2. console -> server: respond, write the export bundle, then the printed import.
        report = f"/report/{regno}"
        said = {"csrf_token": token(report), "status": "verifying", "standard": "acknowledgement"}
        assert browser.post(f"{report}/respond", data=said).status_code == 302
        assert browser.post("/export", data={"csrf_token": token("/export")}).status_code == 302
    finally:
        console.extensions["wbs_console"].shutdown()
    assert (tmp_path / commands[1][-1]).is_file()
    subprocess.run(commands[1], cwd=tmp_path, check=True, capture_output=True)
    lookup = site.get("/lookup").text
    assert "Terima kasih atas laporan Anda. Laporan ini sudah kami terima" in lookup

"""A wheel carries everything the two apps need: installed outside the source tree, they serve
their pages (templates and static files from <prefix>/share/wbs-dropbox, the Indonesian catalog
and the word list from the packages)."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROBE = r"""
import sys, tempfile
from pathlib import Path
from keys.keyfiles import recipient_public_key, verify_public_key
from keys.keytypes import new_recipient_identity, new_signing_key
from dropbox import instance
from dropbox.app import create_app, TEMPLATES
from dropbox.service import DropBox
from journalist_console import web
assert not str(TEMPLATES).startswith(sys.argv[1]), TEMPLATES      # not the checkout
data = Path(tempfile.mkdtemp()) / "data"
box = DropBox(instance.create(data, [recipient_public_key(new_recipient_identity())],
                              [verify_public_key(new_signing_key())]))
box.setup()
client = create_app(box).test_client()
page = client.get("/").get_data(as_text=True)
assert "Laporkan" in page, page[:300]                               # Indonesian catalog
assert client.get("/static/style.css").status_code == 200
assert 'id="codename"' in client.get("/generate").get_data(as_text=True)   # word list
assert (web.TEMPLATES / "base.html").is_file() and (web.STATIC / "console.css").is_file()
from journalist_console.web.app import TRANSLATIONS                  # the console's catalog
assert (TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.mo").is_file(), TRANSLATIONS
print("ok")
"""


@pytest.mark.slow
def test_a_wheel_installed_outside_the_tree_serves_its_pages(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("wbs_dropbox-*.whl")
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    probe = subprocess.run([str(python), "-c", PROBE, str(REPO)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stdout.strip() == "ok", probe.stderr[-2000:]

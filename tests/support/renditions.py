"""What the rendition tests share: a console holding a report with the files they need, and the
tools that inspect a safe PDF from the outside (poppler's pdffonts, qpdf --json).

- `console_with_files`: a console home, a FakeServer report carrying `files`, imported, and an
  unlocked Session on it (the caller closes it);
- `tools_missing`: what the rendition tests need and this machine lacks (`make test` installs
  it: scripts/system-packages.txt);
- `inspect_pdf`: every font, object key, name and content-stream operator of a PDF;
- `png_chunks`, `pixels`: what a PNG holds.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journalist_console.cli import main
from journalist_console.home import Home
from journalist_console.rendition import sandbox
from journalist_console.session import Session
from support.bundles import FakeServer
from support.instances import PASSPHRASE, init_console, write_passphrase_file

TOOLS = ("bwrap", "prlimit", "soffice", "pdfinfo", "pdftoppm", "pdffonts", "qpdf", "tesseract")


def tools_missing() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not Path("/usr/lib/python3/dist-packages/PIL").is_dir():
        missing.append("python3-pil")
    reason = sandbox.unavailable_reason()
    if missing or reason:
        return f"rendition tools missing: {', '.join(missing) or reason}"
    return None


@dataclass
class Console:
    home: Path
    session: Session
    regno: str
    entries: dict[str, str]  # file name -> entry id


def console_with_files(tmp: Path, files: Sequence[tuple[str, str, bytes]]) -> Console:
    home = tmp / "home"
    init_console(home)
    server = FakeServer()
    regno = server.add_report(files=files)
    bundle = tmp / "b1.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    passfile = write_passphrase_file(tmp / "pp")
    server_pub = server.write_verify_key(tmp / "server.pub")
    argv = ["import", str(bundle), "--server-key", str(server_pub)]
    assert main([*argv, "--home", str(home), "--passphrase-file", str(passfile)]) == 0
    session = Session.open(Home(home), PASSPHRASE.encode())
    rows = session.conn.execute(
        "SELECT entry_id, name FROM entries WHERE kind = 'file' AND regno = ?", (regno,)
    ).fetchall()
    return Console(home, session, regno, {row["name"]: row["entry_id"] for row in rows})


@dataclass
class PdfFacts:
    fonts: list[str]
    keys: set[str] = field(default_factory=set)  # every dictionary key of every object
    names: set[str] = field(default_factory=set)  # every name value
    strings: list[str] = field(default_factory=list)
    operators: set[str] = field(default_factory=set)  # in the pages' content streams
    pages: int = 0
    images_per_page: list[int] = field(default_factory=list)
    attachments: int = 0


def _walk(value: Any, facts: PdfFacts) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("/"):
                facts.keys.add(key)
            _walk(item, facts)
    elif isinstance(value, list):
        for item in value:
            _walk(item, facts)
    elif isinstance(value, str):
        if value.startswith("/"):
            facts.names.add(value)
        elif value.startswith(("u:", "b:")):
            facts.strings.append(value)


def inspect_pdf(path: Path) -> PdfFacts:
    """What poppler and qpdf, from the outside, find in a PDF."""
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    facts = PdfFacts(fonts=fonts.stdout.splitlines()[2:])
    described = subprocess.run(["qpdf", "--json", str(path)], capture_output=True, check=True)
    document = json.loads(described.stdout)
    for item in document["qpdf"][1:]:
        _walk(item, facts)
    facts.pages = len(document["pages"])
    facts.images_per_page = [len(page["images"]) for page in document["pages"]]
    facts.attachments = len(document.get("attachments") or {})
    for page in document["pages"]:
        for reference in page["contents"]:
            number = reference.split()[0]
            shown = subprocess.run(
                ["qpdf", f"--show-object={number}", "--filtered-stream-data", str(path)],
                capture_output=True,
                check=True,
            )
            text = re.sub(rb"\([^)]*\)|<[0-9a-fA-F]*>", b" ", shown.stdout).decode("latin-1")
            facts.operators |= {
                token for token in text.split() if re.fullmatch(r"[A-Za-z'\"*]+", token)
            }
    return facts


def png_chunks(data: bytes) -> list[bytes]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    position, kinds = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kinds.append(data[position + 4 : position + 8])
        position += 12 + length
    return kinds


def pixels(png: bytes) -> Any:
    """The image (Pillow, in the test process: a PNG the console itself wrote)."""
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")

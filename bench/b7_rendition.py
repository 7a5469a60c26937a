"""7. A safe rendition: a 20-page office document (DOCX) to a safe PDF, in the sandbox.

The console holds one report whose attachment is a 20-page DOCX made here (headings, paragraphs
of Indonesian text and a table on every page). `journalist-console save REGNO --safe-only`
then decrypts it into memory, converts it in the bubblewrap sandbox (LibreOffice to PDF,
poppler to pixels, raw RGB out), builds the PNG pages and the image-only PDF, stores the
rendition encrypted and writes `<name>.safe.pdf`: the whole path an investigator's `save` takes.

Time is the command's wall time, with `list` on the same home (start-up plus the passphrase's
argon2id run) measured alongside as the reference; the target is under 30 s on 2
cores. Memory, sampled every 50 ms over every process the command starts (the console, bwrap,
LibreOffice, poppler, Python in the sandbox): the console process's own peak, the largest peak of
any one process (VmHWM), and the peak of their sum. A second run with OCR on (tesseract,
Indonesian and English) is reported for information: OCR is optional and off by default.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.common import (
    MIB,
    VENV_BIN,
    BenchResult,
    Config,
    Measured,
    info,
    limit_figure,
    proc_status,
    run_measured,
    scratch,
)
from keys import keytypes, payload
from keys.bundle import ItemSource, write_bundle
from keys.documents import ReportDocument
from keys.keyfiles import (
    read_public_key,
    recipient_public_key,
    verify_public_key,
    write_public_key,
)
from keys.records import check_server_body, new_id, new_regno, today

TITLE = "Safe rendition: a 20-page office document to a safe PDF"
PASSPHRASE = "bench passphrase, not a secret"  # noqa: S105 - a throwaway console home
CONSOLE = str(VENV_BIN / "journalist-console")
TARGET_SECONDS = 30.0
SENTENCE = (
    "Panitia pengadaan menaikkan harga satuan barang hingga dua kali harga pasar, dan selisihnya "
    "dibagi kepada pejabat pembuat komitmen melalui rekening pihak ketiga. "
)
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _paragraph(text: str, bold: bool = False) -> str:
    style = "<w:rPr><w:b/><w:sz w:val='32'/></w:rPr>" if bold else ""
    return f"<w:p><w:r>{style}<w:t xml:space='preserve'>{escape(text)}</w:t></w:r></w:p>"


def _table(page: int) -> str:
    rows = []
    for row in range(4):
        texts = [f"Pos {page}.{row}.{column}: Rp {row * 1250 + column}.000" for column in range(3)]
        cells = "".join(f"<w:tc>{_paragraph(text)}</w:tc>" for text in texts)
        rows.append(f"<w:tr>{cells}</w:tr>")
    borders = "".join(
        f"<w:{side} w:val='single' w:sz='4'/>"
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    return (
        f"<w:tbl><w:tblPr><w:tblBorders>{borders}</w:tblBorders></w:tblPr>{''.join(rows)}</w:tbl>"
    )


def docx(pages: int) -> bytes:
    """A DOCX of `pages` pages: a heading, five paragraphs and a table on each."""
    body = []
    for page in range(1, pages + 1):
        if page > 1:
            body.append("<w:p><w:r><w:br w:type='page'/></w:r></w:p>")
        body.append(_paragraph(f"Bagian {page}: temuan pemeriksaan", bold=True))
        body += [_paragraph(SENTENCE * 3) for _ in range(5)]
        body.append(_table(page))
    document = (
        f"<?xml version='1.0' encoding='UTF-8'?><w:document {_W}><w:body>{''.join(body)}"
        "</w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            "<?xml version='1.0' encoding='UTF-8'?><Types xmlns="
            "'http://schemas.openxmlformats.org/package/2006/content-types'><Default "
            "Extension='rels' ContentType='application/vnd.openxmlformats-package.relationships"
            "+xml'/><Default Extension='xml' ContentType='application/xml'/><Override PartName="
            "'/word/document.xml' ContentType='application/vnd.openxmlformats-officedocument."
            "wordprocessingml.document.main+xml'/></Types>",
        )
        archive.writestr(
            "_rels/.rels",
            "<?xml version='1.0' encoding='UTF-8'?><Relationships xmlns="
            "'http://schemas.openxmlformats.org/package/2006/relationships'><Relationship Id="
            "'rId1' Type='http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
            "officeDocument' Target='word/document.xml'/></Relationships>",
        )
        archive.writestr("word/document.xml", document)
    return out.getvalue()


def build_bundle(
    out: Path, items_dir: Path, recipient: keytypes.RecipientKey, signer: keytypes.SigningKey
) -> str:
    """A signed server bundle: one report with the DOCX attached; returns its register number."""
    items_dir.mkdir()
    day, regno, source_id = today(), new_regno(), new_id()
    document = ReportDocument(category="procurement_fraud", relation="employee", what="Lampiran")
    report_id, file_id = new_id(), new_id()
    (items_dir / report_id).write_bytes(
        payload.seal_bytes({"kind": document.KIND}, document.to_bytes(), [recipient])
    )
    meta = {"kind": "file", "name": "laporan-pemeriksaan.docx", "type": "application/msword"}
    (items_dir / file_id).write_bytes(payload.seal_bytes(meta, docx(20), [recipient]))
    body: dict[str, Any] = {
        "instance": new_id(),
        "sequence": 1,
        "created_day": day,
        "sources": [
            {
                "source_id": source_id,
                "public_key": recipient_public_key(keytypes.new_recipient_identity()).to_line(),
                "designation": "bench pelapor",
                "created_day": day,
            }
        ],
        "reports": [{"regno": regno, "source_id": source_id, "received_day": day}],
        "entries": [
            {
                "entry_id": report_id,
                "kind": "report",
                "regno": regno,
                "day": day,
                "item": report_id,
                "parent": None,
            },
            {
                "entry_id": file_id,
                "kind": "file",
                "regno": regno,
                "day": day,
                "item": file_id,
                "parent": report_id,
            },
        ],
    }
    items = [ItemSource(name, items_dir / name) for name in (report_id, file_id)]
    check_server_body(body, {item.name for item in items})
    write_bundle(out, "server-to-console", body, items, signer)
    return regno


class TreeSampler:
    """Peak memory of every process descending from this one (the bench starts nothing else
    while it samples): the sum of their VmRSS, and the largest VmHWM of any of them."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_sum = 0
        self.peak_one = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _descendants() -> list[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [], [os.getpid()]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            found += children
            frontier = children
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            statuses = [proc_status(pid) for pid in self._descendants()]
            self.peak_sum = max(self.peak_sum, sum(s.get("VmRSS", 0) for s in statuses))
            self.peak_one = max([self.peak_one, *(s.get("VmHWM", 0) for s in statuses)])
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def console(home: Path, passfile: Path, *args: str) -> Measured:
    argv = [CONSOLE, args[0], "--home", str(home), "--passphrase-file", str(passfile), *args[1:]]
    measured = run_measured(argv, timeout=600)
    if measured.completed.returncode != 0:
        tail = (measured.completed.stdout + measured.completed.stderr)[-400:]
        raise RuntimeError(f"{args[0]} failed: {tail.decode(errors='replace')}")
    return measured


def _pages(pdf: Path) -> int:
    described = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)", described.stdout, re.M)
    return int(match.group(1)) if match else 0


def run(config: Config) -> BenchResult:
    result = BenchResult(7, TITLE)
    from journalist_console.rendition import sandbox  # the console's own check

    reason = sandbox.unavailable_reason()
    if reason is not None or not Path(CONSOLE).exists():
        result.skipped = reason or "no journalist-console in the venv"
        return result
    signer = keytypes.new_signing_key()
    with scratch(config, "rendition") as root:
        passfile = root / "passphrase"
        passfile.write_text(PASSPHRASE + "\n")
        home = root / "home"
        console(home, passfile, "init")
        server_pub = root / "server.pub"
        write_public_key(server_pub, verify_public_key(signer))
        recipient = read_public_key(home / "inspectorate.pub", "recipient").as_recipient()
        bundle = root / "server.bundle"
        regno = build_bundle(bundle, root / "items", recipient, signer)
        console(home, passfile, "import", str(bundle), "--server-key", str(server_pub))
        reference = console(home, passfile, "list")
        out = root / "out"
        out.mkdir()
        with TreeSampler() as tree:
            saved = console(home, passfile, "save", regno, "--out", str(out), "--safe-only")
        (pdf,) = out.glob("*.safe.pdf")
        pages = _pages(pdf)
        result.figures += [
            limit_figure(
                "20-page DOCX to a safe PDF (save --safe-only)",
                saved.seconds,
                "s",
                below=TARGET_SECONDS,
                reference=reference.seconds,
                note=f"reference: `list` on the same home, {reference.seconds:.2f} s",
            ),
            info("pages in the safe PDF", pages, "pages"),
            info("seconds per page", saved.seconds / max(1, pages), "s"),
            info("safe PDF size", pdf.stat().st_size / MIB, "MiB"),
            info("console process peak RSS", max(saved.samples or [0]) / MIB, "MiB"),
            info("largest peak of one process (VmHWM)", tree.peak_one / MIB, "MiB"),
            info("peak of all its processes together", tree.peak_sum / MIB, "MiB"),
        ]
        if not config.quick:
            console(home, passfile, "config", "--ocr", "on")
            _forget_renditions(home, passfile)
            ocr_out = root / "out-ocr"
            ocr_out.mkdir()
            with_ocr = console(home, passfile, "save", regno, "--out", str(ocr_out), "--safe-only")
            result.figures.append(
                info("the same with OCR (ind+eng), for information", with_ocr.seconds, "s")
            )
        result.notes.append(f"cores: {os.cpu_count()}")
    return result


def _forget_renditions(home: Path, passfile: Path) -> None:
    """Drop the stored rendition so the next `save` converts again (with OCR this time)."""
    from journalist_console.home import Home
    from journalist_console.rendition import store
    from journalist_console.session import Session

    passphrase = passfile.read_text().strip().encode()
    with Session.open(Home(home), passphrase) as session:
        made = [row[0] for row in session.conn.execute("SELECT entry_id FROM renditions")]
        for entry_id in made:
            store.forget(session, entry_id)

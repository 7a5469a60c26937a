"""Test helpers for the investigator console: a fabricated server and bundle readers.

`FakeServer` produces genuine server-to-console bundles with the real crypto (keys.payload
envelopes sealed to the inspectorate key read from a .pub file, keys.bundle.write_bundle signed by
a server Ed25519 key of the test's own) and records built per keys/records.py, so the console is
tested on the same bytes the real `dropbox export` writes. Its sources hold their X25519 private
keys, so a test can check that a console response is readable by the reporter.

Everything takes paths, so round-trip tests with the real server can reuse the readers
(`read_console_bundle`, `open_response`) and the console helpers (`init_console`, `run_cli`).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing

from journalist_console.home import DEFAULT_USER
from journalist_console.vault import InitResult, init_home
from keys import bundle, keyfiles, payload
from keys.documents import FollowupDocument, ReportDocument
from keys.keyfiles import KdfParams
from keys.records import new_id, new_regno

# Cheap enough for dozens of tests; the real default is exercised by a few tests on purpose.
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8 * 1024, parallelism=1)
PASSPHRASE = "kopi tubruk di pagi hari"
REPO = Path(__file__).resolve().parent.parent
CONSOLE_BIN = REPO / ".venv" / "bin" / "journalist-console"

_WORDS = ("biru", "merah", "harimau", "elang", "kancil", "gunung", "sungai", "pelangi", "rusa")


def write_passphrase_file(path: Path, passphrase: str = PASSPHRASE) -> Path:
    path.write_text(passphrase + "\n", encoding="utf-8")
    return path


def init_console(
    home: Path,
    passphrase: str = PASSPHRASE,
    kdf: KdfParams = FAST_KDF,
    due_days: int = 30,
    user: str = DEFAULT_USER,
) -> InitResult:
    """A console home created through the library (cheap KDF unless told otherwise).

    `user` is its first investigator and administrator (the default one: `investigator`).
    """
    return init_home(home, passphrase.encode("utf-8"), kdf=kdf, due_days=due_days, user=user)


def report_document(**fields: str) -> ReportDocument:
    document: dict[str, str] = {
        "category": "corruption",
        "relation": "employee",
        "what": "Dana hibah dipotong 20%",
        "who": "Kepala bagian keuangan",
        "where": "Kantor wilayah",
        "when": "Maret sampai Mei",
        "how": "Potongan tunai saat pencairan",
        "message": "Saya punya salinan kuitansi.",
        "pseudonym": "",
        "contact": "",
        "language": "id",
    }
    document.update(fields)
    return ReportDocument(**document)


@dataclass
class FakeSource:
    source_id: str
    private_key: nacl.public.PrivateKey
    designation: str
    created_day: str

    @property
    def public_line(self) -> str:
        return keyfiles.recipient_public_key(self.private_key).to_line()


@dataclass
class FakeEntry:
    entry_id: str
    kind: str
    regno: str
    day: str
    parent: str | None
    meta: dict[str, Any]
    content: bytes
    exported: bool = False


@dataclass
class FakeReport:
    regno: str
    source: FakeSource
    received_day: str


@dataclass
class FakeServer:
    """An in-memory stand-in for the server's export side."""

    instance: str = field(default_factory=new_id)
    signing_key: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    sequence: int = 0
    sources: list[FakeSource] = field(default_factory=list)
    reports: dict[str, FakeReport] = field(default_factory=dict)
    entries: list[FakeEntry] = field(default_factory=list)

    @property
    def verify_key(self) -> keyfiles.PublicKey:
        return keyfiles.verify_public_key(self.signing_key)

    def write_verify_key(self, path: Path) -> Path:
        keyfiles.write_public_key(path, self.verify_key)
        return path

    def add_source(self, day: str = "2025-01-10") -> FakeSource:
        designation = " ".join(secrets.choice(_WORDS) for _ in range(2))
        source = FakeSource(new_id(), nacl.public.PrivateKey.generate(), designation, day)
        self.sources.append(source)
        return source

    def add_report(
        self,
        source: FakeSource | None = None,
        day: str = "2025-01-10",
        files: Sequence[tuple[str, str, bytes]] = (),
        regno: str | None = None,
        **fields: str,
    ) -> str:
        source = source or self.add_source(day)
        regno = regno or new_regno()
        self.reports[regno] = FakeReport(regno, source, day)
        entry = self._add(
            "report",
            regno,
            day,
            None,
            {"kind": "report"},
            report_document(**fields).to_bytes(),
        )
        for name, media_type, content in files:
            self.add_file(regno, entry.entry_id, name, media_type, content, day)
        return regno

    def add_followup(
        self,
        regno: str,
        message: str,
        day: str = "2025-01-20",
        files: Sequence[tuple[str, str, bytes]] = (),
    ) -> str:
        entry = self._add(
            "followup",
            regno,
            day,
            None,
            {"kind": "followup"},
            FollowupDocument(message).to_bytes(),
        )
        for name, media_type, content in files:
            self.add_file(regno, entry.entry_id, name, media_type, content, day)
        return entry.entry_id

    def add_file(
        self,
        regno: str,
        parent: str | None,
        name: str,
        media_type: str,
        content: bytes,
        day: str = "2025-01-10",
    ) -> str:
        meta = {"kind": "file", "name": name, "type": media_type}
        return self._add("file", regno, day, parent, meta, content).entry_id

    def _add(
        self,
        kind: str,
        regno: str,
        day: str,
        parent: str | None,
        meta: dict[str, Any],
        content: bytes,
    ) -> FakeEntry:
        entry = FakeEntry(new_id(), kind, regno, day, parent, meta, content)
        self.entries.append(entry)
        return entry

    def export(
        self,
        out: Path,
        recipients: Sequence[Path],
        everything: bool = False,
        undecryptable: Sequence[str] = (),
        sequence: int | None = None,
        created_day: str = "2025-01-21",
    ) -> dict[str, Any]:
        """Write a signed bundle of the entries not yet exported (all with `everything`).

        `recipients` are inspectorate .pub files; entries listed in `undecryptable` are sealed to
        an unrelated key instead (the console must show them as unreadable).
        """
        keys = [keyfiles.read_public_key(path, "recipient").as_recipient() for path in recipients]
        stranger = nacl.public.PrivateKey.generate().public_key
        chosen = [entry for entry in self.entries if everything or not entry.exported]
        work = out.parent / f".{out.name}.items"
        work.mkdir(exist_ok=True)
        items = []
        for index, entry in enumerate(chosen):
            name = f"item-{index:04d}"
            path = work / name
            seal_to = [stranger] if entry.entry_id in undecryptable else keys
            path.write_bytes(payload.seal_bytes(entry.meta, entry.content, seal_to))
            items.append((entry, bundle.ItemSource(name, path)))
        regnos = sorted({entry.regno for entry in chosen})
        reports = [self.reports[regno] for regno in regnos]
        sources = {report.source.source_id: report.source for report in reports}
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        body = {
            "instance": self.instance,
            "sequence": sequence,
            "created_day": created_day,
            "sources": [
                {
                    "source_id": s.source_id,
                    "public_key": s.public_line,
                    "designation": s.designation,
                    "created_day": s.created_day,
                }
                for s in sources.values()
            ],
            "reports": [
                {"regno": r.regno, "source_id": r.source.source_id, "received_day": r.received_day}
                for r in reports
            ],
            "entries": [
                {
                    "entry_id": entry.entry_id,
                    "kind": entry.kind,
                    "regno": entry.regno,
                    "day": entry.day,
                    "item": item.name,
                    "parent": entry.parent,
                }
                for entry, item in items
            ],
        }
        manifest = bundle.write_bundle(
            out, "server-to-console", body, [item for _entry, item in items], self.signing_key
        )
        for entry in chosen:
            entry.exported = True
        for _entry, item in items:
            item.path.unlink()
        work.rmdir()
        return manifest


def read_console_bundle(path: Path, console_pub: Path, staging: Path) -> bundle.VerifiedBundle:
    """Verify a console-to-server bundle against the console's verify key file."""
    expected = keyfiles.read_public_key(console_pub, "verify")
    staging.mkdir(parents=True, exist_ok=True)
    return bundle.read_bundle(path, "console-to-server", lambda key: key == expected, staging)


def open_response(item: Path, identity: nacl.public.PrivateKey) -> tuple[dict[str, Any], Any]:
    """Decrypt one response item with a source's (or the inspectorate's) private key."""
    meta, content = payload.open_bytes(item.read_bytes(), [identity])
    return meta, json.loads(content)


def run_cli(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed `journalist-console` entry point in a subprocess."""
    return subprocess.run(
        [str(CONSOLE_BIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def console_identity(home: Path, passphrase: str = PASSPHRASE) -> nacl.public.PrivateKey:
    """The inspectorate's private key from a console home (for checking responses)."""
    from journalist_console.home import Home
    from journalist_console.vault import open_vault

    return open_vault(Home(home), passphrase.encode("utf-8")).identity

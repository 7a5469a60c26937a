"""Signed bundles in both directions, built with the real crypto and records.

- `FakeServer`: genuine server-to-console bundles (keys.payload envelopes sealed to the
  inspectorate key read from a .pub file, keys.bundle signed by a server key of the test's own,
  records per keys/records.py), so the console is tested on the bytes `dropbox export` writes.
  Its sources hold their X25519 private keys, so a test can check that a console response is
  readable by the reporter.
- `write_response_bundle`, `response_bundle`, `import_responses`: genuine console-to-server
  bundles for a server instance (support/instances.py), applied in-process or through the CLI.
- `read_console_bundle`, `open_response`: reading what the console wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dropbox import db
from dropbox.exchange import import_bundle
from keys import bundle, keyfiles, payload
from keys.bundle import ItemSource, write_bundle
from keys.documents import FollowupDocument, ReplyDocument, ReportDocument, StatusDocument
from keys.keytypes import RecipientIdentity, SigningKey, new_recipient_identity, new_signing_key
from keys.records import new_id, new_regno, today
from support.instances import Site
from support.processes import DROPBOX_CLI, run

_WORDS = ("biru", "merah", "harimau", "elang", "kancil", "gunung", "sungai", "pelangi", "rusa")


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
    private_key: RecipientIdentity
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
    signing_key: SigningKey = field(default_factory=new_signing_key)
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
        source = FakeSource(new_id(), new_recipient_identity(), designation, day)
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
        stranger = new_recipient_identity().public_key
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


def open_response(item: Path, identity: RecipientIdentity) -> tuple[dict[str, Any], Any]:
    """Decrypt one response item with a source's (or the inspectorate's) private key."""
    meta, content = payload.open_bytes(item.read_bytes(), [identity])
    return meta, json.loads(content)


def reply_item(site: Site, regno: str, message: str, author: str = "Tim Inspektorat") -> bytes:
    document = ReplyDocument(message, author).to_bytes()
    return payload.seal_bytes(
        {"kind": "reply"}, document, [site.source_key_for(regno), site.recipient.public_key]
    )


def status_item(site: Site, regno: str, status: str, note: str = "") -> bytes:
    document = StatusDocument(status, note).to_bytes()
    return payload.seal_bytes(
        {"kind": "status"}, document, [site.source_key_for(regno), site.recipient.public_key]
    )


@dataclass
class Response:
    """One response for `import_responses`: `data` is the sealed item (reply_item/status_item)."""

    kind: str
    regno: str
    day: str
    data: bytes
    closes_report: bool = False
    response_id: str = field(default_factory=lambda: secrets.token_hex(16))


def write_response_bundle(
    site: Site,
    responses: Sequence[Response],
    out: Path,
    sequence: int | None = None,
    signer: SigningKey | None = None,
    instance_id: str | None = None,
    acks: Sequence[dict[str, str]] = (),
    co_signer: SigningKey | None = None,
    key_change: dict[str, str] | None = None,
) -> Path:
    """A genuine console-to-server bundle of these responses (default: the next sequence number
    the server expects, its own instance, signed with the console key it trusts; with a
    `co_signer`, co-signed; with a `key_change`, announcing it)."""
    if sequence is None:
        with site.box.connection() as connection:
            sequence = int(db.get_meta(connection, "console_seq", "0") or 0) + 1
    staging = out.parent / f"{out.name}.items"
    staging.mkdir()
    items = []
    entries = []
    for index, response in enumerate(responses):
        name = f"r{index}-{response.response_id[:8]}"
        (staging / name).write_bytes(response.data)
        items.append(ItemSource(name, staging / name))
        entries.append(
            {
                "response_id": response.response_id,
                "kind": response.kind,
                "regno": response.regno,
                "day": response.day,
                "item": name,
                "closes_report": response.closes_report,
            }
        )
    body = {
        "instance": instance_id or site.instance.instance_id,
        "sequence": sequence,
        "created_day": dt.date.today().isoformat(),
        "responses": entries,
        "acks": list(acks),
    }
    if key_change is not None:
        body["key_change"] = key_change
    write_bundle(
        out, "console-to-server", body, items, signer or site.console_key, co_signer=co_signer
    )
    shutil.rmtree(staging)
    return out


def import_responses(site: Site, responses: Sequence[Response], tmp_dir: Path) -> None:
    """Build a genuine console-signed bundle and apply it in-process."""
    path = tmp_dir / f"responses-{secrets.token_hex(4)}.wbsb"
    write_response_bundle(site, responses, path)
    import_bundle(site.box, path)


def import_responses_cli(site: Site, responses: Sequence[Response], tmp_dir: Path) -> str:
    """The same through `dropbox import --data DIR FILE`; returns its stdout."""
    path = tmp_dir / f"responses-{secrets.token_hex(4)}.wbsb"
    write_response_bundle(site, responses, path)
    done = run([DROPBOX_CLI, "import", "--data", site.data_dir, path], timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def response_bundle(
    site: Site,
    out: Path,
    sequence: int,
    responses: list[dict[str, Any]],
    signer: SigningKey | None = None,
    instance_id: str | None = None,
    acks: list[dict[str, str]] | None = None,
    co_signer: SigningKey | None = None,
    key_change: dict[str, str] | None = None,
) -> Path:
    """The same from plain records: each has regno, kind, document (a dict, sealed as it is) and
    source_key, optionally day and closes_report; `acks` as the console writes them."""
    sealed = [
        Response(
            kind=response["kind"],
            regno=response["regno"],
            day=response.get("day", today()),
            data=payload.seal_bytes(
                {"kind": response["kind"]},
                json.dumps(response["document"]).encode(),
                [response["source_key"], site.recipient.public_key],
            ),
            closes_report=response.get("closes_report", False),
        )
        for response in responses
    ]
    return write_response_bundle(
        site, sealed, out, sequence, signer, instance_id, acks or [], co_signer, key_change
    )

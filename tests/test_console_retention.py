"""Retention on the console: finished reports removed after the limit, or archived first.

Everything runs on genuine bundles (support.bundles.FakeServer) through the command line in
process (`main([...])`) and the web test client. The clock is `dates.today`, moved by the tests;
`retention --as-of DAY` rehearses a later day without moving it.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from journalist_console import archive, dates, retention, schema, settings, vault
from journalist_console.cli import main
from journalist_console.home import Home
from journalist_console.vault import open_vault
from journalist_console.web import create_app
from keys import keyfiles, keytypes, payload
from support.bundles import FakeServer
from support.instances import (
    BOX_KDF,
    PASSPHRASE,
    console_identity,
    init_console,
    write_passphrase_file,
)

ROW_TABLES = ("entries", "responses", "notes", "assignments", "recusals")
REGNO = re.compile(r"WBS-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]")
RECORDING = bytes(range(256)) * 781 + b"RAHASIA-A"  # 199,945 bytes: not a multiple of 512


@dataclass
class Env:
    tmp: Path
    home: Path
    pp: Path
    server: FakeServer
    server_pub: Path
    capsys: pytest.CaptureFixture[str]
    clock: list[dt.date]
    markers: dict[str, list[bytes]] = field(default_factory=dict)

    def day(self, text: str) -> None:
        self.clock[0] = dt.date.fromisoformat(text)

    def run(self, *args: str | Path, user: str | None = None) -> tuple[int, str, str]:
        self.capsys.readouterr()
        pp = self.pp if user is None else self.tmp / f"pp-{user}"
        extra = [] if user is None else ["--user", user]
        code = main(
            [*map(str, args), "--home", str(self.home), "--passphrase-file", str(pp), *extra]
        )
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str | Path, user: str | None = None) -> str:
        code, out, err = self.run(*args, user=user)
        assert code == 0, (args, out, err)
        return out

    def add_user(self, name: str, admin: bool = False) -> None:
        pp = write_passphrase_file(self.tmp / f"pp-{name}", f"frasa sandi milik {name}")
        self.ok("user", "add", name, "--new-passphrase-file", pp, *(["--admin"] if admin else []))

    def import_new(self) -> None:
        path = self.tmp / f"server-{self.server.sequence + 1}.bundle"
        self.server.export(path, [self.home / "inspectorate.pub"])
        self.ok("import", path, "--server-key", self.server_pub)

    def export(self) -> Path:
        path = self.tmp / f"console-{len(list(self.tmp.glob('console-*.bundle'))) + 1}.bundle"
        self.ok("export", "--out", path)
        return path

    def db(self) -> Any:
        vault = open_vault(Home(self.home), PASSPHRASE.encode())
        return schema.connect(Home(self.home).database, vault.db_key)

    def regnos(self) -> set[str]:
        conn = self.db()
        try:
            return {row[0] for row in conn.execute("SELECT regno FROM reports")}
        finally:
            conn.close()

    def rows_of(self, regno: str) -> dict[str, int]:
        conn = self.db()
        try:
            counts = {
                table: conn.execute(
                    f"SELECT count(*) FROM {table} WHERE regno = ?",  # noqa: S608
                    (regno,),
                ).fetchone()[0]
                for table in (*ROW_TABLES, "reports")
            }
        finally:
            conn.close()
        return counts

    def sources(self) -> set[str]:
        conn = self.db()
        try:
            return {row[0] for row in conn.execute("SELECT source_id FROM sources")}
        finally:
            conn.close()

    def remember_envelopes(self, regno: str) -> None:
        """Samples of every envelope the console holds for a report, to search the home for."""
        conn = self.db()
        try:
            entries = [
                r[0] for r in conn.execute("SELECT entry_id FROM entries WHERE regno = ?", (regno,))
            ]
            responses = [
                r[0]
                for r in conn.execute("SELECT response_id FROM responses WHERE regno = ?", (regno,))
            ]
        finally:
            conn.close()
        samples = []
        paths = [self.home / "store" / "entries" / f"{e}.env" for e in entries]
        paths += [self.home / "store" / "responses" / f"{r}.env" for r in responses]
        for path in paths:
            data = path.read_bytes()
            samples += [data[:48], data[len(data) // 2 : len(data) // 2 + 48], data[-48:]]
        assert len(paths) >= 2
        self.markers[regno] = samples

    def home_bytes(self) -> list[bytes]:
        return [p.read_bytes() for p in self.home.rglob("*") if p.is_file()]

    def assert_gone_from_disk(self, regno: str) -> None:
        everything = self.home_bytes()
        for sample in self.markers[regno]:
            assert not any(sample in blob for blob in everything), regno
        # The home never held plaintext in the first place; neither does it now.
        assert not any(b"RAHASIA" in blob for blob in everything)

    def state(self) -> dict[str, Any]:
        conn = self.db()
        try:
            tables = {
                name: [tuple(row) for row in conn.execute(f"SELECT * FROM {name}")]  # noqa: S608
                for name in (
                    "settings",
                    "sources",
                    "reports",
                    "audit",
                    "exports",
                    "users",
                    *ROW_TABLES,
                )
            }
        finally:
            conn.close()
        files = sorted(
            (str(p.relative_to(self.home)), p.read_bytes())
            for p in self.home.rglob("*")
            if p.is_file() and p.name != "console.lock"
        )
        return {"tables": tables, "files": files}

    def audit_entries(self, action: str) -> list[dict[str, Any]]:
        conn = self.db()
        try:
            return [
                dict(row)
                for row in conn.execute(
                    "SELECT * FROM audit WHERE action = ? ORDER BY seq", (action,)
                )
            ]
        finally:
            conn.close()


@pytest.fixture
def env(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Env:
    clock = [dt.date(2025, 1, 5)]
    monkeypatch.setattr(dates, "today", lambda: clock[0])
    monkeypatch.setattr(vault, "NEW_BOX_KDF", BOX_KDF)
    console_home = tmp_path / "home"
    init_console(console_home)
    server = FakeServer()
    return Env(
        tmp=tmp_path,
        home=console_home,
        pp=write_passphrase_file(tmp_path / "passphrase"),
        server=server,
        server_pub=server.write_verify_key(tmp_path / "server.pub"),
        capsys=capsys,
        clock=clock,
    )


@dataclass
class Cast:
    """The reports of the simulated month, by role."""

    a: str  # closed 2025-01-15: reply, note, assignment, a recusal, a file, a follow-up
    b: str  # closed 2025-02-20
    c: str  # never closed; shares its source with d
    d: str  # rejected 2025-01-10
    e: str  # closed 2025-01-10, then a reply on 2025-01-16 not exported until 2025-02-20
    g: str  # forwarded 2025-01-10, then a follow-up on 2025-01-16 not acknowledged until 02-20


def _cast(env: Env) -> Cast:
    """Builds the month's reports, exporting as an investigator would, up to 2025-02-20."""
    env.day("2025-01-05")
    env.add_user("bob")
    server = env.server
    shared = server.add_source("2025-01-04")
    a = server.add_report(
        day="2025-01-04",
        what="RAHASIA-A pemotongan dana hibah",
        files=[
            ("kuitansi.pdf", "application/pdf", b"%PDF-1.4 RAHASIA-A-LAMPIRAN " * 50),
            ("rekaman.bin", "application/octet-stream", RECORDING),  # several envelope chunks
        ],
    )
    server.add_followup(a, "RAHASIA-A tambahan informasi", day="2025-01-05")
    b = server.add_report(day="2025-01-04", what="RAHASIA-B")
    c = server.add_report(shared, day="2025-01-04", what="RAHASIA-C")
    d = server.add_report(shared, day="2025-01-04", what="RAHASIA-D")
    e = server.add_report(day="2025-01-04", what="RAHASIA-E")
    g = server.add_report(day="2025-01-04", what="RAHASIA-G")
    env.import_new()
    env.export()
    env.day("2025-01-10")
    env.ok("status", d, "rejected", "--note", "di luar kewenangan")
    env.ok("status", e, "closed")
    env.ok("status", g, "forwarded")
    env.ok("status", c, "investigating")
    env.export()
    env.day("2025-01-15")
    env.ok("assign", a, "investigator")
    env.ok("recuse", a, "--reason", "kerabat terlapor", user="bob")
    env.ok("note", a, "RAHASIA-A catatan internal")
    env.ok("reply", a, "--message", "RAHASIA-A balasan")
    env.ok("status", a, "closed")
    env.export()
    env.day("2025-01-16")
    env.ok("reply", e, "--message", "RAHASIA-E balasan sesudah ditutup")  # not exported yet
    server.add_followup(g, "RAHASIA-G informasi baru", day="2025-01-16")
    env.import_new()  # g's follow-up: not acknowledged yet
    env.day("2025-02-20")
    env.ok("status", b, "closed")
    return Cast(a, b, c, d, e, g)


# -- the simulated month ------------------------------------------------------------------------


def test_a_simulated_month_removes_exactly_the_finished_reports_past_the_limit(env: Env) -> None:
    cast = _cast(env)
    everyone = {cast.a, cast.b, cast.c, cast.d, cast.e, cast.g}
    for regno in everyone:
        env.remember_envelopes(regno)
    source_a = _source_of(env, cast.a)
    source_shared = _source_of(env, cast.c)
    assert _source_of(env, cast.d) == source_shared
    out = env.ok("config", "--retention-days", "30")
    assert "retention: 30 days after a finished report's last event, then delete" in out

    # 2025-02-20: a and d are past the limit (cutoff 2025-01-21); e and g too, but they wait for
    # the export that carries e's reply and acknowledges g's follow-up.
    out = env.ok("retention", "--dry-run")
    assert "on or before 2025-01-21" in out
    assert "would remove 2 reports" in out and "2 more past the limit wait" in out
    assert env.regnos() == everyone
    out = env.ok("retention")
    assert "Removed 2 reports" in out
    assert env.regnos() == everyone - {cast.a, cast.d}

    env.export()  # still 2025-02-20
    out = env.ok("retention", "--dry-run")
    assert "would remove 2 reports" in out and "wait" not in out
    left = everyone - {cast.a, cast.d}
    seen = {}
    for day in ("2025-02-27", "2025-03-06", "2025-03-13", "2025-03-21", "2025-03-22", "2025-03-29"):
        if day == "2025-02-27":
            env.ok("retention", "--as-of", day)
            left -= {cast.e, cast.g}
        elif day == "2025-03-22":  # b was closed on 2025-02-20: 30 days later it goes
            env.ok("retention", "--as-of", day)
            left -= {cast.b}
        else:
            out = env.ok("retention", "--as-of", day)
            assert "Removed 0 reports" in out
        seen[day] = env.regnos()
        assert seen[day] == left, day
    assert left == {cast.c}  # never closed: never removed

    # Rows: nothing of a removed report is left; the source shared with the open report stays.
    for regno in everyone - {cast.c}:
        assert set(env.rows_of(regno).values()) == {0}, regno
        env.assert_gone_from_disk(regno)
    assert env.rows_of(cast.c)["entries"] == 1
    assert source_a not in env.sources() and source_shared in env.sources()
    assert env.sources() == {source_shared}
    with pytest.raises(AssertionError):
        env.assert_gone_from_disk(cast.c)  # the search does find what is still held

    # The audit chain still verifies; the retention entries name no report.
    assert "Audit log intact" in env.ok("audit", "verify")
    entries = env.audit_entries("retention")
    assert [json.loads(e["detail"])["reports"] for e in entries] == [2, 2, 0, 0, 0, 1, 0]
    for entry in entries:
        assert entry["regno"] is None and not REGNO.search(entry["detail"])
        detail = json.loads(entry["detail"])
        assert set(detail) <= {"mode", "reports", "as_of"} and detail["mode"] == "delete"
    assert "as_of" not in json.loads(entries[0]["detail"])
    assert json.loads(entries[1]["detail"])["as_of"] == "2025-02-27"
    # Earlier entries still name the removed reports (the chain is never rewritten).
    assert any(e["regno"] == cast.a for e in env.audit_entries("status_changed"))
    # The console keeps working: the queue, statistics and the next export.
    queue = json.loads(env.ok("list", "--json"))
    assert [r["regno"] for r in queue] == [cast.c]
    assert json.loads(env.ok("stats", "--json"))["total"] == 1
    env.export()


def _source_of(env: Env, regno: str) -> str:
    conn = env.db()
    try:
        return str(
            conn.execute("SELECT source_id FROM reports WHERE regno = ?", (regno,)).fetchone()[0]
        )
    finally:
        conn.close()


def test_dry_run_changes_nothing(env: Env) -> None:
    cast = _cast(env)
    env.export()
    before = env.state()
    out = env.ok("retention", "--dry-run", "--as-of", "2026-06-01")
    assert "would remove 5 reports" in out
    assert env.state() == before
    assert cast.c in env.regnos()


def test_the_default_keeps_a_year_and_zero_keeps_forever(env: Env) -> None:
    cast = _cast(env)
    env.export()
    out = env.ok("config")
    assert "retention: 365 days after a finished report's last event, then delete" in out
    # d was rejected on 2025-01-10: a year later it goes, not a day before.
    assert "would remove 0 reports" in env.ok("retention", "--dry-run", "--as-of", "2026-01-09")
    assert "would remove 1 reports" in env.ok("retention", "--dry-run", "--as-of", "2026-01-10")
    env.ok("config", "--retention-days", "0")
    out = env.ok("retention", "--as-of", "2099-01-01")
    assert "Retention is off" in out
    assert len(env.regnos()) == 6 and env.audit_entries("retention") == []
    env.ok("config", "--retention-days", "365")
    env.ok("retention", "--as-of", "2099-01-01")
    assert env.regnos() == {cast.c}


def test_settings_are_checked_and_administrators_only(env: Env) -> None:
    _cast(env)
    for days in ("29", "3651"):
        code, _out, err = env.run("config", "--retention-days", days)
        assert code == 1 and "retention days must be 0" in err
    with pytest.raises(SystemExit) as usage:
        env.run("config", "--retention-days", "-1")
    assert usage.value.code == 2
    code, _out, err = env.run("config", "--retention-mode", "archive")
    assert code == 1 and "needs an archive folder" in err
    inside = env.home / "store"
    code, _out, err = env.run("config", "--retention-mode", "archive", "--archive-dir", inside)
    assert code == 1 and "outside the console's home" in err
    code, _out, err = env.run("config", "--archive-dir", "relative/folder")
    assert code == 1 and "full path" in err
    code, _out, err = env.run("config", "--archive-dir", env.tmp / "missing")
    assert code == 1 and "does not exist" in err
    assert env.audit_entries("configured") == []

    before = env.state()
    for args in (
        ("retention",),
        ("retention", "--dry-run"),
        ("config", "--retention-days", "60"),
        ("config", "--retention-mode", "delete"),
    ):
        code, _out, err = env.run(*args, user="bob")
        assert code == 1 and "only an administrator" in err, args
    assert env.state() == before


def test_a_report_waits_for_the_export_of_a_reply_written_after_it_was_ready(env: Env) -> None:
    cast = _cast(env)
    env.export()
    env.ok("config", "--retention-days", "30")
    env.day("2025-04-01")
    env.ok("reply", cast.b, "--message", "satu hal lagi")  # b's last event is now 2025-04-01
    env.ok("status", cast.c, "closed")  # c closes today and is not exported
    out = env.ok("retention", "--as-of", "2025-05-15")
    assert "2 more past the limit wait" in out and "Removed 4 reports" in out
    assert env.regnos() == {cast.b, cast.c}
    env.export()
    env.ok("retention", "--as-of", "2025-05-15")
    assert env.regnos() == set()


# -- crash safety ---------------------------------------------------------------------------------


def test_envelopes_left_by_a_run_that_died_after_its_commit_go_at_the_next_unlock(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast = _cast(env)
    env.export()
    env.remember_envelopes(cast.a)

    def die(path: Path) -> bool:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(retention, "wipe_file", die)
        code, _out, err = env.run("retention", "--as-of", "2026-03-01")
    assert code == 130 and "interrupted" in err
    assert cast.a not in env.regnos()  # committed
    with pytest.raises(AssertionError):
        env.assert_gone_from_disk(cast.a)  # but its envelopes are still on disk
    env.ok("list")  # the next unlock
    env.assert_gone_from_disk(cast.a)
    assert "Audit log intact" in env.ok("audit", "verify")


def test_a_failed_transaction_leaves_the_reports_and_no_archive(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cast(env)
    env.export()
    folder = env.tmp / "arsip"
    folder.mkdir()
    env.ok("config", "--retention-mode", "archive", "--archive-dir", folder)
    before = env.state()

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(retention.audit, "append", fail)
    code, _out, err = env.run("retention", "--as-of", "2026-06-01")
    assert code == 1 and "No space left" in err
    assert env.state() == before
    assert list(folder.iterdir()) == []


# -- archive mode ---------------------------------------------------------------------------------


def _open_archive(path: Path, identity: keytypes.RecipientIdentity) -> dict[str, bytes]:
    meta, content = payload.open_bytes(path.read_bytes(), [identity])
    assert meta == {"kind": "wbs-console-archive", "v": 1}
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:") as tar:
        members = {}
        for info in tar.getmembers():
            assert info.isfile()
            handle = tar.extractfile(info)
            assert handle is not None
            members[info.name] = handle.read()
    return members


def test_archive_mode_writes_an_archive_the_inspectorate_keys_open(env: Env) -> None:
    cast = _cast(env)
    env.export()
    other = keytypes.new_recipient_identity()  # a second inspectorate key (`recipient`)
    other_pub = env.tmp / "other.pub"
    keyfiles.write_public_key(other_pub, keyfiles.recipient_public_key(other))
    env.ok("recipient", other_pub, "--label", "Inspektur Jenderal")
    folder = env.tmp / "arsip"
    folder.mkdir()
    (folder / "already-here.txt").write_bytes(b"keep me")
    out = env.ok("config", "--retention-mode", "archive", "--archive-dir", folder)
    assert f"archive folder: {folder}" in out
    env.remember_envelopes(cast.a)
    files_a = _file_bytes(env, cast.a)

    out = env.ok("retention", "--as-of", "2025-02-16")  # the default limit: a year
    assert "Archived 0 reports" in out
    out = env.ok("retention", "--as-of", "2026-01-16")  # a, d, e and g are a year old
    assert "Archived 4 reports" in out and "Removed 4 reports" in out
    assert env.regnos() == {cast.b, cast.c}
    env.assert_gone_from_disk(cast.a)
    assert (folder / "already-here.txt").read_bytes() == b"keep me"
    archives = sorted(folder.glob("*.wbsarchive"))
    assert len(archives) == 4
    for path in archives:
        assert not REGNO.search(path.name) and path.stat().st_mode & 0o077 == 0
    assert not list(folder.glob(".*"))  # no partial file left

    identity = console_identity(env.home)
    opened = {}
    for path in archives:
        members = _open_archive(path, identity)
        assert _open_archive(path, other) == members  # the extra inspectorate key opens it too
        document = json.loads(members["report.json"])
        opened[document["regno"]] = (document, members)
    assert set(opened) == {cast.a, cast.d, cast.e, cast.g}
    document, members = opened[cast.a]
    assert document["fields"]["what"] == "RAHASIA-A pemotongan dana hibah"
    assert document["closed_day"] == "2025-01-15" and document["status"] == "closed"
    followups = [e["message"] for e in document["entries"] if e["kind"] == "followup"]
    assert followups == ["RAHASIA-A tambahan informasi"]
    replies = [r["message"] for r in document["responses"] if r["kind"] == "reply"]
    assert replies == ["RAHASIA-A balasan"]
    assert [r["actor"] for r in document["responses"]] == ["investigator", "investigator"]
    assert [n["text"] for n in document["notes"]] == ["RAHASIA-A catatan internal"]
    assert document["assignment"]["assignee"] == "investigator"
    assert document["recusals"][0]["investigator"] == "bob"
    assert document["recusals"][0]["reason"] == "kerabat terlapor"
    file_entries = [e for e in document["entries"] if e["kind"] == "file"]
    assert sorted(e["name"] for e in file_entries) == ["kuitansi.pdf", "rekaman.bin"]
    for file_entry in file_entries:
        assert members[file_entry["member"]] == files_a[file_entry["entry_id"]]
    assert RECORDING in files_a.values()
    assert opened[cast.e][0]["responses"][-1]["message"] == "RAHASIA-E balasan sesudah ditutup"
    assert opened[cast.g][0]["entries"][-1]["message"] == "RAHASIA-G informasi baru"

    # The console reads its archives back: show, and extract into a folder of the investigator's.
    path_a = next(
        p
        for p in archives
        if json.loads(_open_archive(p, identity)["report.json"])["regno"] == cast.a
    )
    out = env.ok("archive", "show", path_a)
    assert cast.a in out and "RAHASIA-A balasan" in out and "RAHASIA-A catatan internal" in out
    out_dir = env.tmp / "dibuka"
    out_dir.mkdir()
    env.ok("archive", "extract", path_a, "--out", out_dir)
    extracted = out_dir / cast.a
    assert (extracted / "rekaman.bin").read_bytes() == RECORDING
    assert (extracted / "kuitansi.pdf").read_bytes().startswith(b"%PDF-1.4 RAHASIA-A-LAMPIRAN")
    assert "RAHASIA-A tambahan informasi" in (extracted / "report.txt").read_text()
    assert json.loads((extracted / "report.json").read_text())["regno"] == cast.a
    env.ok("archive", "extract", path_a, "--out", out_dir)  # never overwrites: a second folder
    assert (out_dir / f"{cast.a} (2)" / "kuitansi.pdf").is_file()
    code, _out, err = env.run("archive", "show", path_a, user="bob")
    assert code == 1 and "only an administrator" in err
    env.ok("user", "edit", "bob", "--admin")
    code, _out, err = env.run("archive", "show", path_a, user="bob")
    assert code == 1 and "recused" in err  # the archive remembers bob's recusal
    assert "Audit log intact" in env.ok("audit", "verify")
    (entry,) = env.audit_entries("retention")[1:]
    assert json.loads(entry["detail"]) == {"mode": "archive", "reports": 4, "as_of": "2026-01-16"}
    tampered = env.tmp / "tampered.wbsarchive"
    data = bytearray(path_a.read_bytes())
    data[len(data) // 2] ^= 1
    tampered.write_bytes(bytes(data))
    gone = env.tmp / "gone"
    gone.mkdir()
    code, _out, err = env.run("archive", "extract", tampered, "--out", gone)
    assert code == 1 and "not an archive this console can open" in err
    assert list(gone.iterdir()) == []  # what was extracted before the damage is removed


def _file_bytes(env: Env, regno: str) -> dict[str, bytes]:
    out_dir = env.tmp / f"saved-{regno}"
    out_dir.mkdir()
    conn = env.db()
    try:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT entry_id FROM entries WHERE regno = ? AND kind = 'file' ORDER BY entry_id",
                (regno,),
            )
        ]
    finally:
        conn.close()
    result = {}
    for entry_id in ids:
        folder = out_dir / entry_id
        folder.mkdir()
        env.ok("save", regno, "--out", folder, "--file", entry_id)
        (saved,) = [p for p in folder.iterdir() if ".stripped." not in p.name]
        result[entry_id] = saved.read_bytes()
    return result


def test_a_report_whose_archive_cannot_be_written_stays(env: Env) -> None:
    cast = _cast(env)
    env.export()
    folder = env.tmp / "arsip"
    folder.mkdir()
    env.ok("config", "--retention-mode", "archive", "--archive-dir", folder)
    conn = env.db()
    try:
        (file_id,) = conn.execute(
            "SELECT entry_id FROM entries WHERE regno = ? AND kind = 'file' AND name = ?",
            (cast.a, "rekaman.bin"),
        ).fetchone()
    finally:
        conn.close()
    damaged = env.home / "store" / "entries" / f"{file_id}.env"
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 1
    damaged.write_bytes(bytes(data))
    code, out, err = env.run("retention", "--as-of", "2026-06-01")
    assert code == 1
    assert f"{cast.a} was not archived, so it stays on the console" in err
    assert "Archived 4 reports" in out
    assert env.regnos() == {cast.a, cast.c}
    assert len(list(folder.iterdir())) == 4  # nothing partial left of a's archive
    (entry,) = env.audit_entries("retention")
    assert json.loads(entry["detail"]) == {
        "mode": "archive",
        "reports": 4,
        "as_of": "2026-06-01",
        "not_archived": 1,
    }


def test_archive_mode_refuses_a_missing_folder_before_changing_anything(env: Env) -> None:
    _cast(env)
    env.export()
    folder = env.tmp / "usb"
    folder.mkdir()
    env.ok("config", "--retention-mode", "archive", "--archive-dir", folder)
    folder.rmdir()  # the stick is not plugged in
    before = env.state()
    code, _out, err = env.run("retention", "--as-of", "2026-06-01")
    assert code == 1 and "does not exist" in err
    assert env.state() == before
    other = env.tmp / "other-stick"
    other.mkdir()
    out = env.ok("retention", "--as-of", "2026-06-01", "--archive-dir", other)
    assert "Archived 5 reports" in out and len(list(other.glob("*.wbsarchive"))) == 5


# -- the web interface ---------------------------------------------------------------------------


@dataclass
class Browser:
    client: FlaskClient

    def token(self, path: str) -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)

    def unlock(self, user: str, passphrase: str) -> None:
        token = self.token("/unlock")
        response = self.client.post(
            "/unlock", data={"csrf_token": token, "user": user, "passphrase": passphrase}
        )
        assert response.status_code == 302, response.get_data(as_text=True)

    def post(self, path: str, data: dict[str, str], page: str = "/retention") -> Any:
        return self.client.post(path, data={"csrf_token": self.token(page), **data})


@pytest.fixture
def browser(env: Env) -> Iterator[tuple[Env, Cast, Browser, Any]]:
    cast = _cast(env)
    env.export()
    app = create_app(Home(env.home))
    client = app.test_client()
    client.set_cookie("lang", "en")
    yield env, cast, Browser(client), app
    app.extensions["wbs_console"].shutdown()


def test_web_an_administrator_previews_and_runs_retention(
    browser: tuple[Env, Cast, Browser, Any],
) -> None:
    env, cast, web, app = browser
    web.unlock("investigator", PASSPHRASE)
    # The web interface's own copy of a bundle, written today (2025-02-20).
    response = web.client.post("/export", data={"csrf_token": web.token("/export")})
    assert response.status_code == 302
    (bundle,) = (env.home / "exports").iterdir()

    stats = web.client.get("/stats").get_data(as_text=True)
    assert "365 days after a finished report&#39;s last event, then deleted." in stats
    assert "if run now, 0 reports would be removed" in stats
    page = web.client.get("/retention").get_data(as_text=True)
    assert "<script" not in page and 'name="confirm"' in page

    response = web.post("/retention/settings", {"retention_days": "12"})
    assert response.status_code == 400
    assert "Retention days must be 0 (keep forever) or between 30 and 3,650." in response.get_data(
        as_text=True
    )
    response = web.post("/retention/settings", {"retention_days": "30", "retention_mode": "delete"})
    assert response.status_code == 302
    page = web.client.get("/retention").get_data(as_text=True)
    assert "30 days after a finished report&#39;s last event, then deleted." in page
    preview = re.search(r'<p id="retention-preview">([^<]*)</p>', page)
    assert preview and "if run now, 4 reports would be removed" in preview.group(1)
    assert "on or before 2025-01-21" in preview.group(1)
    before = env.regnos()

    # CSRF, confirmation and the passphrase are all required; none of these changes anything.
    response = web.client.post("/retention/run", data={"confirm": "yes"})
    assert response.status_code == 400
    response = web.post("/retention/run", {"current_passphrase": PASSPHRASE})
    assert response.status_code == 400 and "Tick the confirmation box" in response.get_data(
        as_text=True
    )
    response = web.post(
        "/retention/run", {"confirm": "yes", "current_passphrase": "salah salah salah"}
    )
    assert response.status_code == 400
    assert env_regnos_live(app) == before

    response = web.post("/retention/run", {"confirm": "yes", "current_passphrase": PASSPHRASE})
    assert response.status_code == 302
    page = web.client.get("/retention").get_data(as_text=True)
    assert "Retention done: 4 reports removed." in page
    assert env_regnos_live(app) == {cast.b, cast.c}
    assert bundle.exists()  # written today: not past the limit

    # A month and a half later the bundle is past the limit as well, and so is b.
    env.day("2025-04-10")
    web.post("/retention/run", {"confirm": "yes", "current_passphrase": PASSPHRASE})
    assert env_regnos_live(app) == {cast.c}
    assert not bundle.exists()
    for name in ("a", "d", "e", "g", "b"):
        assert getattr(cast, name) not in web.client.get("/").get_data(as_text=True)


def env_regnos_live(app: Any) -> set[str]:
    session = app.extensions["wbs_console"].session
    return {row[0] for row in session.conn.execute("SELECT regno FROM reports")}


def test_web_retention_is_for_administrators_only(browser: tuple[Env, Cast, Browser, Any]) -> None:
    env, _cast_, web, app = browser
    web.unlock("bob", "frasa sandi milik bob")
    assert "retention" not in web.client.get("/stats").get_data(as_text=True).lower()
    assert "/retention" not in web.client.get("/").get_data(as_text=True)
    assert web.client.get("/retention").status_code == 403
    token = web.token("/stats")
    for path, data in (
        ("/retention/run", {"confirm": "yes", "current_passphrase": "frasa sandi milik bob"}),
        ("/retention/settings", {"retention_days": "0"}),
    ):
        response = web.client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403, path
    assert len(env_regnos_live(app)) == 6
    session = app.extensions["wbs_console"].session
    assert settings.retention_days(session.conn) == 365


def test_archives_are_written_on_a_stick_without_hard_links(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast = _cast(env)
    env.export()
    folder = env.tmp / "fat32"
    folder.mkdir()
    env.ok("config", "--retention-mode", "archive", "--archive-dir", folder)

    def no_links(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(archive.os, "link", no_links)
    out = env.ok("retention", "--as-of", "2026-06-01")
    assert "Archived 5 reports" in out
    assert env.regnos() == {cast.c}
    assert len(list(folder.glob("wbs-archive-*.wbsarchive"))) == 5
    assert not list(folder.glob(".*"))


def test_an_archive_folder_is_refused_in_delete_mode(env: Env) -> None:
    _cast(env)
    env.export()
    folder = env.tmp / "arsip"
    folder.mkdir()
    before = env.state()
    code, _out, err = env.run("retention", "--archive-dir", folder, "--as-of", "2026-06-01")
    assert code == 1 and "the retention mode is delete" in err
    assert env.state() == before


def test_a_follow_up_for_a_removed_report_arrives_as_a_report_of_its_own(env: Env) -> None:
    """Documented: the console keeps no list of removed register numbers (it would name them).

    A reporter can still add information on the server until the server's own retention removes
    the report (90 days after closing by default), so the console's limit should be longer; if a
    follow-up arrives anyway, the register number comes back as a new report without its text.
    """
    cast = _cast(env)
    env.export()
    env.ok("retention", "--as-of", "2026-06-01")
    assert cast.a not in env.regnos()
    env.server.add_followup(cast.a, "masih ada yang ingin saya sampaikan", day="2026-06-02")
    env.import_new()
    (shown,) = [r for r in json.loads(env.ok("list", "--json")) if r["regno"] == cast.a]
    assert shown["status"] == "received"
    assert "the report itself has not arrived yet" in env.ok("show", cast.a)


def test_a_crafted_archive_cannot_write_outside_the_folder(env: Env) -> None:
    """Archives are sealed, not signed: whoever has the inspectorate's public key can make one."""
    _cast(env)
    entry_id = "ab" * 16
    document = {
        "format": "wbs-console-report-archive",
        "version": 1,
        "regno": "../../escaped",
        "entries": [
            {
                "entry_id": entry_id,
                "kind": "file",
                "name": "../../../etc/evil\u202etxt.sh",
                "member": f"files/{entry_id}",
            }
        ],
        "responses": [],
        "notes": [],
        "recusals": [],
        "fields": {"what": "\x1b[2Jclear screen"},
    }
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in (
            ("report.json", json.dumps(document).encode()),
            (f"files/{entry_id}", b"isi"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    recipient = keyfiles.read_public_key(env.home / "inspectorate.pub", "recipient")
    crafted = env.tmp / "crafted.wbsarchive"
    crafted.write_bytes(
        payload.seal_bytes(
            {"kind": "wbs-console-archive", "v": 1}, stream.getvalue(), [recipient.as_recipient()]
        )
    )
    out_dir = env.tmp / "out"
    out_dir.mkdir()
    out = env.ok("archive", "extract", crafted, "--out", out_dir)
    assert "\x1b" not in out and "\u202e" not in out
    (folder,) = out_dir.iterdir()
    assert folder.parent == out_dir and "/" not in folder.name
    (evil,) = [p for p in folder.iterdir() if p.name not in ("report.json", "report.txt")]
    assert evil.parent == folder and evil.read_bytes() == b"isi" and "\u202e" not in evil.name
    assert "\x1b" not in (folder / "report.txt").read_text()
    assert not (env.tmp / "escaped").exists()

    # A tar member with any other name (a path, a link) is refused and nothing stays behind.
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tar:
        data = json.dumps(document).encode()
        info = tarfile.TarInfo("report.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("../../outside")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"isi"))
    crafted.write_bytes(
        payload.seal_bytes(
            {"kind": "wbs-console-archive", "v": 1}, stream.getvalue(), [recipient.as_recipient()]
        )
    )
    empty = env.tmp / "empty"
    empty.mkdir()
    code, _out, err = env.run("archive", "extract", crafted, "--out", empty)
    assert code == 1 and "something other than its own members" in err
    assert list(empty.iterdir()) == []


def test_a_report_removed_by_retention_never_comes_back_from_a_resent_bundle(env: Env) -> None:
    """Retention removed a closed report; before the server got the acknowledgements, the
    operator ran `dropbox export --all`, which sends its entries again. They are acknowledged
    again, with the hash of what the server holds, and the report stays removed."""
    cast = _cast(env)
    env.export()
    env.ok("retention", "--as-of", "2026-06-01")
    assert cast.a not in env.regnos()
    entries_of_a = {e.entry_id for e in env.server.entries if e.regno == cast.a}
    before = len(env.regnos())
    path = env.tmp / "server-again.bundle"
    env.server.export(path, [env.home / "inspectorate.pub"], everything=True)
    env.ok("import", path, "--server-key", env.server_pub)
    assert cast.a not in env.regnos()
    assert len(env.regnos()) == before
    assert all(r["regno"] != cast.a for r in json.loads(env.ok("list", "--json")))
    acks = _manifest(env.export(), "console-to-server", env.tmp)["acks"]
    acked = {ack["entry_id"]: ack["sha256"] for ack in acks}
    assert entries_of_a <= set(acked)
    resent = _manifest(path, "server-to-console", env.tmp)
    item_hash = {item["name"]: item["sha256"] for item in resent["items"]}
    server_hash = {e["entry_id"]: item_hash[e["item"]] for e in resent["entries"]}
    for entry_id in entries_of_a:
        assert acked[entry_id] == server_hash[entry_id]
    # Acknowledged once: a later export does not send them again.
    later = _manifest(env.export(), "console-to-server", env.tmp)["acks"]
    assert not entries_of_a & {ack["entry_id"] for ack in later}


def _manifest(path: Path, direction: Any, scratch: Path) -> dict[str, Any]:
    from keys import bundle as bundle_format

    staging = scratch / f"read-{path.stem}"
    staging.mkdir(exist_ok=True)
    verified = bundle_format.read_bundle(path, direction, lambda _signer: True, staging)
    return dict(verified.manifest)

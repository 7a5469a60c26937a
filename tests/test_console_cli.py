"""The console through its command line, in process (`main([...])`), on fabricated real bundles."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from journalist_console import dates, schema
from journalist_console.cli import main
from journalist_console.home import Home, HomeLock
from journalist_console.responses import MAX_REPLY_CHARS
from journalist_console.vault import open_vault
from keys import keyfiles
from keys.bundle import write_bundle
from keys.keyfiles import DEFAULT_KDF
from keys.records import STATUSES
from support.bundles import FakeServer, open_response, read_console_bundle
from support.instances import PASSPHRASE, console_identity, init_console, write_passphrase_file


@dataclass
class Env:
    tmp: Path
    home: Path
    pp: Path
    server: FakeServer
    server_pub: Path
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str | Path) -> tuple[int, str, str]:
        """Run one command with --home/--passphrase-file; returns (exit code, stdout, stderr)."""
        self.capsys.readouterr()
        code = main([*map(str, args), "--home", str(self.home), "--passphrase-file", str(self.pp)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def bundle(self, name: str = "b.bundle", **options: Any) -> Path:
        path = self.tmp / name
        self.server.export(path, [self.home / "inspectorate.pub"], **options)
        return path

    def imported(self, **options: Any) -> Path:
        path = self.bundle(f"b{self.server.sequence + 1}.bundle", **options)
        code, out, err = self.run("import", path, "--server-key", self.server_pub)
        assert code == 0, err
        return path

    def reports(self) -> list[dict[str, Any]]:
        code, out, err = self.run("list", "--json")
        assert code == 0, err
        return list(json.loads(out))

    def db(self) -> Any:
        vault = open_vault(Home(self.home), PASSPHRASE.encode())
        return schema.connect(Home(self.home).database, vault.db_key)

    def state(self) -> dict[str, Any]:
        """Everything an import could change: the database's rows and the store's files."""
        conn = self.db()
        try:
            tables = {
                name: [tuple(row) for row in conn.execute(f"SELECT * FROM {name}")]  # noqa: S608
                for name in ("settings", "imports", "sources", "reports", "entries", "audit")
            }
        finally:
            conn.close()
        store = sorted(p.name for p in (self.home / "store").rglob("*") if p.is_file())
        return {"tables": tables, "store": store}


@pytest.fixture
def env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Env:
    home = tmp_path / "home"
    init_console(home)
    server = FakeServer()
    return Env(
        tmp=tmp_path,
        home=home,
        pp=write_passphrase_file(tmp_path / "passphrase"),
        server=server,
        server_pub=server.write_verify_key(tmp_path / "server.pub"),
        capsys=capsys,
    )


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"tEXt", b"Author\x00Budi Santoso")
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


# -- init and unlock --------------------------------------------------------------------------


def test_init_writes_public_keys_prints_fingerprints_and_unlocks_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "console"
    pp = write_passphrase_file(tmp_path / "pp")
    assert main(["init", "--home", str(home), "--passphrase-file", str(pp)]) == 0
    out = capsys.readouterr().out
    recipient = keyfiles.read_public_key(home / "inspectorate.pub", "recipient")
    verify = keyfiles.read_public_key(home / "console.pub", "verify")
    assert recipient.fingerprint in out and verify.fingerprint in out
    box = json.loads((home / "vault" / "users" / "investigator.box").read_text())
    assert box["key"]["kdf"]["memory_cost_kib"] == DEFAULT_KDF.memory_cost_kib  # the real cost
    assert b"SQLite format" not in (home / "console.db").read_bytes()[:16]  # encrypted
    started = time.monotonic()
    vault = open_vault(Home(home), PASSPHRASE.encode())
    assert time.monotonic() - started < 1.0  # one argon2id run
    assert keyfiles.recipient_public_key(vault.identity) == recipient
    assert (home / "vault" / "users" / "investigator.box").stat().st_mode & 0o077 == 0


def test_init_refuses_an_existing_console_and_a_short_passphrase(env: Env) -> None:
    code, _out, err = env.run("init")
    assert code == 1 and "already holds a console" in err
    short = write_passphrase_file(env.tmp / "short", "pendek")
    env.capsys.readouterr()
    code = main(["init", "--home", str(env.tmp / "new"), "--passphrase-file", str(short)])
    assert code == 1 and "too short" in env.capsys.readouterr().err
    assert not (env.tmp / "new" / "console.json").exists()


def test_wrong_passphrase_is_one_clear_line(env: Env) -> None:
    env.pp = write_passphrase_file(env.tmp / "wrong", "this is not the passphrase")
    code, out, err = env.run("list")
    assert code == 1
    assert err == "error: wrong passphrase\n"
    assert out == ""


def test_an_unexpected_error_is_one_line_that_says_where(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here one planted in the account check every unlock runs) gives exit 70 and one
    line naming the error and the file and line it came from: what a bug report needs, and no
    traceback on the investigator's screen."""
    from journalist_console import accounts

    def planted(*_: object) -> None:
        b"\xa8".decode("utf-8")

    monkeypatch.setattr(accounts, "wipe_removed_boxes", planted)
    code, out, err = env.run("list")
    assert code == 70
    assert "Traceback" not in out + err and err.count("\n") == 1
    # The innermost frame in the console's own code: here, the line that called the planted bug.
    assert "unexpected UnicodeDecodeError (journalist_console/session.py:" in err


def test_missing_home_and_missing_passphrase_file_are_clear(env: Env) -> None:
    env.capsys.readouterr()
    assert main(["list", "--home", str(env.tmp / "nowhere"), "--passphrase-file", str(env.pp)]) == 1
    assert "is not a console home" in env.capsys.readouterr().err
    assert main(["list", "--home", str(env.home), "--passphrase-file", str(env.tmp / "x")]) == 1
    err = env.capsys.readouterr().err
    assert err.startswith("error: cannot read the passphrase file") and err.count("\n") == 1


def test_second_instance_is_refused(env: Env) -> None:
    with HomeLock(Home(env.home)):
        code, _out, err = env.run("list")
    assert code == 1
    assert "another journalist-console is already using" in err and err.count("\n") == 1
    assert env.run("list")[0] == 0  # released


# -- import -----------------------------------------------------------------------------------


def test_first_import_needs_confirmation_when_not_interactive(env: Env) -> None:
    env.server.add_report()
    bundle = env.bundle()
    before = env.state()
    code, _out, err = env.run("import", bundle)
    assert code == 1
    assert "must be confirmed" in err and env.server.verify_key.fingerprint in err
    assert env.state() == before


def test_first_import_pins_the_key_given_with_server_key(env: Env) -> None:
    regno = env.server.add_report()
    code, out, err = env.run("import", env.bundle(), "--server-key", env.server_pub)
    assert code == 0, err
    assert f"Pinned the server key {env.server.verify_key.fingerprint}" in out
    assert "1 new reports, 1 new entries" in out
    assert [r["regno"] for r in env.reports()] == [regno]
    # From now on the pinned key is trusted without --server-key.
    env.server.add_report()
    code, out, err = env.run("import", env.bundle("b2.bundle"))
    assert code == 0, err
    assert len(env.reports()) == 2


def test_first_import_confirmed_interactively(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.server.add_report()
    bundle = env.bundle()

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    before = env.state()
    code, _out, err = env.run("import", bundle)
    assert code == 1 and "not confirmed" in err
    assert env.state() == before
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    code, out, err = env.run("import", bundle)
    assert code == 0, err
    assert env.server.verify_key.fingerprint in err + out
    assert len(env.reports()) == 1


def test_wrong_server_key_is_refused(env: Env) -> None:
    env.server.add_report()
    bundle = env.bundle()
    other = FakeServer().write_verify_key(env.tmp / "other.pub")
    before = env.state()
    code, _out, err = env.run("import", bundle, "--server-key", other)
    assert code == 1 and "not by the key given with --server-key" in err
    assert env.state() == before
    # After pinning, a bundle signed by another server key is refused, with or without its key.
    env.imported()
    impostor = FakeServer(instance=env.server.instance)
    impostor.add_report()
    forged = env.tmp / "forged.bundle"
    impostor.export(forged, [env.home / "inspectorate.pub"])
    impostor_pub = impostor.write_verify_key(env.tmp / "impostor.pub")
    before = env.state()
    code, _out, err = env.run("import", forged)
    assert code == 1 and "not by the pinned server key" in err
    code, _out, err = env.run("import", forged, "--server-key", impostor_pub)
    assert code == 1 and "is not the pinned one" in err
    assert env.state() == before


def test_reimporting_a_bundle_changes_nothing(env: Env) -> None:
    env.server.add_report(files=[("a.txt", "text/plain", b"abc")])
    bundle = env.imported()
    before = env.state()
    code, out, _err = env.run("import", bundle)
    assert code == 0
    assert "imported before; nothing changed" in out
    assert env.state() == before


def test_entries_already_held_are_not_stored_twice(env: Env) -> None:
    env.server.add_report(files=[("a.txt", "text/plain", b"abc")])
    env.imported()
    store_before = env.state()["store"]
    code, out, err = env.run("import", env.bundle("all.bundle", everything=True))
    assert code == 0, err
    assert "0 new entries, 2 already held" in out
    assert env.state()["store"] == store_before


def test_a_gap_in_server_bundles_is_reported(env: Env) -> None:
    env.server.add_report()
    env.imported()
    env.server.add_report()
    env.bundle("lost.bundle")  # never imported
    env.server.add_report()
    code, out, _err = env.run("import", env.bundle("b3.bundle"))
    assert code == 0
    assert "bundle(s) 2 from this server were never imported" in out


@pytest.mark.parametrize("where", ["manifest", "signature", "item", "truncate", "append"])
def test_a_damaged_bundle_is_refused_and_nothing_changes(env: Env, where: str) -> None:
    env.server.add_report(files=[("bukti.txt", "text/plain", b"x" * 5000)])
    env.imported()
    env.server.add_followup(next(iter(env.server.reports)), "tambahan")
    bundle = env.bundle("next.bundle")
    data = bytearray(bundle.read_bytes())
    (manifest_len,) = struct.unpack(">I", data[9:13])
    if where == "manifest":
        data[13 + manifest_len // 2] ^= 0x01
    elif where == "signature":
        data[13 + manifest_len + 10] ^= 0x01
    elif where == "item":
        data[-20] ^= 0x01
    elif where == "truncate":
        del data[-100:]
    else:
        data += b"extra"
    bundle.write_bytes(bytes(data))
    before = env.state()
    code, out, err = env.run("import", bundle)
    assert code == 1
    assert err.startswith("error: bundle refused") and err.count("\n") == 1
    assert "Traceback" not in out + err
    assert env.state() == before
    assert list((env.home / "staging").iterdir()) == []


def test_wrong_direction_not_a_bundle_and_missing_file_are_refused(env: Env) -> None:
    env.server.add_report()
    env.imported()
    env.run("export", "--out", env.tmp / "out.bundle")
    before = env.state()
    code, _out, err = env.run("import", env.tmp / "out.bundle")  # the console's own bundle
    assert code == 1 and "not by the pinned server key" in err
    backwards = env.tmp / "backwards.bundle"
    body = {"instance": env.server.instance, "sequence": 9, "created_day": "2025-01-01"}
    write_bundle(backwards, "console-to-server", body, [], env.server.signing_key)
    code, _out, err = env.run("import", backwards)
    assert code == 1 and "this side expects 'server-to-console'" in err
    (env.tmp / "junk").write_bytes(b"PK\x03\x04 not a bundle")
    code, _out, err = env.run("import", env.tmp / "junk")
    assert code == 1 and "not a bundle file" in err
    code, _out, err = env.run("import", env.tmp / "missing.bundle")
    assert code == 1 and "cannot read" in err
    assert env.state() == before


def test_a_bundle_from_another_server_instance_is_refused(env: Env) -> None:
    env.server.add_report()
    env.imported()
    other = FakeServer(signing_key=env.server.signing_key)  # same key, another instance
    other.add_report()
    bundle = env.tmp / "other.bundle"
    other.export(bundle, [env.home / "inspectorate.pub"])
    before = env.state()
    code, _out, err = env.run("import", bundle)
    assert code == 1 and "another server instance" in err
    assert env.state() == before


def test_a_failure_in_the_middle_of_an_import_leaves_the_console_as_before(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.server.add_report()
    env.imported()
    regno = next(iter(env.server.reports))
    env.server.add_followup(regno, "lagi", files=[("x.txt", "text/plain", b"1"), ("y", "", b"2")])
    bundle = env.bundle("next.bundle")
    before = env.state()
    real_replace = os.replace
    calls = []

    def failing_replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    code, _out, err = env.run("import", bundle)
    assert code == 1 and "nothing changed" in err and "No space left" in err
    monkeypatch.undo()
    assert env.state() == before
    code, _out, err = env.run("import", bundle)  # and the same bundle imports fine afterwards
    assert code == 0, err


def test_leftovers_of_a_killed_import_are_removed_at_start(env: Env) -> None:
    env.server.add_report()
    env.imported()
    before = env.state()
    orphan = env.home / "store" / "entries" / ("ab" * 16 + ".env")
    orphan.write_bytes(b"an envelope whose row was never committed")
    (env.home / "staging" / "deadbeef").mkdir()
    (env.home / "staging" / "deadbeef" / "item").write_bytes(b"x")
    assert env.run("list")[0] == 0
    assert not orphan.exists()
    assert list((env.home / "staging").iterdir()) == []
    assert env.state()["store"] == before["store"]


def test_an_envelope_that_does_not_decrypt_is_shown_as_unreadable(env: Env) -> None:
    regno = env.server.add_report(files=[("a.txt", "text/plain", b"abc")])
    report_entry = env.server.entries[0].entry_id
    bundle = env.bundle(undecryptable=[report_entry])
    code, out, err = env.run("import", bundle, "--server-key", env.server_pub)
    assert code == 0, err
    assert f"warning: {regno} holds an envelope this console cannot decrypt" in out
    [row] = env.reports()
    assert row["category"] is None and row["readable"] is False
    code, out, err = env.run("show", regno)
    assert code == 0, err
    assert "the report is unreadable" in out
    assert "a.txt" in out  # the readable file is still listed


# -- working a report ---------------------------------------------------------------------------


def test_list_shows_due_days_left_overdue_and_unread(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = env.server.add_report(day="2025-01-31", category="bribery")
    fresh = env.server.add_report(day="2025-02-25")
    env.imported()
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 3, 4))
    rows = {row["regno"]: row for row in env.reports()}
    assert rows[late]["due_day"] == "2025-03-02"
    assert rows[late]["days_left"] == -2 and rows[late]["overdue"] is True
    assert rows[fresh]["due_day"] == "2025-03-27" and rows[fresh]["days_left"] == 23
    assert rows[late]["unread"] == 1 and rows[late]["category"] == "bribery"
    assert [row["regno"] for row in env.reports()] == [late, fresh]  # most urgent first
    code, out, _err = env.run("list")
    assert "OVERDUE 2d" in out and "23d left" in out
    code, out, _err = env.run("list", "--json", "--category", "bribery")
    assert [row["regno"] for row in json.loads(out)] == [late]
    code, _out, err = env.run("config", "--due-days", "60")
    assert code == 0, err
    rows = {row["regno"]: row for row in env.reports()}
    assert rows[late]["due_day"] == "2025-04-01" and rows[late]["overdue"] is False


def test_show_decrypts_everything_and_marks_the_report_read(env: Env) -> None:
    regno = env.server.add_report(
        pseudonym="Mawar",
        contact="mawar@example.org",
        what="Pengadaan\x1b[2J laptop",
        files=[("daftar.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 3000)],
    )
    env.server.add_followup(regno, "Ini bukti tambahan.", files=[("foto.png", "image/png", _png())])
    env.imported()
    code, out, err = env.run("show", regno)
    assert code == 0, err
    for expected in (
        regno,
        "Pengadaan\\u001b[2J laptop",  # terminal escapes made visible, never executed
        "Kepala bagian keuangan",
        "Mawar",
        "mawar@example.org",
        "daftar.pdf",
        "3009 bytes",
        "foto.png",
        "Ini bukti tambahan.",
        "received (Received)",
        "[new]",
    ):
        assert expected in out, expected
    assert "\x1b" not in out
    assert env.reports()[0]["unread"] == 0
    code, out, _err = env.run("show", regno)
    assert "[new]" not in out


def test_unknown_and_malformed_register_numbers(env: Env) -> None:
    env.server.add_report()
    env.imported()
    from keys.records import new_regno

    other = new_regno()
    for command in (
        ("show", other),
        ("reply", other, "--message", "hi"),
        ("status", other, "closed"),
        ("note", other, "x"),
        ("save", other, "--out", env.tmp),
    ):
        code, _out, err = env.run(*command)
        assert code == 1 and f"no report {other}" in err, command
    code, _out, err = env.run("show", "WBS-XXXX")
    assert code == 1 and "not a valid register number" in err


def test_reply_status_and_note_with_bad_input_change_nothing(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    before = env.state()
    cases = [
        (("reply", regno, "--message", ""), "the reply is empty"),
        (("reply", regno, "--message", "  \n\t "), "the reply is empty"),
        (("reply", regno, "--message", "x" * (MAX_REPLY_CHARS + 1)), "the limit is 10000"),
        (("status", regno, "archived"), "unknown status 'archived'; valid: " + ", ".join(STATUSES)),
        (("note", regno, "   "), "the note is empty"),
        (("status", regno, "closed", "--note", "n" * 2001), "the limit is 2000"),
    ]
    for args, message in cases:
        code, out, err = env.run(*args)
        assert code == 1, args
        assert message in err, (args, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert env.state() == before
    code, _out, err = env.run("reply", regno, "--message", "x" * MAX_REPLY_CHARS)
    assert code == 0, err


def test_status_changes_record_first_response_and_close(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    regno = env.server.add_report(day="2025-01-10")
    env.imported()
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 1, 14))
    assert env.run("show", regno)[0] == 0
    assert env.run("status", regno, "verifying")[0] == 0
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 1, 30))
    code, out, err = env.run("status", regno, "closed", "--note", "Terbukti, sudah ditindak.")
    assert code == 0, err
    assert "closed (Closed)" in out
    [row] = env.reports()
    assert row["status"] == "closed" and row["overdue"] is False
    code, out, _err = env.run("stats", "--json")
    stats = json.loads(out)
    assert stats["by_status"] == {"closed": 1}
    assert stats["median_days_to_acknowledge"] == 4
    # The bare status change answered nothing; the note with "closed" does once exported.
    assert stats["median_days_to_first_response"] is None
    assert stats["median_days_to_close"] == 20
    code, out, _err = env.run("show", regno)
    assert "Terbukti, sudah ditindak." in out and "waiting for export" in out
    assert "First answer written 2025-01-30, exported -" in out
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 2, 1))
    assert env.run("export", "--out", env.tmp / "out.bundle")[0] == 0
    stats = json.loads(env.run("stats", "--json")[1])
    assert stats["median_days_to_first_response"] == 22  # exported on day 22


def test_stats_counts_overdue_and_categories(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.server.add_report(day="2025-01-01", category="bribery")
    env.server.add_report(day="2025-01-01", category="bribery")
    env.server.add_report(day="2025-03-01", category="extortion")
    env.imported()
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 3, 5))
    code, out, err = env.run("stats")
    assert code == 0, err
    assert "Reports: 3   unanswered: 3 (from the warning day: 0, overdue: 2)" in out
    assert "Bribery / gratification" in out and "Extortion" in out
    assert "Median days to close:            n/a" in out


def test_save_writes_safe_names_never_overwrites_and_safe_copies(env: Env) -> None:
    regno = env.server.add_report(
        files=[
            ("../../.bashrc", "text/plain", b"echo hi"),
            ("foto.png", "image/png", _png()),
            ("foto.png", "image/png", _png()),
        ]
    )
    env.imported()
    out_dir = env.tmp / "saved"
    out_dir.mkdir()
    (out_dir / "bashrc").write_text("mine")
    code, out, err = env.run("save", regno, "--out", out_dir)
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "bashrc",
        "bashrc (2)",
        "bashrc (2).safe.txt",
        "foto (2).png",
        "foto (2).safe.png",
        "foto.png",
        "foto.safe.png",
    ]
    assert (out_dir / "bashrc").read_text() == "mine"
    assert (out_dir / "bashrc (2)").read_bytes() == b"echo hi"
    assert (out_dir / "bashrc (2).safe.txt").read_bytes() == b"echo hi"
    assert (out_dir / "foto.png").read_bytes() == _png()
    assert b"Budi" not in (out_dir / "foto.safe.png").read_bytes()
    assert "safe copy:" in out
    code, _out, _err = env.run("audit", "show")
    assert "files_saved" in env.run("audit", "show")[1]


def test_save_bad_input(env: Env) -> None:
    without_files = env.server.add_report()
    with_file = env.server.add_report(files=[("a.txt", "text/plain", b"a")])
    env.imported()
    code, _out, err = env.run("save", without_files, "--out", env.tmp)
    assert code == 1 and "has no files" in err
    code, _out, err = env.run("save", with_file, "--out", env.tmp / "missing")
    assert code == 1 and "is not an existing directory" in err
    code, _out, err = env.run("save", with_file, "--out", env.tmp, "--file", "0" * 32)
    assert code == 1 and "no such file" in err


def test_a_missing_envelope_is_reported_and_nothing_changes(env: Env) -> None:
    regno = env.server.add_report(files=[("a.txt", "text/plain", b"abc")])
    env.imported()
    file_entry = env.server.entries[1].entry_id
    (env.home / "store" / "entries" / f"{file_entry}.env").unlink()
    out_dir = env.tmp / "o"
    out_dir.mkdir()
    code, out, _err = env.run("save", regno, "--out", out_dir)
    assert code == 1 and "missing from the console's store" in out
    assert list(out_dir.iterdir()) == []


# -- export -----------------------------------------------------------------------------------


def test_export_before_any_import_is_refused(env: Env) -> None:
    code, _out, err = env.run("export", "--out", env.tmp / "x.bundle")
    assert code == 1 and "nothing was ever imported" in err
    assert not (env.tmp / "x.bundle").exists()


def test_export_writes_a_bundle_the_server_and_the_reporter_can_read(env: Env) -> None:
    regno = env.server.add_report(files=[("a.txt", "text/plain", b"abc")])
    source = env.server.reports[regno].source
    env.imported()
    assert env.run("reply", regno, "--message", "Mohon kirim dokumen pendukung.")[0] == 0
    assert env.run("status", regno, "needs_info", "--note", "Lihat balasan.")[0] == 0
    assert env.run("note", regno, "rahasia internal")[0] == 0
    code, out, err = env.run("export", "--out", env.tmp / "c1.bundle")
    assert code == 0, err
    assert "bundle 1" in out and "2 responses, 2 acknowledgements" in out
    verified = read_console_bundle(env.tmp / "c1.bundle", env.home / "console.pub", env.tmp / "s1")
    manifest = verified.manifest
    assert manifest["instance"] == env.server.instance and manifest["sequence"] == 1
    assert sorted(ack["entry_id"] for ack in manifest["acks"]) == sorted(
        e.entry_id for e in env.server.entries
    )
    kinds = [r["kind"] for r in manifest["responses"]]
    assert kinds == ["reply", "status"]
    assert all(r["regno"] == regno and r["closes_report"] is False for r in manifest["responses"])
    opened = [
        open_response(verified.items[r["item"]], source.private_key) for r in manifest["responses"]
    ]
    assert opened[0] == (
        {"kind": "reply"},
        {"v": 1, "message": "Mohon kirim dokumen pendukung.", "author": "Inspektorat"},
    )
    assert opened[1] == (
        {"kind": "status"},
        {"v": 1, "status": "needs_info", "note": "Lihat balasan."},
    )
    # The inspectorate's own key reads them too (the console's archive).
    identity = console_identity(env.home)
    assert open_response(verified.items[manifest["responses"][0]["item"]], identity)[0] == {
        "kind": "reply"
    }
    assert b"rahasia" not in (env.tmp / "c1.bundle").read_bytes()

    # Next export: nothing new, sequence 2, no acks; a closing status sets closes_report.
    code, out, _err = env.run("export", "--out", env.tmp / "c2.bundle")
    assert "Nothing new to export; wrote an empty bundle 2" in out
    empty = read_console_bundle(env.tmp / "c2.bundle", env.home / "console.pub", env.tmp / "s2")
    assert empty.manifest["sequence"] == 2
    assert empty.manifest["responses"] == [] and empty.manifest["acks"] == []
    assert env.run("status", regno, "rejected")[0] == 0
    env.run("export", "--out", env.tmp / "c3.bundle")
    third = read_console_bundle(env.tmp / "c3.bundle", env.home / "console.pub", env.tmp / "s3")
    assert third.manifest["sequence"] == 3
    assert [r["closes_report"] for r in third.manifest["responses"]] == [True]
    code, out, _err = env.run("show", regno)
    assert "waiting for export" not in out


def test_a_failed_export_marks_nothing_exported(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    env.run("reply", regno, "--message", "Halo")
    code, _out, err = env.run("export", "--out", env.tmp / "no" / "such" / "dir.bundle")
    assert code == 1 and "is not a directory" in err
    (env.tmp / "exists.bundle").write_text("keep me")
    code, _out, err = env.run("export", "--out", env.tmp / "exists.bundle")
    assert code == 1 and "already exists" in err
    assert (env.tmp / "exists.bundle").read_text() == "keep me"
    code, out, _err = env.run("export", "--out", env.tmp / "ok.bundle")
    assert "Wrote bundle 1" in out and "1 responses" in out


def test_a_write_error_during_export_rolls_back(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    regno = env.server.add_report()
    env.imported()
    env.run("reply", regno, "--message", "Halo")

    def full_disk(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("keys.bundle.write_bundle", full_disk)
    code, _out, err = env.run("export", "--out", env.tmp / "full.bundle")
    assert code == 1 and "No space left on device" in err
    monkeypatch.undo()
    code, out, _err = env.run("export", "--out", env.tmp / "ok.bundle")
    assert "Wrote bundle 1" in out and "1 responses, 1 acknowledgements" in out


# -- audit ------------------------------------------------------------------------------------


def _tamper(env: Env, sql: str) -> None:
    conn = env.db()
    try:
        conn.execute(sql)
    finally:
        conn.close()


def test_audit_verify_detects_a_modified_entry(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    env.run("show", regno)
    env.run("reply", regno, "--message", "Halo")
    env.run("note", regno, "catatan")
    code, out, err = env.run("audit", "verify")
    assert code == 0, err
    assert "Audit log intact: 5 entries" in out
    _tamper(env, "UPDATE audit SET regno = NULL WHERE action = 'viewed'")
    code, _out, err = env.run("audit", "verify")
    assert code == 1 and "entry 3 was modified" in err


def test_audit_verify_detects_a_removed_entry_in_the_middle_and_at_the_end(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    env.run("show", regno)
    env.run("reply", regno, "--message", "Halo")
    _tamper(env, "DELETE FROM audit WHERE seq = 2")
    code, _out, err = env.run("audit", "verify")
    assert code == 1 and "entry 2 is missing" in err


def test_audit_verify_detects_the_newest_entry_removed(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    env.run("reply", regno, "--message", "Halo")
    _tamper(env, "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)")
    code, _out, err = env.run("audit", "verify")
    assert code == 1 and "the log ends at entry 2 but 3 were written" in err


def test_serve_refuses_a_non_loopback_address(env: Env) -> None:
    code, _out, err = env.run("serve", "--host", "0.0.0.0")  # noqa: S104
    assert code == 1 and "only listens on 127.0.0.1" in err


def test_passphrase_change_keeps_everything_readable(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    new = write_passphrase_file(env.tmp / "new", "teh manis di sore hari")
    short = write_passphrase_file(env.tmp / "short", "pendek")
    code, _out, err = env.run("passphrase", "--new-passphrase-file", short)
    assert code == 1 and "too short" in err
    code, out, err = env.run("passphrase", "--new-passphrase-file", new)
    assert code == 0 and "Passphrase changed." in out, err
    code, _out, err = env.run("list")
    assert code == 1 and err == "error: wrong passphrase\n"
    env.pp = new
    code, out, err = env.run("show", regno)
    assert code == 0 and "Dana hibah" in out, err
    assert "passphrase_changed" in env.run("audit", "show")[1]


def test_extra_inspectorate_recipient_can_read_responses(env: Env) -> None:
    regno = env.server.add_report()
    env.imported()
    backup_home = env.tmp / "backup"
    init_console(backup_home)
    code, out, err = env.run("recipient", backup_home / "inspectorate.pub", "--label", "cadangan")
    assert code == 0, err
    env.run("reply", regno, "--message", "Untuk arsip cadangan juga.")
    env.run("export", "--out", env.tmp / "c.bundle")
    verified = read_console_bundle(env.tmp / "c.bundle", env.home / "console.pub", env.tmp / "s")
    item = verified.items[verified.manifest["responses"][0]["item"]]
    meta, document = open_response(item, console_identity(backup_home))
    assert document["message"] == "Untuk arsip cadangan juga."
    code, _out, err = env.run("recipient", env.home / "console.pub")
    assert code == 1 and "wrong key type" in err


def test_config_shows_and_changes_settings(env: Env) -> None:
    code, out, err = env.run("config", "--author", "Inspektorat Jenderal")
    assert code == 0, err
    assert "reply author name: Inspektorat Jenderal" in out
    assert "(none pinned yet)" in out
    code, _out, err = env.run("config", "--author", "x" * 61)
    assert code == 1 and "author name" in err

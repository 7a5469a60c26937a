"""Investigators' own accounts on one console: unlocking, administration, assignment,
recusal and attribution, through the command line (in process) and the web interface."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from journalist_console import dates, responses, schema, vault
from journalist_console.accounts import is_admin
from journalist_console.cli import main
from journalist_console.home import Home
from journalist_console.session import Session
from journalist_console.vault import open_vault
from journalist_console.web import create_app
from support.bundles import FakeServer, open_response, read_console_bundle
from support.instances import BOX_KDF, PASSPHRASE, init_console, write_passphrase_file

PASSPHRASES = {
    "investigator": PASSPHRASE,
    "budi": "nasi goreng kambing pedas",
    "citra": "sate padang di malam minggu",
    "dewi": "es cendol durian runtuh",
}


@pytest.fixture(autouse=True)
def _fast_and_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Boxes written after init use the cheap KDF too (the real cost is tested elsewhere).
    monkeypatch.setattr(vault, "NEW_BOX_KDF", BOX_KDF)
    monkeypatch.setattr(dates, "today", lambda: dt.date(2025, 3, 10))


@dataclass
class Team:
    tmp: Path
    home: Path
    server: FakeServer
    server_pub: Path
    capsys: pytest.CaptureFixture[str]
    files: dict[str, Path] = field(default_factory=dict)

    def pp(self, user: str, passphrase: str | None = None) -> Path:
        text = PASSPHRASES.get(user, PASSPHRASE) if passphrase is None else passphrase
        path = self.tmp / f"pp-{user}-{abs(hash(text))}"
        return write_passphrase_file(path, text)

    def run(
        self, user: str | None, *args: str | Path, passphrase: str | None = None
    ) -> tuple[int, str, str]:
        """One command as `user` (None: without --user) with that user's (or the given) phrase."""
        self.capsys.readouterr()
        pp = self.pp(user or "investigator", passphrase)
        argv = [*map(str, args), "--home", str(self.home), "--passphrase-file", str(pp)]
        if user is not None:
            argv += ["--user", user]
        code = main(argv)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, user: str | None, *args: str | Path) -> str:
        code, out, err = self.run(user, *args)
        assert code == 0, (args, err)
        return out

    def add(self, name: str, *options: str, by: str = "investigator") -> None:
        self.ok(by, "user", "add", name, "--new-passphrase-file", self.pp(name), *options)

    def imported(self) -> None:
        bundle = self.tmp / f"b{self.server.sequence + 1}.bundle"
        self.server.export(bundle, [self.home / "inspectorate.pub"])
        self.ok("investigator", "import", bundle, "--server-key", self.server_pub)

    def audit(self) -> list[dict[str, Any]]:
        conn = self.db()
        try:
            rows = conn.execute("SELECT * FROM audit ORDER BY seq").fetchall()
            return [dict(row) for row in rows]
        finally:
            conn.close()

    def db(self) -> Any:
        vault = open_vault(Home(self.home), PASSPHRASE.encode(), "investigator")
        return schema.connect(Home(self.home).database, vault.db_key)


@pytest.fixture
def team(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Team:
    console_home = tmp_path / "home"
    init_console(console_home)
    server = FakeServer()
    return Team(
        tmp=tmp_path,
        home=console_home,
        server=server,
        server_pub=server.write_verify_key(tmp_path / "server.pub"),
        capsys=capsys,
    )


def _box(team: Team, name: str) -> Path:
    return team.home / "vault" / "users" / f"{name}.box"


# -- accounts and unlocking ------------------------------------------------------------------------


def test_the_first_investigator_is_the_administrator_and_needs_no_user_option(team: Team) -> None:
    out = team.ok(None, "user", "list")
    assert re.search(r"^investigator\s+admin\s+\(console author\)", out, re.M), out
    listed = json.loads(team.ok(None, "user", "list", "--json"))
    assert [(u["name"], u["role"]) for u in listed] == [("investigator", "admin")]
    assert team.audit()[0]["actor"] == "investigator"  # init


def test_init_accepts_another_first_user_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    console_home = tmp_path / "named"
    pp = write_passphrase_file(tmp_path / "pp")
    assert (
        main(
            ["init", "--home", str(console_home), "--passphrase-file", str(pp), "--user", "kepala"]
        )
        == 0
    )
    assert "first investigator and administrator: kepala" in capsys.readouterr().out
    assert (console_home / "vault" / "users" / "kepala.box").is_file()
    assert not (console_home / "vault" / "users" / "investigator.box").exists()
    # The only investigator is the default one: no --user needed.
    assert main(["user", "list", "--home", str(console_home), "--passphrase-file", str(pp)]) == 0
    assert re.search(r"^kepala\s+admin", capsys.readouterr().out, re.M)
    code = main(
        ["init", "--home", str(tmp_path / "x"), "--passphrase-file", str(pp), "--user", "Bad Name"]
    )
    assert code == 1 and "invalid investigator name" in capsys.readouterr().err


def test_two_investigators_each_unlock_with_their_own_passphrase_only(team: Team) -> None:
    team.add("budi")
    assert _box(team, "budi").stat().st_mode & 0o077 == 0
    box = json.loads(_box(team, "budi").read_text())
    assert box["user"] == "budi" and box["key"]["purpose"] == "wbs-console-user-key-v2/budi"
    assert team.run("budi", "list")[0] == 0
    assert team.run("investigator", "list")[0] == 0
    code, _out, err = team.run("budi", "list", passphrase=PASSPHRASES["investigator"])
    assert code == 1 and err == "error: wrong passphrase\n"
    code, _out, err = team.run("investigator", "list", passphrase=PASSPHRASES["budi"])
    assert code == 1 and err == "error: wrong passphrase\n"
    # Without --user the console's first investigator acts; a colleague's phrase gets a hint.
    assert team.run(None, "list")[0] == 0
    code, _out, err = team.run(None, "list", passphrase=PASSPHRASES["budi"])
    assert code == 1 and "--user NAME" in err and err.count("\n") == 1
    code, _out, err = team.run("nobody", "list")
    assert code == 1 and "no investigator 'nobody' can unlock this console" in err
    # A box is bound to its name: budi's box copied over citra's does not make budi "citra".
    team.add("citra")
    shutil.copyfile(_box(team, "budi"), _box(team, "citra"))
    code, _out, err = team.run("citra", "list", passphrase=PASSPHRASES["budi"])
    assert code == 1 and "passphrase box is for" in err


def test_each_investigator_changes_their_own_passphrase_and_an_admin_resets_others(
    team: Team,
) -> None:
    team.add("budi")
    team.add("citra")
    new = write_passphrase_file(team.tmp / "new-budi", "teh tarik hangat sekali")
    out = team.ok("budi", "user", "passphrase", "--new-passphrase-file", new)
    assert "Passphrase changed." in out
    assert team.run("budi", "list")[1] == "" and team.run("budi", "list")[0] == 1
    assert team.run("budi", "list", passphrase="teh tarik hangat sekali")[0] == 0
    assert team.run("investigator", "list")[0] == 0  # nobody else is affected
    # budi cannot reset citra's; the administrator can, and budi's old phrase stays dead.
    code, _out, err = team.run(
        "budi",
        "user",
        "passphrase",
        "citra",
        "--new-passphrase-file",
        new,
        passphrase="teh tarik hangat sekali",
    )
    assert code == 1 and "only an administrator" in err
    reset = write_passphrase_file(team.tmp / "reset", "kopi susu gula aren")
    out = team.ok("investigator", "user", "passphrase", "budi", "--new-passphrase-file", reset)
    assert "Passphrase of budi reset." in out
    assert team.run("budi", "list", passphrase="kopi susu gula aren")[0] == 0
    assert team.run("budi", "list", passphrase="teh tarik hangat sekali")[0] == 1
    actions = [(e["actor"], e["action"], e["detail"]) for e in team.audit()]
    assert ("budi", "passphrase_changed", '{"user": "budi"}') in actions
    assert ("investigator", "passphrase_reset", '{"user": "budi"}') in actions
    # The old command still changes the acting investigator's own passphrase.
    again = write_passphrase_file(team.tmp / "again", "rendang daging sapi empuk")
    code, out, err = team.run(
        "budi", "passphrase", "--new-passphrase-file", again, passphrase="kopi susu gula aren"
    )
    assert code == 0, err


def test_a_replaced_box_is_overwritten_and_leftovers_are_cleaned(team: Team) -> None:
    team.add("budi")
    box = _box(team, "budi")
    alias = team.tmp / "alias-of-the-old-box"
    os.link(box, alias)  # a second name for the same blocks on disk
    old_size = alias.stat().st_size
    new = write_passphrase_file(team.tmp / "new", "teh tarik hangat sekali")
    team.ok("budi", "user", "passphrase", "--new-passphrase-file", new)
    assert old_size > 0 and alias.stat().st_size == 0  # the old box's content was destroyed
    # Leftovers of an interrupted replacement: a staged new box, and a stale old one.
    (box.parent / "budi.box.new").write_bytes(b"staged")
    os.link(box, box.parent / "budi.box.old")
    assert team.run("investigator", "list")[0] == 0
    assert sorted(p.name for p in box.parent.iterdir()) == ["budi.box", "investigator.box"]
    assert team.run("budi", "list", passphrase="teh tarik hangat sekali")[0] == 0


def test_only_an_administrator_administers(team: Team) -> None:
    team.add("budi")
    team.add("citra")
    backup = team.tmp / "backup"
    init_console(backup)
    refused = [
        ("user", "add", "dewi", "--new-passphrase-file", team.pp("dewi")),
        ("user", "remove", "citra"),
        ("user", "edit", "citra", "--display-name", "Tim A"),
        ("user", "passphrase", "citra", "--new-passphrase-file", team.pp("dewi")),
        ("config", "--author", "Siapa Saja"),
        ("recipient", backup / "inspectorate.pub"),
    ]
    for args in refused:
        code, _out, err = team.run("budi", *args)
        assert code == 1 and "only an administrator" in err, (args, err)
    assert team.run("budi", "config")[0] == 0  # showing the settings is fine
    assert not _box(team, "dewi").exists()
    # Promoted, budi can; the last administrator can be neither demoted nor removed.
    team.ok("investigator", "user", "edit", "budi", "--admin")
    team.add("dewi", by="budi")
    team.ok("budi", "user", "edit", "investigator", "--no-admin")
    code, _out, err = team.run("budi", "user", "edit", "budi", "--no-admin")
    assert code == 1 and "last administrator" in err
    code, _out, err = team.run("budi", "user", "remove", "budi")
    assert code == 1 and "cannot remove yourself" in err
    code, _out, err = team.run(
        "budi", "user", "add", "dewi", "--new-passphrase-file", team.pp("dewi")
    )
    assert code == 1 and "already is an investigator" in err


def test_a_removed_investigator_can_no_longer_unlock(team: Team) -> None:
    regno = team.server.add_report()
    team.imported()
    team.add("budi")
    team.add("citra")
    team.ok("investigator", "assign", regno, "budi")
    box = _box(team, "budi")
    kept_copy = team.tmp / "budi.box.copy"  # what budi might have copied before being removed
    shutil.copyfile(box, kept_copy)
    alias = team.tmp / "budi.box.alias"
    os.link(box, alias)
    out = team.ok("investigator", "user", "remove", "budi")
    assert "no longer unlocks" in out and regno in out
    assert not box.exists()
    assert alias.stat().st_size == 0  # overwritten in place, not merely unlinked
    code, _out, err = team.run("budi", "list")
    assert code == 1 and "no investigator 'budi' can unlock this console" in err
    # A copy of the box put back still opens the vault key (see DESIGN.md) but not the console.
    shutil.copyfile(kept_copy, box)
    code, _out, err = team.run("budi", "show", regno)
    assert code == 1 and "was removed on 2025-03-10 by investigator" in err
    assert not box.exists()  # and the restored box is destroyed on the spot
    # Everyone else is untouched; the name is not reused; the report is unassigned.
    assert team.run("citra", "show", regno)[0] == 0
    assert "Assigned to: nobody" in team.ok("citra", "show", regno)
    code, _out, err = team.run(
        "investigator", "user", "add", "budi", "--new-passphrase-file", team.pp("budi")
    )
    assert code == 1 and "names are not reused" in err
    listed = team.ok("investigator", "user", "list")
    assert re.search(r"^budi .*REMOVED 2025-03-10 by investigator", listed, re.M), listed
    removal = [e for e in team.audit() if e["action"] == "user_removed"]
    assert len(removal) == 1 and removal[0]["actor"] == "investigator"
    assert json.loads(removal[0]["detail"]) == {"user": "budi", "unassigned": [regno]}
    code, _out, err = team.run("investigator", "user", "remove", "investigator")
    assert code == 1 and "cannot remove yourself" in err
    assert "Audit log intact" in team.ok("citra", "audit", "verify")


# -- assignment, recusal, attribution ---------------------------------------------------------


def test_assignment_and_the_mine_filter(team: Team) -> None:
    first = team.server.add_report(day="2025-02-01")
    second = team.server.add_report(day="2025-02-02")
    team.imported()
    team.add("budi")
    team.ok("investigator", "assign", first, "--to", "budi")
    team.ok("budi", "assign", second, "investigator")
    mine = json.loads(team.ok("budi", "list", "--json", "--mine"))
    assert [r["regno"] for r in mine] == [first] and mine[0]["assignee"] == "budi"
    theirs = json.loads(team.ok("investigator", "list", "--json", "--mine"))
    assert [r["regno"] for r in theirs] == [second]
    everything = json.loads(team.ok("budi", "list", "--json"))
    assert {r["regno"]: r["assignee"] for r in everything} == {
        first: "budi",
        second: "investigator",
    }
    table = team.ok("budi", "list")
    assert re.search(rf"^{first} .* budi$", table, re.M), table
    team.ok("investigator", "assign", first, "investigator")  # re-assigned
    out = team.ok("investigator", "unassign", first)
    assert f"{first} is no longer assigned to investigator." in out
    assert "was not assigned" in team.ok("investigator", "unassign", first)
    code, _out, err = team.run("investigator", "assign", second, "nobody")
    assert code == 1 and "no investigator 'nobody'" in err
    code, _out, err = team.run("investigator", "assign", second)
    assert code == 1 and "whom to assign" in err
    trail = [
        (e["actor"], e["action"], e["regno"], json.loads(e["detail"]))
        for e in team.audit()
        if e["action"] in ("assigned", "unassigned")
    ]
    assert trail == [
        ("investigator", "assigned", first, {"to": "budi"}),
        ("budi", "assigned", second, {"to": "investigator"}),
        ("investigator", "assigned", first, {"to": "investigator", "from": "budi"}),
        ("investigator", "unassigned", first, {"from": "investigator"}),
    ]


def test_replies_carry_the_chosen_display_name_never_the_account_name(team: Team) -> None:
    regno = team.server.add_report(files=[("a.txt", "text/plain", b"isi")])
    team.imported()
    team.add("budi")
    team.add("citra", "--display-name", "Tim Investigasi")
    team.ok("budi", "reply", regno, "--message", "Terima kasih, kami pelajari.")
    team.ok("citra", "reply", regno, "--message", "Mohon kirim bukti.")
    team.ok("investigator", "user", "edit", "budi", "--display-name", "Unit Kepatuhan")
    team.ok("budi", "reply", regno, "--message", "Sudah kami terima.")
    team.ok("investigator", "export", "--out", team.tmp / "c1.bundle")
    verified = read_console_bundle(
        team.tmp / "c1.bundle", team.home / "console.pub", team.tmp / "stage"
    )
    source = team.server.reports[regno].source
    authors = []
    for response in verified.manifest["responses"]:
        _meta, document = open_response(verified.items[response["item"]], source.private_key)
        authors.append(document["author"])
        assert "budi" not in json.dumps(document) and "citra" not in json.dumps(document)
    assert authors == ["Inspektorat", "Tim Investigasi", "Unit Kepatuhan"]
    shown = team.ok("investigator", "show", regno)
    assert "Inspektorat (reply by budi, exported)" in shown
    assert "Tim Investigasi (reply by citra, exported)" in shown
    listed = team.ok("investigator", "user", "list")
    assert re.search(r"^citra\s+investigator\s+Tim Investigasi", listed, re.M), listed
    team.ok("investigator", "user", "edit", "citra", "--default-display-name")
    code, _out, err = team.run("investigator", "user", "edit", "citra", "--display-name", "x" * 61)
    assert code == 1 and "display name" in err


def test_recusal_keeps_the_investigator_out_of_that_report_only(team: Team) -> None:
    regno = team.server.add_report(category="bribery", files=[("a.txt", "text/plain", b"isi")])
    other = team.server.add_report(category="corruption")
    team.imported()
    team.add("budi")
    team.add("citra")
    team.ok("investigator", "assign", regno, "citra")
    out = team.ok("citra", "recuse", regno, "--reason", "Terlapor adalah ipar saya.")
    assert f"citra is recused from {regno}" in out
    blocked = [
        ("show", regno),
        ("reply", regno, "--message", "x"),
        ("status", regno, "closed"),
        ("note", regno, "catatan"),
        ("save", regno, "--out", team.tmp),
        ("assign", regno, "budi"),
        ("unassign", regno),
        ("recuse", regno),
    ]
    for args in blocked:
        code, out, err = team.run("citra", *args)
        assert code == 1, args
        assert "recused yourself from" in err and err.count("\n") == 1, (args, err)
        assert "ipar" not in out + err
    assert team.run("citra", "show", other)[0] == 0  # only that report
    listed = json.loads(team.ok("citra", "list", "--json"))
    assert listed[-1] == {
        "regno": regno,
        "category": None,
        "received_day": None,
        "due_day": None,
        "days_left": None,
        "overdue": None,
        "status": None,
        "status_day": None,
        "unread": None,
        "readable": None,
        "assignee": None,
        "recused": True,
        "answered_day": None,
        "answered_late": None,
        "waiting_export": None,
        "warning": None,
        "age": None,
        "what": None,
        "draft": None,
    }
    assert [
        r["regno"] for r in json.loads(team.ok("citra", "list", "--json", "--status", "received"))
    ] == [other]
    assert re.search(rf"^{regno} +\(recused: you declared", team.ok("citra", "list"), re.M)
    # The others still work the report; the recusal ended citra's assignment.
    shown = team.ok("budi", "show", regno)
    assert "Assigned to: nobody" in shown and "Recused" not in shown and "ipar" not in shown
    code, _out, err = team.run("budi", "assign", regno, "citra")
    assert code == 1 and "citra recused themselves" in err
    # Administrators see who is recused (and why); an investigator only their own.
    assert "Recused: citra (since 2025-03-10): Terlapor adalah ipar saya." in team.ok(
        "investigator", "show", regno
    )
    admin_view = json.loads(team.ok("investigator", "recusals", "--json"))
    assert [(r["regno"], r["investigator"]) for r in admin_view] == [(regno, "citra")]
    assert json.loads(team.ok("budi", "recusals", "--json")) == []
    assert [r["regno"] for r in json.loads(team.ok("citra", "recusals", "--json"))] == [regno]
    # What others did on it since is hidden from citra's audit view, not from budi's.
    team.ok("budi", "status", regno, "investigating")
    citra_log = team.ok("citra", "audit", "show")
    assert re.search(rf"citra recused {regno}", citra_log)
    assert not re.search(rf"budi status_changed {regno}", citra_log)
    assert re.search(rf"- \(recused\) {regno}", citra_log)
    assert re.search(rf"budi status_changed {regno}", team.ok("budi", "audit", "show"))
    # Nobody lifts their own recusal; a non-admin cannot lift; an administrator can.
    code, _out, err = team.run("citra", "unrecuse", regno, "citra")
    assert code == 1 and "only an administrator" in err
    team.ok("investigator", "user", "edit", "citra", "--admin")
    code, _out, err = team.run("citra", "unrecuse", regno, "citra")
    assert code == 1 and "nobody can lift their own recusal" in err
    code, _out, err = team.run("budi", "unrecuse", regno, "citra")
    assert code == 1 and "only an administrator" in err
    team.ok("investigator", "unrecuse", regno, "citra")
    assert team.run("citra", "show", regno)[0] == 0
    history = json.loads(team.ok("investigator", "recusals", "--json", "--all"))
    assert history[0]["lifted_by"] == "investigator"
    trail = [(e["actor"], e["action"], e["regno"]) for e in team.audit()]
    assert ("citra", "recused", regno) in trail
    assert ("investigator", "recusal_lifted", regno) in trail
    recused = next(e for e in team.audit() if e["action"] == "recused")
    assert json.loads(recused["detail"]) == {"reason_given": True, "unassigned": True}
    assert "Audit log intact" in team.ok("budi", "audit", "verify")


def test_three_investigators_share_one_console_each_accountable(team: Team) -> None:
    regno = team.server.add_report(day="2025-02-20")
    team.add("budi")
    team.add("citra", "--display-name", "Tim Investigasi")
    start = len(team.audit())
    team.imported()  # by investigator
    team.ok("investigator", "assign", regno, "budi")
    team.ok("budi", "show", regno)
    team.ok("budi", "reply", regno, "--message", "Laporan diterima.")
    team.ok("citra", "status", regno, "verifying", "--note", "Sedang diverifikasi.")
    team.ok("investigator", "note", regno, "Koordinasi dengan Itjen.")
    team.ok("citra", "recuse", regno)
    team.ok("budi", "status", regno, "investigating")
    team.ok("budi", "export", "--out", team.tmp / "c1.bundle")
    trail = [(e["actor"], e["action"]) for e in team.audit()[start:]]
    assert trail == [
        ("investigator", "imported"),
        ("investigator", "assigned"),
        ("budi", "viewed"),
        ("budi", "replied"),
        ("citra", "status_changed"),
        ("investigator", "note_added"),
        ("citra", "recused"),
        ("budi", "status_changed"),
        ("budi", "exported"),
    ]
    shown = team.ok("investigator", "show", regno)
    assert "Assigned to: budi (since 2025-03-10, by investigator)" in shown
    assert re.search(r"verifying \(Verifying\)  \[exported\]  by citra", shown) or re.search(
        r"verifying .*\[exported\]  by citra", shown
    ), shown
    assert re.search(r"investigating .*\[exported\]  by budi", shown), shown
    assert "Inspektorat (reply by budi, exported)" in shown
    assert re.search(r"2025-03-10  investigator:\n\s+Koordinasi dengan Itjen.", shown), shown
    assert "Audit log intact" in team.ok("citra", "audit", "verify")
    # Rewriting who did something is detected.
    conn = team.db()
    try:
        with schema.transaction(conn):
            conn.execute("UPDATE audit SET actor = 'budi' WHERE action = 'note_added'")
    finally:
        conn.close()
    code, _out, err = team.run("budi", "audit", "verify")
    assert code == 1 and "was modified" in err


def test_a_console_from_before_accounts_is_migrated(team: Team) -> None:
    regno = team.server.add_report()
    team.imported()
    team.ok(None, "reply", regno, "--message", "Halo")
    conn = team.db()  # make it a schema-1 database, as the previous release wrote it
    try:
        with schema.transaction(conn):
            for table in (
                "drafts",
                "standard_texts",
                "compliance_removed",
                "recusals",
                "assignments",
                "users",
                "retained",
            ):
                conn.execute(f"DROP TABLE {table}")
            conn.execute("ALTER TABLE responses DROP COLUMN actor")
            conn.execute("ALTER TABLE responses DROP COLUMN to_reporter")
            conn.execute("ALTER TABLE reports DROP COLUMN answered_day")
            conn.execute("UPDATE settings SET value = '1' WHERE name = 'schema_version'")
    finally:
        conn.close()
    listed = team.ok(None, "user", "list")
    assert re.search(r"^investigator\s+admin", listed, re.M)
    assert "Halo" in team.ok(None, "show", regno)
    assert "reply by investigator" in team.ok(None, "show", regno)  # recovered from the audit
    assert [e["action"] for e in team.audit()][-3:-1] == ["accounts_enabled", "viewed"]
    assert "Audit log intact" in team.ok(None, "audit", "verify")
    conn = team.db()
    try:
        assert schema.get_setting(conn, "schema_version") == str(schema.SCHEMA_VERSION)
    finally:
        conn.close()


# -- the web interface ---------------------------------------------------------------------------


@dataclass
class Desk:
    team: Team
    app: Flask
    regno: str

    def client(self) -> FlaskClient:
        return self.app.test_client()

    @staticmethod
    def token(client: FlaskClient, path: str) -> str:
        page = client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page[:500]
        return match.group(1)

    def login(
        self, client: FlaskClient, user: str | None, passphrase: str | None = None
    ) -> TestResponse:
        data = {"csrf_token": self.token(client, "/unlock")}
        data["passphrase"] = passphrase or PASSPHRASES.get(user or "investigator", PASSPHRASE)
        if user is not None:
            data["user"] = user
        return client.post("/unlock", data=data)

    def post(
        self, client: FlaskClient, path: str, data: dict[str, str], page: str = "/"
    ) -> TestResponse:
        return client.post(path, data={"csrf_token": self.token(client, page), **data})


@pytest.fixture
def desk(team: Team) -> Iterator[Desk]:
    regno = team.server.add_report(files=[("bukti.txt", "text/plain", b"isi berkas")])
    team.server.add_report(day="2025-03-01")
    team.imported()
    team.add("budi")
    team.add("citra")
    app = create_app(Home(team.home))
    yield Desk(team, app, regno)
    app.extensions["wbs_console"].shutdown()


def test_web_login_asks_for_the_user_name_prefilled_with_the_default(desk: Desk) -> None:
    client = desk.client()
    page = client.get("/unlock").get_data(as_text=True)
    assert re.search(r'<input type="text" id="user" name="user" value="investigator"', page)
    assert desk.login(client, None).status_code == 302  # only the passphrase: the default user
    assert 'id="signed-in">investigator (administrator)' in client.get("/").get_data(as_text=True)
    budi = desk.client()
    wrong = desk.login(budi, "budi", PASSPHRASES["citra"])
    assert wrong.status_code == 401 and "Frasa sandi salah." in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 200  # a failed login leaves the first session alone
    assert desk.login(budi, "budi").status_code == 302
    assert 'id="signed-in">budi<' in budi.get("/").get_data(as_text=True)
    assert client.get("/").status_code == 302  # another investigator's unlock ends the first
    unknown = desk.login(desk.client(), "siapa")
    assert unknown.status_code == 400 and "tidak dapat membuka konsol" in unknown.get_data(
        as_text=True
    )


def test_web_actions_are_attributed_and_the_queue_has_mine(desk: Desk) -> None:
    budi = desk.client()
    desk.login(budi, "budi")
    page = f"/report/{desk.regno}"
    assert desk.post(budi, f"{page}/assign", {"assignee": "budi"}, page).status_code == 302
    said = {"status": "verifying", "message": "Kami tindak lanjuti."}
    assert desk.post(budi, f"{page}/respond", said, page).status_code == 302
    shown = budi.get(page).get_data(as_text=True)
    assert re.search(r'id="assignee">budi', shown)
    assert "Inspektorat — Balasan oleh budi" in shown and "oleh budi" in shown
    queue = budi.get("/?mine=1").get_data(as_text=True)
    assert desk.regno in queue and queue.count('" class="regno"') == 1
    assert '<td class="assignee">budi</td>' in budi.get("/").get_data(as_text=True)
    citra = desk.client()
    desk.login(citra, "citra")
    assert desk.regno not in citra.get("/?mine=1").get_data(as_text=True)
    audit_page = citra.get("/audit").get_data(as_text=True)
    assert '<td class="actor">budi</td><td>replied</td>' in audit_page
    actors = {(e["actor"], e["action"]) for e in desk.team.audit()}
    assert {("budi", "assigned"), ("budi", "replied"), ("budi", "status_changed")} <= actors


def test_a_recused_investigator_cannot_open_the_report_in_the_web(desk: Desk) -> None:
    citra = desk.client()
    desk.login(citra, "citra")
    page = f"/report/{desk.regno}"
    files = re.findall(
        rf'href="(/report/{desk.regno}/file/[0-9a-f]{{32}})"',
        citra.get(page).get_data(as_text=True),
    )
    assert files
    missing = desk.post(citra, f"{page}/recuse", {"reason": "keluarga"}, page)
    assert missing.status_code == 400  # the confirmation box must be ticked
    done = desk.post(citra, f"{page}/recuse", {"reason": "keluarga", "confirm": "yes"}, page)
    assert done.status_code == 302
    refused = citra.get(page)
    assert refused.status_code == 403
    assert "Anda telah mengundurkan diri dari" in refused.get_data(as_text=True)
    assert "Dana hibah" not in refused.get_data(as_text=True)
    assert citra.get(files[0]).status_code == 403
    token = desk.token(citra, "/")
    for action, data in (
        ("respond", {"message": "x"}),
        ("respond", {"status": "closed"}),
        ("draft/discard", {"kind": "message"}),
        ("note", {"text": "x"}),
        ("assign", {"assignee": "citra"}),
    ):
        response = citra.post(f"{page}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 403, action
    queue = citra.get("/").get_data(as_text=True)
    row = re.search(r'<tr class="recused">.*?</tr>', queue, re.S)
    assert row and desk.regno in row.group(0) and "href" not in row.group(0)
    assert "Korupsi" not in row.group(0)
    # Another investigator opens it; the administrator sees who is recused.
    budi = desk.client()
    desk.login(budi, "budi")
    opened = budi.get(page)
    assert opened.status_code == 200 and "Dana hibah" in opened.get_data(as_text=True)
    assert 'id="recusals"' not in opened.get_data(as_text=True)
    admin = desk.client()
    desk.login(admin, None)
    seen = admin.get(page).get_data(as_text=True)
    assert re.search(r'id="recusals">citra <span class="hint">\(2025-03-10: keluarga\)', seen)
    assert any(e["actor"] == "citra" and e["action"] == "recused" for e in desk.team.audit())


def test_web_account_administration(desk: Desk) -> None:
    admin = desk.client()
    desk.login(admin, None)
    form = {
        "name": "dewi",
        "display_name": "Tim B",
        "new_passphrase": PASSPHRASES["dewi"],
        "new_passphrase_again": PASSPHRASES["dewi"],
    }
    wrong = desk.post(admin, "/users/add", {**form, "current_passphrase": "bukan ini"}, "/users")
    assert wrong.status_code == 400 and "salah; tidak ada yang berubah" in wrong.get_data(
        as_text=True
    )
    assert not _box(desk.team, "dewi").exists()
    added = desk.post(admin, "/users/add", {**form, "current_passphrase": PASSPHRASE}, "/users")
    assert added.status_code == 302
    listing = admin.get("/users").get_data(as_text=True)
    assert 'id="user-dewi"' in listing and "Tim B" in listing
    reset = desk.post(
        admin,
        "/users/budi/passphrase",
        {
            "current_passphrase": PASSPHRASE,
            "new_passphrase": "bakso urat kuah pedas",
            "new_passphrase_again": "bakso urat kuah pedas",
        },
        "/users/budi",
    )
    assert reset.status_code == 302
    edited = desk.post(
        admin,
        "/users/budi/edit",
        {"current_passphrase": PASSPHRASE, "role": "investigator", "display_name": "Tim C"},
        "/users/budi",
    )
    assert edited.status_code == 302
    assert "Tim C" in admin.get("/users/budi").get_data(as_text=True)
    unconfirmed = desk.post(
        admin,
        "/users/citra/remove",
        {"current_passphrase": PASSPHRASE, "confirm_name": "x"},
        "/users/citra",
    )
    assert unconfirmed.status_code == 400 and _box(desk.team, "citra").exists()
    # Removed, citra's passphrase no longer unlocks the console in the browser either.
    removed = desk.post(
        admin,
        "/users/citra/remove",
        {"current_passphrase": PASSPHRASE, "confirm_name": "citra"},
        "/users/citra",
    )
    assert removed.status_code == 302 and not _box(desk.team, "citra").exists()
    citra = desk.client()
    refused = desk.login(citra, "citra")
    assert refused.status_code == 400
    assert "tidak dapat membuka konsol" in refused.get_data(as_text=True)
    # A non-administrator sees the list and their own page only, and cannot post admin forms.
    budi = desk.client()
    assert desk.login(budi, "budi", "bakso urat kuah pedas").status_code == 302
    assert budi.get("/users").status_code == 200
    assert budi.get("/users/budi").status_code == 200
    assert budi.get("/users/dewi").status_code == 403
    attempt = desk.post(
        budi,
        "/users/add",
        {**form, "name": "eko", "current_passphrase": "bakso urat kuah pedas"},
        "/users",
    )
    assert attempt.status_code == 403 and not _box(desk.team, "eko").exists()
    actions = [(e["actor"], e["action"]) for e in desk.team.audit()]
    for expected in (
        ("investigator", "user_added"),
        ("investigator", "passphrase_reset"),
        ("investigator", "user_changed"),
        ("investigator", "user_removed"),
    ):
        assert expected in actions
    assert "Log audit utuh" in budi.get("/audit").get_data(as_text=True)


def test_web_recusal_lifted_by_an_administrator(desk: Desk) -> None:
    citra = desk.client()
    desk.login(citra, "citra")
    page = f"/report/{desk.regno}"
    desk.post(citra, f"{page}/recuse", {"reason": "", "confirm": "yes"}, page)
    assert citra.get(page).status_code == 403
    mine = citra.get("/users").get_data(as_text=True)
    assert desk.regno in mine and "Cabut pengunduran diri" not in mine
    admin = desk.client()
    desk.login(admin, None)
    listing = admin.get("/users").get_data(as_text=True)
    assert "Cabut pengunduran diri" in listing
    lifted = desk.post(
        admin,
        "/recusals/lift",
        {"regno": desk.regno, "user": "citra", "current_passphrase": PASSPHRASE},
        "/users",
    )
    assert lifted.status_code == 302
    desk.login(citra, "citra")
    assert citra.get(page).status_code == 200


def test_console_open_as_a_named_user_through_the_library(team: Team) -> None:
    team.add("budi")
    with Session.open(Home(team.home), PASSPHRASES["budi"].encode(), "budi") as session:
        assert session.investigator == "budi" and not is_admin(session.conn, "budi")
        assert responses.reply_author(session) == "Inspektorat"
    with Session.open(Home(team.home), PASSPHRASE.encode()) as session:
        assert session.investigator == "investigator" and is_admin(session.conn, "investigator")


def test_a_recused_investigators_statistics_leave_the_report_out(team: Team) -> None:
    """Statistics would tell a recused investigator the report's category and status: for them
    it is not counted at all (CLI and web), and the page says how many were left out."""
    regno = team.server.add_report(category="extortion")
    team.server.add_report(category="corruption")
    team.imported()
    team.ok("investigator", "status", regno, "needs_info")
    team.add("citra")
    before = team.ok("citra", "stats")
    assert "Reports: 2" in before and "extortion" in before.lower().replace(" ", "")
    team.ok("citra", "recuse", regno)
    after = team.ok("citra", "stats")
    assert "Reports: 1" in after
    assert "needs_info     0" in after or "needs_info      0" in after
    assert "pemerasan" not in after.lower() and "extortion" not in after.lower()
    assert "Not counted: 1 report(s) you recused yourself from." in after
    assert "Reports: 2" in team.ok("investigator", "stats")  # others still count it
    app = create_app(Home(team.home))
    try:
        desk = Desk(team, app, regno)
        citra = desk.client()
        desk.login(citra, "citra")
        page = citra.get("/stats").get_data(as_text=True)
        assert 'id="total">1<' in page and 'id="recused-left-out"' in page
        assert "Pemerasan" not in page
    finally:
        app.extensions["wbs_console"].shutdown()


def test_audit_verify_finds_a_role_or_recusal_the_log_never_recorded(team: Team) -> None:
    """An investigator with the vault key edits the database directly: makes themselves an
    administrator and removes their recusal. No audit entry says so: `audit verify` reports it."""
    regno = team.server.add_report()
    team.imported()
    team.add("citra")
    team.ok("citra", "recuse", regno)
    assert "Audit log intact" in team.ok("citra", "audit", "verify")
    conn = team.db()
    try:
        with schema.transaction(conn):
            conn.execute("UPDATE users SET role = 'admin' WHERE name = 'citra'")
            conn.execute("DELETE FROM recusals WHERE investigator = 'citra'")
    finally:
        conn.close()
    code, _out, err = team.run("citra", "audit", "verify")
    assert code == 1
    assert "account citra: the tables say admin, the log says investigator" in err
    assert f"citra on {regno}: the tables say not recused, the log does not" in err

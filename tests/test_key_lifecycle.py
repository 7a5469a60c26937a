"""Keys over the years (docs/operator.md 10-12), through both command lines: the inspectorate key
rotated, the console's signing key rotated, a rebuilt server re-pinned, the vault re-keyed after
an investigator left; a kill at any step of the re-key; and after each, the round trip: a report
reaches the console, a reply reaches the reporter."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from dropbox import instance as instance_module
from dropbox.cli import main as dropbox_main
from journalist_console import boxes, schema, vault_swap
from journalist_console.home import Home
from journalist_console.vault import SECRETS_KIND, unlock_vault
from keys import bundle, keyfiles, passbox, payload
from keys.encoding import b64encode
from keys.errors import NotARecipient
from keys.keytypes import recipient_identity
from support.instances import BOX_KDF
from support.pages import new_source, submit_report
from support.processes import REPO
from support.roundtrip import PASSPHRASE, Deployment, lookup_as

OTHERS = {"budi": "teh tarik hangat sekali", "citra": "kopi susu gula aren"}


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def regnos_on_console(d: Deployment, capsys: pytest.CaptureFixture[str]) -> set[str]:
    capsys.readouterr()
    assert d.console("list", "--json") == 0
    return {row["regno"] for row in json.loads(capsys.readouterr().out)}


def shows(d: Deployment, regno: str, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert d.console("show", regno) == 0
    assert text in capsys.readouterr().out


def round_trip(d: Deployment, capsys: pytest.CaptureFixture[str], what: str) -> None:
    """A new report reaches the console and opens; a reply reaches the reporter."""
    codename = new_source(d.new_reporter())
    regno = submit_report(d.client, what=what)
    d.to_console()
    shows(d, regno, what, capsys)
    assert d.console("reply", regno, "--message", f"Balasan untuk {what}") == 0
    d.to_server()
    assert f"Balasan untuk {what}" in lookup_as(d, codename)


def vault_key(d: Deployment, user: str | None = None, phrase: str = PASSPHRASE) -> bytes:
    return unlock_vault(Home(d.home), phrase.encode(), user).vault_key


def opens_secrets(d: Deployment, key: bytes) -> bool:
    try:
        meta, _content = payload.open_bytes(
            (d.home / "vault" / "secrets.env").read_bytes(), [recipient_identity(key)])
    except NotARecipient:
        return False
    return meta["kind"] == SECRETS_KIND


def opens_database(d: Deployment, db_key: bytes) -> bool:
    try:
        schema.connect(d.home / "console.db", db_key).close()
    except schema.DatabaseUnavailable:
        return False
    return True


def audit_actions(d: Deployment) -> list[dict[str, str]]:
    home = Home(d.home)
    secrets = unlock_vault(home, PASSPHRASE.encode()).secrets
    conn = schema.connect(home.database, secrets.db_key)
    try:
        return [dict(row) for row in conn.execute("SELECT action, detail FROM audit ORDER BY seq")]
    finally:
        conn.close()


# -- 1. the inspectorate (recipient) key ----------------------------------------------------------


def test_recipient_rotation_keeps_every_old_envelope_and_archive_readable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    old_identity = unlock_vault(Home(d.home), PASSPHRASE.encode()).secrets.identity
    old = keyfiles.recipient_public_key(old_identity)
    # A report that is processed and archived by retention before the rotation...
    codename = new_source(d.new_reporter())
    archived = submit_report(d.client, what="Laporan yang diarsipkan")
    d.to_console()
    assert d.console("status", archived, "closed", "--note", "Selesai.") == 0
    d.to_server()
    folder = tmp_path / "arsip"
    folder.mkdir()
    assert d.console("config", "--retention-mode", "archive", "--archive-dir", str(folder)) == 0
    later = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    assert d.console("retention", "--as-of", later) == 0
    [archive] = list(folder.iterdir())
    # ...and one filed before it, still on the server, sealed to the old key only.
    before = submit_report(d.client, what="Dikirim sebelum rotasi")

    capsys.readouterr()
    assert d.run("keys", "rotate-recipient") == 0
    out, _err = output(capsys)
    new = keyfiles.read_public_key(d.home / "inspectorate.pub", "recipient")
    assert new != old and new.fingerprint in out and old.fingerprint in out
    assert d.run("keys", "show") == 0
    out, _err = output(capsys)
    assert f"retired, still read with   {old.fingerprint}" in out
    assert f"the server still has       {old.fingerprint}" in out

    # The next export carries the new key, signed; the server swaps it in and says so.
    assert d.console("reply", archived.replace("WBS-", ""), "--message", "x") == 1  # archived
    assert d.console("export", "--out", str(tmp_path / "r.bundle")) == 0
    out, _err = output(capsys)
    assert f"announces the new inspectorate key {new.fingerprint}" in out
    assert dropbox_main(["import", "--data", str(d.data), str(tmp_path / "r.bundle")]) == 0
    out, _err = output(capsys)
    assert f"recipient key added    {new.fingerprint}" in out
    assert f"recipient key retired  {old.fingerprint}" in out and "Restart" in out
    loaded = instance_module.load(d.data)
    assert loaded.recipients == (new,)
    assert [key for key, _day in loaded.retired_recipients] == [old]
    d.restart()  # the site reads its keys at start

    new_source(d.new_reporter())
    after = submit_report(d.client, what="Dikirim sesudah rotasi")
    with d.box.connection() as connection:
        rows = connection.execute("SELECT entry_id, regno FROM entries").fetchall()
    entries = {row[0]: row[1] for row in rows}
    stored = {regno: (d.data / "store" / "items" / f"{entry}.env").read_bytes()
              for entry, regno in entries.items()
              if (d.data / "store" / "items" / f"{entry}.env").exists()}
    d.to_console()
    # Both open on the console: the one sealed to the old key only, and the one sealed to the
    # new key only (the old key can no longer open what the server sealed after the restart).
    shows(d, before, "Dikirim sebelum rotasi", capsys)
    shows(d, after, "Dikirim sesudah rotasi", capsys)
    assert set(stored) == {before, after}
    assert _opens(stored[before], [old_identity]) and not _opens(stored[after], [old_identity])
    # The archive sealed to the old key opens too.
    capsys.readouterr()
    assert d.run("archive", "show", str(archive)) == 0
    assert "Laporan yang diarsipkan" in capsys.readouterr().out
    assert "Selesai." in lookup_as(d, codename)
    round_trip(d, capsys, "Round trip setelah rotasi kunci penerima")
    assert any(e["action"] == "recipient_rotated" for e in audit_actions(d))


def test_a_recipient_key_given_by_hand_and_then_announced_changes_nothing_twice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The operator may add the console's new inspectorate.pub with `dropbox keys` before the
    signed announcement arrives; the announcement then only retires the old key."""
    d = Deployment(tmp_path)
    new_source(d.new_reporter())
    submit_report(d.client)
    d.to_console()
    old = keyfiles.read_public_key(d.home / "inspectorate.pub", "recipient")
    assert d.run("keys", "rotate-recipient") == 0
    new = keyfiles.read_public_key(d.home / "inspectorate.pub", "recipient")
    assert dropbox_main(["keys", "--data", str(d.data), "--add-recipient",
                         str(d.home / "inspectorate.pub")]) == 0
    capsys.readouterr()
    d.to_server()
    out, _err = output(capsys)
    assert "recipient key added" not in out
    assert f"recipient key retired  {old.fingerprint}" in out
    assert instance_module.load(d.data).recipients == (new,)
    d.restart()
    round_trip(d, capsys, "Kunci ditambahkan dengan tangan")


def _opens(data: bytes, identities: list) -> bool:  # type: ignore[type-arg]
    try:
        payload.open_bytes(data, identities)
    except NotARecipient:
        return False
    return True


# -- 2. the console's signing key -----------------------------------------------------------------


def test_signing_key_rotation_moves_the_server_and_retires_the_old_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    old_key = unlock_vault(Home(d.home), PASSPHRASE.encode()).secrets.signing_key
    old = keyfiles.verify_public_key(old_key)
    codename = new_source(d.new_reporter())
    regno = submit_report(d.client)
    d.to_console()
    capsys.readouterr()
    assert d.run("keys", "rotate-signing") == 0
    new_line = next(line for line in output(capsys)[0].splitlines() if "Next console" in line)
    assert d.run("keys", "rotate-signing") == 1  # one change at a time
    assert "already waits" in output(capsys)[1]
    assert d.console("reply", regno, "--message", "Kunci baru") == 0
    transition = d.to_server()
    assert transition.read_bytes()[8] == 2  # co-signed
    out, _err = output(capsys)
    new = keyfiles.read_public_key(d.home / "console.pub", "verify")
    assert new.fingerprint in new_line and new != old
    assert f"console key   added    {new.fingerprint}" in out
    assert f"console key   retired  {old.fingerprint}" in out
    assert instance_module.load(d.data).console_keys == (new,)
    assert "Kunci baru" in lookup_as(d, codename)

    # Afterwards: a bundle signed by the old key alone is refused, whatever it carries.
    forged = tmp_path / "forged.bundle"
    body = {"instance": d.box.instance.instance_id, "sequence": 2,
            "created_day": dt.date.today().isoformat(), "responses": [], "acks": []}
    bundle.write_bundle(forged, "console-to-server", body, [], old_key)
    assert dropbox_main(["import", "--data", str(d.data), str(forged)]) == 1
    assert "retired console key" in output(capsys)[1]
    # The console's next bundle, signed by the new key alone, is taken.
    round_trip(d, capsys, "Round trip setelah rotasi kunci tanda tangan")
    assert d.run("keys", "show") == 0
    assert f"console signing key          {new.fingerprint}" in output(capsys)[0]


def test_an_export_interrupted_before_the_switch_is_finished_at_the_next_unlock(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from journalist_console import exporter

    d = Deployment(tmp_path)
    new_source(d.new_reporter())
    submit_report(d.client)
    d.to_console()
    assert d.run("keys", "rotate-signing") == 0
    pending = keyfiles.read_public_key(d.home / "console.pub", "verify")

    def killed(*_args: object) -> None:
        raise KeyboardInterrupt  # the process dies once the export is written, before the switch

    with monkeypatch.context() as patched:
        patched.setattr(exporter, "keyring", SimpleNamespace(finish_signing_switch=killed))
        assert d.console("export", "--out", str(tmp_path / "console-1.bundle")) == 130
    assert keyfiles.read_public_key(d.home / "console.pub", "verify") == pending  # not yet
    capsys.readouterr()
    assert d.run("keys", "show") == 0  # any unlock finishes the switch
    switched = keyfiles.read_public_key(d.home / "console.pub", "verify")
    assert switched != pending and switched.fingerprint in output(capsys)[0]
    assert dropbox_main(["import", "--data", str(d.data), str(tmp_path / "console-1.bundle")]) == 0
    assert instance_module.load(d.data).console_keys == (switched,)
    round_trip(d, capsys, "Setelah ekspor yang terputus")


def test_a_failed_export_announces_the_new_key_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    new_source(d.new_reporter())
    submit_report(d.client)
    d.to_console()
    assert d.run("keys", "rotate-recipient") == 0
    assert d.console("export", "--out", str(tmp_path / "missing" / "x.bundle")) == 1
    capsys.readouterr()
    out = d.to_server()
    assert "new_recipient" in json.loads(_manifest(out))["key_change"]


def _manifest(path: Path) -> bytes:
    data = path.read_bytes()
    return data[13:13 + int.from_bytes(data[9:13], "big")]


# -- 3. a rebuilt server --------------------------------------------------------------------------


def test_a_rebuilt_server_is_repinned_and_the_old_servers_bundles_stay_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    round_trip(d, capsys, "Di server lama")
    submit_report(d.client, what="Terakhir dari server lama")
    last_old = d.to_console()
    old_key = keyfiles.read_public_key(d.data / "server.pub", "verify")
    old_data = d.rebuild_server()
    new_key = keyfiles.read_public_key(d.data / "server.pub", "verify")

    # Before the re-pin the console refuses the new server, as it must.
    new_source(d.new_reporter())
    submit_report(d.client, what="Di server baru")
    first_new = d.bundle_path()
    assert dropbox_main(["export", "--data", str(d.data), "--out", str(first_new)]) == 0
    capsys.readouterr()
    assert d.console("import", str(first_new)) == 1
    assert "pinned server key" in output(capsys)[1]
    # Administrators only; a fingerprint the operator did not read is refused; nothing changes.
    citra = tmp_path / "pp-citra"
    citra.write_text(OTHERS["citra"] + "\n")
    assert d.run("user", "add", "citra", "--new-passphrase-file", str(citra)) == 0
    assert d.run("keys", "repin-server", "--server-key", str(d.data / "server.pub"),
                 "--fingerprint", new_key.fingerprint, user="citra", passphrase_file=citra) == 1
    assert "only an administrator" in output(capsys)[1]
    assert d.run("keys", "repin-server", "--server-key", str(d.data / "server.pub"),
                 "--fingerprint", old_key.fingerprint) == 1
    out, err = output(capsys)
    assert old_key.fingerprint in out and new_key.fingerprint in out
    assert "does not match" in err
    assert d.run("keys", "repin-server", "--server-key", str(d.data / "server.pub"),
                 "--fingerprint", new_key.fingerprint.lower().replace(" ", "")) == 0
    out, _err = output(capsys)
    assert "last bundle 2 imported" in out  # the last sequence seen from the old server

    # The old server's last bundle, replayed, is refused: its key is retired.
    assert d.console("import", str(last_old)) == 1
    assert "retired server key" in output(capsys)[1]
    # The new server's bundles import; its numbering starts at 1 both ways.
    assert d.console("import", str(first_new)) == 0
    assert "Imported bundle 1" in output(capsys)[0]
    regno = next(r for r in regnos_on_console(d, capsys) if _has(d, r, "Di server baru", capsys))
    assert d.console("reply", regno, "--message", "Dari konsol ke server baru") == 0
    capsys.readouterr()
    d.to_server()
    assert "Applied response bundle 1" in output(capsys)[0]
    round_trip(d, capsys, "Round trip di server baru")
    assert d.console("import", str(last_old)) == 1  # still refused
    assert d.console("audit", "verify") == 0
    audit = audit_actions(d)
    repinned = [json.loads(e["detail"]) for e in audit if e["action"] == "server_repinned"]
    assert repinned[0]["old"] == old_key.fingerprint and repinned[0]["new"] == new_key.fingerprint
    assert repinned[0]["last_sequence"] == 2
    assert old_data.exists()


def _has(d: Deployment, regno: str, text: str, capsys: pytest.CaptureFixture[str]) -> bool:
    capsys.readouterr()
    return d.console("show", regno) == 0 and text in capsys.readouterr().out


# -- 4. the vault, when an investigator leaves ---------------------------------------------------


def _team(d: Deployment) -> dict[str, Path]:
    files = {}
    for name, phrase in OTHERS.items():
        files[name] = d.root / f"pp-{name}"
        files[name].write_text(phrase + "\n")
        assert d.run("user", "add", name, "--new-passphrase-file", str(files[name])) == 0
    return files


def test_vault_rekey_after_an_investigator_leaves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    files = _team(d)
    round_trip(d, capsys, "Sebelum budi pergi")
    home = Home(d.home)
    before = unlock_vault(home, OTHERS["budi"].encode(), "budi")
    old_vault_key, old_db_key = before.vault_key, before.secrets.db_key
    copied_box = (d.home / "vault" / "users" / "budi.box").read_bytes()
    assert d.run("user", "remove", "budi") == 0
    assert "keys rekey-vault" in output(capsys)[0]
    assert opens_secrets(d, old_vault_key) and opens_database(d, old_db_key)  # not yet

    assert d.run("keys", "rekey-vault", user="citra",
                 passphrase_file=files["citra"]) == 1  # administrators only
    assert d.run("keys", "rekey-vault") == 0
    out, _err = output(capsys)
    assert "boxes re-sealed for citra, investigator" in out
    # What budi may have kept opens nothing current.
    assert not opens_secrets(d, old_vault_key)
    assert not opens_database(d, old_db_key)
    kept = boxes.open_box(copied_box, "budi", OTHERS["budi"].encode())
    assert kept.vault_key == old_vault_key and not opens_secrets(d, kept.vault_key)
    (d.home / "vault" / "users" / "budi.box").write_bytes(copied_box)  # put back: refused
    capsys.readouterr()
    assert d.run("list", user="budi", passphrase_file=files["budi"]) == 1
    assert "older than the last re-key" in output(capsys)[1]
    # Everyone who remains unlocks, with the passphrase they had.
    assert d.run("list", user="citra", passphrase_file=files["citra"]) == 0
    assert d.run("list") == 0
    assert not (d.home / "vault" / "users" / "budi.box").exists()  # a removed account's: wiped
    assert not vault_swap.stage_dir(home).exists()
    assert d.console("audit", "verify") == 0
    assert any(e["action"] == "vault_rekeyed" for e in audit_actions(d))
    round_trip(d, capsys, "Setelah vault diganti kuncinya")


def test_rekey_waits_for_boxes_from_before_version_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    files = _team(d)
    home = Home(d.home)
    key = vault_key(d)
    # citra's box as the previous release wrote it: the vault key under her passphrase.
    legacy = passbox.seal(key, OTHERS["citra"].encode(), boxes.vault_purpose("citra"), BOX_KDF)
    home.user_box("citra").write_bytes(legacy)
    secrets = unlock_vault(home, PASSPHRASE.encode()).secrets
    conn = schema.connect(home.database, secrets.db_key)
    with schema.transaction(conn):
        conn.execute("UPDATE users SET box_key = NULL WHERE name = 'citra'")
    conn.close()
    capsys.readouterr()
    assert d.run("keys", "rekey-vault") == 1
    assert "citra" in output(capsys)[1]
    assert d.run("list", user="citra", passphrase_file=files["citra"]) == 0  # rewritten
    assert json.loads(home.user_box("citra").read_bytes())["format"] == boxes.BOX_FORMAT
    assert d.run("keys", "rekey-vault") == 0
    assert d.run("list", user="citra", passphrase_file=files["citra"]) == 0
    assert d.run("list", user="budi", passphrase_file=files["budi"]) == 0


# -- a kill during the re-key -------------------------------------------------------------------

_KILLED_REKEY = """
import os, signal, sys
from journalist_console import vault_swap

def checkpoint(step):
    if step == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)

vault_swap.checkpoint = checkpoint
from journalist_console.cli import main
sys.exit(main(["keys", "rekey-vault", "--home", sys.argv[2], "--passphrase-file", sys.argv[3]]))
"""
BEFORE_COMMIT = ["staging", "secrets-staged", "boxes-staged", "database-copied",
                 "database-rekeyed"]
AFTER_COMMIT = ["committed", "database-swapped", "boxes-swapped", "secrets-swapped"]


def _check_after_kill(d: Deployment, files: dict[str, Path], old_key: bytes, old_db: bytes,
                      expect_old: bool | None) -> bool:
    """Every investigator unlocks; the vault is wholly old or wholly new (True: old)."""
    assert d.run("list") == 0  # the first unlock finishes or undoes the interrupted re-key
    for name, path in files.items():
        assert d.run("list", user=name, passphrase_file=path) == 0, name
    assert not vault_swap.stage_dir(Home(d.home)).exists()
    still_old = opens_secrets(d, old_key)
    assert opens_database(d, old_db) == still_old  # never one key old and the other new
    if expect_old is not None:
        assert still_old == expect_old
    assert d.console("audit", "verify") == 0
    return still_old


@pytest.mark.parametrize("step", BEFORE_COMMIT + AFTER_COMMIT)
def test_a_kill_at_each_step_of_the_rekey_leaves_a_working_console(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], step: str) -> None:
    d = Deployment(tmp_path)
    files = _team(d)
    new_source(d.new_reporter())
    submit_report(d.client, what="Sebelum kunci vault diganti")
    d.to_console()
    before = unlock_vault(Home(d.home), PASSPHRASE.encode())
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_REKEY, step, str(d.home), str(d.passphrase_file)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _check_after_kill(d, files, before.vault_key, before.secrets.db_key,
                      expect_old=step in BEFORE_COMMIT)
    if step in BEFORE_COMMIT:
        assert d.run("keys", "rekey-vault") == 0
    assert not opens_secrets(d, before.vault_key)
    round_trip(d, capsys, f"Setelah kill pada {step}")


_REPORTING_REKEY = """
import sys
from journalist_console import vault_swap

def checkpoint(step):
    print(step, file=sys.stderr, flush=True)

vault_swap.checkpoint = checkpoint
from journalist_console.cli import main
sys.exit(main(["keys", "rekey-vault", "--home", sys.argv[1], "--passphrase-file", sys.argv[2]]))
"""


def test_kills_at_random_moments_of_the_rekey(tmp_path: Path) -> None:
    """Not only at the named steps: the process reports when the re-key begins (its first
    step), and is killed at a random moment of the next 60 ms, which is about how long the rest
    takes here: inside a write, an fsync, the PRAGMA rekey, a rename, an overwrite."""
    d = Deployment(tmp_path)
    files = _team(d)
    seed = int.from_bytes(os.urandom(4), "big")
    chance = random.Random(seed)
    outcomes = []
    for attempt in range(12):
        before = unlock_vault(Home(d.home), PASSPHRASE.encode())
        process = subprocess.Popen(
            [sys.executable, "-c", _REPORTING_REKEY, str(d.home), str(d.passphrase_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
        assert process.stderr is not None
        assert process.stderr.readline().strip() == "staging"
        time.sleep(chance.uniform(0, 0.06))
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stderr.close()
        try:
            outcomes.append(_check_after_kill(d, files, before.vault_key, before.secrets.db_key,
                                              None))
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, attempt {attempt}: {exc}") from exc
    print(f"seed {seed}: old state after {outcomes.count(True)} kills, new after "
          f"{outcomes.count(False)}")


# -- a console from the previous release --------------------------------------------------------


def _as_previous_release(d: Deployment) -> None:
    """Schema 5, version-1 secrets and box, as the release before key rotation wrote them."""
    home = Home(d.home)
    opened = unlock_vault(home, PASSPHRASE.encode())
    secrets, key = opened.secrets, opened.vault_key
    conn = schema.connect(home.database, secrets.db_key)
    with schema.transaction(conn):
        conn.execute("DROP TABLE server_pins")
        for column in ("instance", "server_sequence", "key_change"):
            conn.execute(f"ALTER TABLE exports DROP COLUMN {column}")
        conn.execute("ALTER TABLE users DROP COLUMN box_key")
        conn.execute("DELETE FROM settings WHERE name = 'server_recipient'")
        conn.execute("UPDATE settings SET value = '5' WHERE name = 'schema_version'")
    conn.close()
    document = {"v": 1, "recipient": b64encode(bytes(secrets.identity)),
                "signing": b64encode(bytes(secrets.signing_key)),
                "db_key": b64encode(secrets.db_key)}
    sealed = payload.seal_bytes({"kind": SECRETS_KIND}, json.dumps(document).encode(),
                                [recipient_identity(key).public_key])
    home.secrets_file.write_bytes(sealed)
    box = passbox.seal(key, PASSPHRASE.encode(), boxes.vault_purpose("investigator"), BOX_KDF)
    home.user_box("investigator").write_bytes(box)


def test_a_console_from_the_previous_release_upgrades_at_its_first_unlock(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = Deployment(tmp_path)
    round_trip(d, capsys, "Sebelum pembaruan")
    _as_previous_release(d)
    assert d.console("list") == 0
    home = Home(d.home)
    assert json.loads(home.user_box("investigator").read_bytes())["format"] == boxes.BOX_FORMAT
    round_trip(d, capsys, "Sesudah pembaruan")  # export numbering carries on: bundle 2
    assert d.run("keys", "rotate-recipient") == 0
    assert d.run("keys", "rotate-signing") == 0
    assert d.run("keys", "rekey-vault") == 0
    capsys.readouterr()
    round_trip(d, capsys, "Sesudah semua kunci diganti")
    loaded = instance_module.load(d.data)
    assert loaded.recipients == (keyfiles.read_public_key(d.home / "inspectorate.pub",
                                                          "recipient"),)
    assert loaded.console_keys == (keyfiles.read_public_key(d.home / "console.pub", "verify"),)

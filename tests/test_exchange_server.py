"""The server's side of the signed bundles: `dropbox export` and `dropbox import`.

Reports are filed through the HTTP routes, bundles move through the real CLI, and what crosses is
checked through the bundle format itself.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dropbox.cli import main as dropbox_main
from keys import keytypes, payload
from keys.bundle import read_bundle, write_bundle
from keys.keyfiles import parse_public_key, read_public_key
from keys.records import check_server_body, today
from support.bundles import response_bundle
from support.inspection import tree_snapshot
from support.instances import MiB, Site, make_site
from support.pages import login, new_source, submit_report


def export(server: Site, out: Path, *extra: str) -> Path:
    assert dropbox_main(["export", "--data", str(server.data), "--out", str(out), *extra]) == 0
    return out


def open_export(server: Site, bundle: Path, staging: Path) -> dict:
    staging.mkdir()
    server_key = read_public_key(server.data / "server.pub", "verify")
    verified = read_bundle(bundle, "server-to-console", lambda key: key == server_key, staging)
    check_server_body(verified.manifest, set(verified.items))
    return {"manifest": verified.manifest, "items": verified.items}


@pytest.fixture
def server(tmp_path: Path) -> Site:
    return make_site(tmp_path, upload_limit=64 * MiB)


def test_export_carries_reports_files_and_source_keys(server: Site, tmp_path: Path) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask, files=[(b"%PDF evidence", "nota.pdf"),
                                                (os.urandom(300_000), "foto.jpg")])
    opened = open_export(server, export(server, tmp_path / "a.bundle"), tmp_path / "stage")
    manifest = opened["manifest"]
    assert manifest["direction"] == "server-to-console"
    assert manifest["instance"] == server.instance_id
    assert [report["regno"] for report in manifest["reports"]] == [regno]
    kinds = sorted(entry["kind"] for entry in manifest["entries"])
    assert kinds == ["file", "file", "report"]
    (source,) = manifest["sources"]
    source_key = parse_public_key(source["public_key"], "recipient").as_recipient()
    assert bytes(source_key) == bytes(server.source_public_key(codename))
    # The bundle carries only envelopes: the inspectorate key opens them, names inside.
    names = set()
    for entry in manifest["entries"]:
        meta, content = payload.open_bytes(
            opened["items"][entry["item"]].read_bytes(), [server.inspectorate])
        if entry["kind"] == "file":
            names.add(meta["name"])
        else:
            assert json.loads(content)["what"] == "Pengadaan laptop digelembungkan"
    assert names == {"nota.pdf", "foto.jpg"}
    raw = (tmp_path / "a.bundle").read_bytes()
    assert b"nota.pdf" not in raw and b"digelembungkan" not in raw


def test_export_is_incremental_and_all_reexports(server: Site, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    new_source(server.flask)
    submit_report(server.flask)
    first = open_export(server, export(server, tmp_path / "1.bundle"), tmp_path / "s1")
    assert len(first["manifest"]["entries"]) == 1
    capsys.readouterr()
    empty = open_export(server, export(server, tmp_path / "2.bundle"), tmp_path / "s2")
    assert "Nothing new to export" in capsys.readouterr().out
    assert empty["manifest"]["entries"] == [] and empty["manifest"]["sequence"] == 2
    submit_report(server.flask, what="Kedua")
    third = open_export(server, export(server, tmp_path / "3.bundle"), tmp_path / "s3")
    assert len(third["manifest"]["entries"]) == 1 and third["manifest"]["sequence"] == 3
    everything = open_export(server, export(server, tmp_path / "4.bundle", "--all"),
                             tmp_path / "s4")
    assert len(everything["manifest"]["entries"]) == 2


def _reply_and_status(server: Site, codename: str, regno: str) -> list[dict]:
    key = server.source_public_key(codename)
    return [
        {"regno": regno, "kind": "status", "source_key": key,
         "document": {"v": 1, "status": "verifying", "note": ""}},
        {"regno": regno, "kind": "reply", "source_key": key,
         "document": {"v": 1, "message": "Terima kasih, mohon kirim bukti kontrak.",
                      "author": "Inspektorat"}},
    ]


def login_and_lookup(server: Site, codename: str) -> str:
    server.flask.post("/logout", data={})  # CSRF-less logout is refused; use a new client
    client = server.flask.application.test_client()
    assert login(client, codename.upper()).status_code == 303
    return client.get("/lookup").get_data(as_text=True)


def test_import_applies_replies_and_statuses_for_the_source(server: Site,
                                                            tmp_path: Path) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    bundle = response_bundle(server, tmp_path / "r1.bundle", 1,
                             _reply_and_status(server, codename, regno))
    assert dropbox_main(["import", "--data", str(server.data), str(bundle)]) == 0
    page = login_and_lookup(server, codename)
    assert "mohon kirim bukti kontrak" in page
    assert "Sedang diverifikasi" in page  # the status label, in Indonesian by default


def test_replayed_and_gapped_bundles_are_refused_and_change_nothing(
        server: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    first = response_bundle(server, tmp_path / "r1.bundle", 1,
                            _reply_and_status(server, codename, regno))
    assert dropbox_main(["import", "--data", str(server.data), str(first)]) == 0
    before = tree_snapshot(server.data)
    capsys.readouterr()
    assert dropbox_main(["import", "--data", str(server.data), str(first)]) == 1
    assert "already applied" in capsys.readouterr().err
    gap = response_bundle(server, tmp_path / "r3.bundle", 3,
                          _reply_and_status(server, codename, regno))
    assert dropbox_main(["import", "--data", str(server.data), str(gap)]) == 1
    assert "skips" in capsys.readouterr().err
    assert tree_snapshot(server.data) == before


@pytest.mark.parametrize("damage", ["flip", "truncate", "append", "not-a-bundle"])
def test_damaged_bundles_are_refused_whole(server: Site, tmp_path: Path, damage: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    bundle = response_bundle(server, tmp_path / "r1.bundle", 1,
                             _reply_and_status(server, codename, regno))
    raw = bytearray(bundle.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) - 10]
    elif damage == "append":
        raw += b"extra"
    else:
        raw = bytearray(b"PK\x03\x04 this is a zip, not a bundle")
    bundle.write_bytes(bytes(raw))
    before = tree_snapshot(server.data)
    assert dropbox_main(["import", "--data", str(server.data), str(bundle)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("dropbox import: error: bundle refused") and error.count("\n") == 1
    assert tree_snapshot(server.data) == before


def test_foreign_signer_wrong_direction_and_other_instance_are_refused(
        server: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    responses = _reply_and_status(server, codename, regno)
    before = tree_snapshot(server.data)
    forged = response_bundle(server, tmp_path / "forged.bundle", 1, responses,
                             signer=keytypes.new_signing_key())
    assert dropbox_main(["import", "--data", str(server.data), str(forged)]) == 1
    assert "trusted key" in capsys.readouterr().err
    other = response_bundle(server, tmp_path / "other.bundle", 1, responses,
                            instance_id="0" * 32)
    assert dropbox_main(["import", "--data", str(server.data), str(other)]) == 1
    assert "another server instance" in capsys.readouterr().err
    # A bundle going the other way, even one signed by the trusted console key, is refused.
    wrong_way = tmp_path / "wrong-way.bundle"
    write_bundle(wrong_way, "server-to-console", {"instance": server.instance_id,
                 "sequence": 1, "created_day": today()}, [], server.console_signing)
    assert dropbox_main(["import", "--data", str(server.data), str(wrong_way)]) == 1
    assert "expects 'console-to-server'" in capsys.readouterr().err
    # The server's own export offered back to it is signed by a key it does not accept.
    own = export(server, tmp_path / "own.bundle")
    before = tree_snapshot(server.data)
    assert dropbox_main(["import", "--data", str(server.data), str(own)]) == 1
    assert "trusted key" in capsys.readouterr().err
    assert tree_snapshot(server.data) == before


def test_response_for_a_report_no_longer_stored_is_skipped(
        server: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    codename = new_source(server.flask)
    submit_report(server.flask)
    key = server.source_public_key(codename)
    bundle = response_bundle(server, tmp_path / "r1.bundle", 1, [
        {"regno": "WBS-0000-0000-0", "kind": "reply", "source_key": key,
         "document": {"v": 1, "message": "x", "author": "I"}}])
    assert dropbox_main(["import", "--data", str(server.data), str(bundle)]) == 0
    assert "skipped a response for WBS-0000-0000-0" in capsys.readouterr().out


_FULL_DISK_IMPORT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from dropbox.cli import main
sys.exit(main(["import", "--data", sys.argv[2], sys.argv[3]]))
"""


def test_full_disk_during_import_leaves_the_server_as_it_was(server: Site,
                                                             tmp_path: Path) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    key = server.source_public_key(codename)
    big = {"regno": regno, "kind": "reply", "source_key": key,
           "document": {"v": 1, "message": "x" * 200_000, "author": "Inspektorat"}}
    bundle = response_bundle(server, tmp_path / "r1.bundle", 1, [big])
    before = tree_snapshot(server.data)
    # Any file write past 64 KiB fails with EFBIG, as a full disk would fail with ENOSPC.
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_IMPORT, str(64 * 1024), str(server.data), str(bundle)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "nothing was applied" in result.stderr and "Traceback" not in result.stderr
    assert tree_snapshot(server.data) == before
    # And once there is room again, the same bundle applies.
    assert dropbox_main(["import", "--data", str(server.data), str(bundle)]) == 0


_KILLED_IMPORT = """
import os, signal, sys
import dropbox.db as db
original = db.set_meta
def die(*args, **kwargs):
    original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)   # inside the transaction, before COMMIT
db.set_meta = die
from dropbox.cli import main
sys.exit(main(["import", "--data", sys.argv[1], sys.argv[2]]))
"""


def test_kill_in_the_middle_of_an_import_applies_nothing(server: Site,
                                                         tmp_path: Path) -> None:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    bundle = response_bundle(server, tmp_path / "r1.bundle", 1,
                             _reply_and_status(server, codename, regno))
    result = subprocess.run([sys.executable, "-c", _KILLED_IMPORT, str(server.data),
                             str(bundle)], capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGKILL
    # The database rolled back; the envelopes the dead import moved in are orphans that the
    # next start-up sweeps, and the same bundle then applies exactly once.
    server.box.setup()
    with server.box.connection() as connection:
        assert connection.execute("SELECT count(*) FROM responses").fetchone()[0] == 0
        entry_ids = sorted(row[0] for row in connection.execute("SELECT entry_id FROM entries"))
    assert sorted(p.stem for p in (server.data / "store" / "items").iterdir()) == entry_ids
    assert dropbox_main(["import", "--data", str(server.data), str(bundle)]) == 0
    assert "mohon kirim bukti kontrak" in login_and_lookup(server, codename)


def test_resource_module_available() -> None:
    # The full-disk test relies on RLIMIT_FSIZE; make its absence loud rather than silent.
    assert hasattr(resource, "RLIMIT_FSIZE")

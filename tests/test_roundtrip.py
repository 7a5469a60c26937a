"""Server → console → server through the real CLIs: bundles both ways, and retention on both sides.

A report filed on the site reaches the console by `dropbox export` / `journalist-console import`;
a reply and a status written on the console reach the reporter's /lookup page by
`journalist-console export` / `dropbox import`; and once the console has acknowledged what it
holds, the server keeps none of that ciphertext.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dropbox.cli import main as dropbox_main
from support.pages import followup_action, login, new_source, submit_report
from support.roundtrip import PASSPHRASE, Deployment, lookup_as


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One full round trip, shared by the assertions below (the real KDFs make it slow)."""
    deployment = Deployment(tmp_path_factory.mktemp("roundtrip"))
    codename = new_source(deployment.client)
    evidence = b"KONTRAK-PENGADAAN " * 5000
    regno = submit_report(deployment.client, what="Markup harga laptop di Biro Umum",
                          who="Kepala Bagian Pengadaan", files=[(evidence, "kontrak.pdf")])
    first = deployment.to_console()
    envelopes = {path.name: path.read_bytes()
                 for path in (deployment.data / "store" / "items").iterdir()}
    assert deployment.console("reply", regno, "--message",
                              "Terima kasih. Mohon kirim salinan kontraknya.") == 0
    assert deployment.console("status", regno, "investigating") == 0
    second = deployment.to_server()
    return {"deployment": deployment, "codename": codename, "regno": regno,
            "evidence": evidence, "first": first, "second": second, "envelopes": envelopes}


def test_report_reaches_the_console_decrypted(journey: dict,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    deployment, regno = journey["deployment"], journey["regno"]
    capsys.readouterr()
    assert deployment.console("list", "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    rows = listing if isinstance(listing, list) else listing.get("reports", [])
    assert [row["regno"] for row in rows] == [regno]
    assert deployment.console("show", regno) == 0
    shown = capsys.readouterr().out
    assert "Markup harga laptop di Biro Umum" in shown and "kontrak.pdf" in shown
    out_dir = deployment.root / "saved"
    out_dir.mkdir()
    assert deployment.console("save", regno, "--out", str(out_dir)) == 0
    saved = [path for path in out_dir.rglob("*") if path.is_file()]
    assert any(path.read_bytes() == journey["evidence"] for path in saved)


def test_reply_and_status_reach_the_reporter(journey: dict) -> None:
    page = lookup_as(journey["deployment"], journey["codename"].upper().replace(" ", "-"))
    assert journey["regno"] in page
    assert "Mohon kirim salinan kontraknya." in page
    assert "Dalam pemeriksaan" in page  # investigating, in the default language


def test_acknowledged_envelopes_are_gone_from_the_server(journey: dict) -> None:
    deployment = journey["deployment"]
    remaining = {path.name for path in (deployment.data / "store" / "items").iterdir()}
    # Every envelope the console acknowledged was deleted: not by name only, by content.
    assert remaining.isdisjoint(journey["envelopes"])
    stored = deployment.stored_bytes()
    for content in journey["envelopes"].values():
        assert content[200:264] not in stored
    with deployment.box.connection() as connection:
        acked = connection.execute("SELECT count(*) FROM entries WHERE acked = 1").fetchone()[0]
        assert acked == len(journey["envelopes"])
    # The reporter still sees the report, its statuses and replies.
    page = lookup_as(deployment, journey["codename"])
    assert journey["regno"] in page and "Mohon kirim salinan kontraknya." in page


def test_replayed_response_bundle_is_refused(journey: dict,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    deployment = journey["deployment"]
    capsys.readouterr()
    assert dropbox_main(["import", "--data", str(deployment.data), str(journey["second"])]) == 1
    assert "already applied" in capsys.readouterr().err


def test_reimporting_the_server_bundle_changes_nothing_on_the_console(
        journey: dict, capsys: pytest.CaptureFixture[str]) -> None:
    deployment = journey["deployment"]
    before = {path: path.read_bytes() for path in deployment.home.rglob("*")
              if path.is_file() and path.suffix == ".env"}
    assert deployment.console("import", str(journey["first"])) == 0
    after = {path: path.read_bytes() for path in deployment.home.rglob("*")
             if path.is_file() and path.suffix == ".env"}
    assert before == after


def test_follow_up_travels_the_same_way(journey: dict, capsys: pytest.CaptureFixture[str]) -> None:
    deployment = journey["deployment"]
    client = deployment.client.application.test_client()
    assert login(client, journey["codename"]).status_code == 303
    lookup = client.get("/lookup").get_data(as_text=True)
    response = client.post(followup_action(lookup, journey["regno"]), data={
        "message": "Salinan kontrak terlampir."}, content_type="multipart/form-data")
    assert response.status_code == 303
    deployment.to_console()
    capsys.readouterr()
    assert deployment.console("show", journey["regno"]) == 0
    assert "Salinan kontrak terlampir." in capsys.readouterr().out


def test_retention_over_a_simulated_month(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    deployment = Deployment(tmp_path)
    unused = new_source(deployment.client.application.test_client())  # never files a report
    codename = new_source(deployment.client)
    regno = submit_report(deployment.client)
    deployment.to_console()
    assert deployment.console("status", regno, "closed", "--note", "Selesai ditindaklanjuti.") == 0
    deployment.to_server()

    def maintain(day: str) -> str:
        capsys.readouterr()
        assert dropbox_main(["maintain", "--data", str(deployment.data), "--as-of", day]) == 0
        return capsys.readouterr().out

    def counts() -> tuple[int, int, int]:
        with deployment.box.connection() as connection:
            sources, reports, responses = (
                connection.execute(query).fetchone()[0]
                for query in ("SELECT count(*) FROM sources", "SELECT count(*) FROM reports",
                              "SELECT count(*) FROM responses"))
        return sources, reports, responses

    today = dt.datetime.now(dt.UTC).date()
    # Day 0: nothing is old enough; the unused source stays until a day has passed.
    maintain(today.isoformat())
    assert counts() == (2, 1, 1)
    # Day 2: the source that never reported is forgotten; the closed report stays for the reporter.
    maintain((today + dt.timedelta(days=2)).isoformat())
    assert counts() == (1, 1, 1)
    assert "Selesai ditindaklanjuti." in lookup_as(deployment, codename)
    with pytest.raises(AssertionError):
        lookup_as(deployment, unused)
    # Past the retention period after closing: the report, its responses and its source go.
    retention = deployment.box.instance.retention_days
    maintain((today + dt.timedelta(days=retention + 1)).isoformat())
    assert counts() == (0, 0, 0)
    assert list((deployment.data / "store" / "items").iterdir()) == []


_FULL_DISK_CONSOLE_IMPORT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from journalist_console.cli import main
sys.exit(main(["import", "--home", sys.argv[2], "--passphrase-file", sys.argv[3],
               "--server-key", sys.argv[4], sys.argv[5]]))
"""


def test_full_disk_during_console_import_leaves_the_console_as_it_was(tmp_path: Path) -> None:
    import subprocess
    import sys

    deployment = Deployment(tmp_path)
    new_source(deployment.client)
    submit_report(deployment.client, files=[(b"B" * 400_000, "besar.bin")])
    bundle = deployment.bundle_path()
    assert dropbox_main(["export", "--data", str(deployment.data), "--out", str(bundle)]) == 0

    def snapshot() -> dict[str, bytes]:
        return {str(path.relative_to(deployment.home)): path.read_bytes()
                for path in sorted(deployment.home.rglob("*")) if path.is_file()}

    before = snapshot()
    # Any file write past 128 KiB fails (EFBIG), as a full disk would (ENOSPC).
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CONSOLE_IMPORT, str(128 * 1024),
         str(deployment.home), str(deployment.passphrase_file),
         str(deployment.data / "server.pub"), str(bundle)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert snapshot() == before
    # With room again the same bundle imports.
    assert deployment.console("import", str(bundle), "--server-key",
                              str(deployment.data / "server.pub")) == 0


def _console_db(deployment: Deployment) -> Any:
    from journalist_console import schema
    from journalist_console.home import Home
    from journalist_console.vault import open_vault

    vault = open_vault(Home(deployment.home), PASSPHRASE.encode())
    return schema.connect(Home(deployment.home).database, vault.db_key)


def test_the_audit_log_cannot_be_rewritten_behind_what_left_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each response bundle carries the head of the console's audit log; the server keeps it and
    sends it back. Someone holding the vault key deletes the newest entries and fixes the stored
    head: the chain alone checks out, but the next import from the server is refused, and
    nothing is imported."""
    from journalist_console import audit, schema

    deployment = Deployment(tmp_path)
    new_source(deployment.client)
    regno = submit_report(deployment.client)
    deployment.to_console()
    assert deployment.console("reply", regno, "--message", "Mohon data tambahan.") == 0
    deployment.to_server()
    conn = _console_db(deployment)
    try:
        exported = audit.head(conn)
        assert exported is not None
        keep = exported.count - 3
        kept_hash = conn.execute("SELECT hash FROM audit WHERE seq = ?", (keep,)).fetchone()[0]
        with schema.transaction(conn):
            conn.execute("DELETE FROM audit WHERE seq > ?", (keep,))
            schema.set_setting(conn, "audit_head", kept_hash)
            schema.set_setting(conn, "audit_count", str(keep))
    finally:
        conn.close()
    capsys.readouterr()
    assert deployment.console("audit", "verify") == 0  # the rewrite is consistent in itself
    out = deployment.bundle_path()
    submit_report(deployment.client, what="Laporan kedua")
    assert dropbox_main(["export", "--data", str(deployment.data), "--out", str(out)]) == 0
    capsys.readouterr()
    assert deployment.console("import", str(out)) == 1
    assert "audit log" in capsys.readouterr().err
    conn = _console_db(deployment)
    try:
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 1  # nothing new
    finally:
        conn.close()


def test_an_untouched_console_imports_and_verifies_against_the_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = Deployment(tmp_path)
    new_source(deployment.client)
    regno = submit_report(deployment.client)
    deployment.to_console()
    assert deployment.console("status", regno, "verifying") == 0
    deployment.to_server()
    submit_report(deployment.client, what="Laporan kedua")
    deployment.to_console()
    capsys.readouterr()
    assert deployment.console("audit", "verify") == 0
    assert "as the server last confirmed them" in capsys.readouterr().out

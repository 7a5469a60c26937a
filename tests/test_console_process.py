"""The installed `journalist-console` in real processes: exit codes, one-line errors, kills."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from journalist_console.home import Home, HomeLock
from support.bundles import FakeServer, read_console_bundle
from support.instances import init_console, write_passphrase_file
from support.processes import CONSOLE_CLI, free_port, run_cli

pytestmark = pytest.mark.skipif(not CONSOLE_CLI.exists(), reason="entry point not installed")


def _common(home: Path, pp: Path) -> list[str | Path]:
    return ["--home", home, "--passphrase-file", pp]


def test_init_import_list_show_through_the_entry_point(tmp_path: Path) -> None:
    home, pp = tmp_path / "home", write_passphrase_file(tmp_path / "pp")
    result = run_cli("init", *_common(home, pp))  # the real argon2id cost
    assert result.returncode == 0, result.stderr
    assert "fingerprint" in result.stdout
    server = FakeServer()
    regno = server.add_report(what="Mark-up harga")
    bundle = tmp_path / "b.bundle"
    server.export(bundle, [home / "inspectorate.pub"])
    server_pub = server.write_verify_key(tmp_path / "server.pub")

    refused = run_cli("import", bundle, *_common(home, pp))  # stdin is not a terminal
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: first import") and refused.stderr.count("\n") == 1

    imported = run_cli("import", bundle, "--server-key", server_pub, *_common(home, pp))
    assert imported.returncode == 0, imported.stderr
    listed = run_cli("list", "--json", *_common(home, pp))
    assert [row["regno"] for row in json.loads(listed.stdout)] == [regno]
    shown = run_cli("show", regno.lower().replace("-", " "), *_common(home, pp))  # as typed
    assert shown.returncode == 0 and "Mark-up harga" in shown.stdout


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    home, pp = tmp_path / "home", write_passphrase_file(tmp_path / "pp")
    init_console(home)
    wrong = write_passphrase_file(tmp_path / "wrong", "salah salah salah salah")
    cases = [
        (["list", *_common(home, wrong)], "error: wrong passphrase\n"),
        (["show", "WBS-0000-0000-0", *_common(home, pp)], None),
        (["status", "x", "y", *_common(home, pp)], None),
        (["import", tmp_path / "none.bundle", *_common(home, pp)], None),
        (["list", *_common(tmp_path / "nothing", pp)], None),
    ]
    for args, exact in cases:
        result = run_cli(*args)
        assert result.returncode == 1, args
        assert "Traceback" not in result.stderr + result.stdout
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, args
        if exact:
            assert result.stderr == exact
    usage = run_cli("frobnicate")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_a_second_process_on_the_same_home_is_refused(tmp_path: Path) -> None:
    home, pp = tmp_path / "home", write_passphrase_file(tmp_path / "pp")
    init_console(home)
    with HomeLock(Home(home)):
        result = run_cli("list", *_common(home, pp))
    assert result.returncode == 1
    assert "another journalist-console is already using" in result.stderr
    assert run_cli("list", *_common(home, pp)).returncode == 0


def _python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_kill_in_the_middle_of_an_import_leaves_the_console_as_before(tmp_path: Path) -> None:
    home, pp = tmp_path / "home", write_passphrase_file(tmp_path / "pp")
    init_console(home)
    server = FakeServer()
    server_pub = server.write_verify_key(tmp_path / "server.pub")
    first = server.add_report()
    server.export(tmp_path / "b1.bundle", [home / "inspectorate.pub"])
    first_import = run_cli(
        "import", tmp_path / "b1.bundle", "--server-key", server_pub, *_common(home, pp)
    )
    assert first_import.returncode == 0, first_import.stderr
    server.add_report(files=[("a.txt", "text/plain", b"abc")])
    server.export(tmp_path / "b2.bundle", [home / "inspectorate.pub"])
    before = sorted(p.name for p in (home / "store" / "entries").iterdir())

    # Kill the process after the envelopes were moved into the store, before COMMIT.
    killed = _python(
        f"""
        import os, sys
        from journalist_console import cli, importer
        importer.fsync_dir = lambda path: os._exit(9)
        sys.exit(cli.main(["import", {str(tmp_path / "b2.bundle")!r}, "--home", {str(home)!r},
                           "--passphrase-file", {str(pp)!r}]))
        """
    )
    assert killed.returncode == 9, killed.stderr
    assert len(list((home / "store" / "entries").iterdir())) > len(before)  # orphans now

    listed = run_cli("list", "--json", *_common(home, pp))
    assert [row["regno"] for row in json.loads(listed.stdout)] == [first]
    assert sorted(p.name for p in (home / "store" / "entries").iterdir()) == before
    again = run_cli("import", tmp_path / "b2.bundle", *_common(home, pp))
    assert again.returncode == 0 and "1 new reports, 2 new entries" in again.stdout


def test_a_kill_after_writing_an_export_is_completed_identically(tmp_path: Path) -> None:
    home, pp = tmp_path / "home", write_passphrase_file(tmp_path / "pp")
    init_console(home)
    server = FakeServer()
    server_pub = server.write_verify_key(tmp_path / "server.pub")
    regno = server.add_report()
    server.export(tmp_path / "b1.bundle", [home / "inspectorate.pub"])
    run_cli("import", tmp_path / "b1.bundle", "--server-key", server_pub, *_common(home, pp))
    run_cli("reply", regno, "--message", "Terima kasih", *_common(home, pp))

    killed = _python(
        f"""
        import os, sys
        from journalist_console import cli, exporter
        exporter._finish = lambda *args: os._exit(9)
        sys.exit(cli.main(["export", "--out", {str(tmp_path / "c1.bundle")!r}, "--home",
                           {str(home)!r}, "--passphrase-file", {str(pp)!r}]))
        """
    )
    assert killed.returncode == 9, killed.stderr
    assert (tmp_path / "c1.bundle").exists()

    completed = run_cli("export", "--out", tmp_path / "c1-again.bundle", *_common(home, pp))
    assert completed.returncode == 0, completed.stderr
    assert "Completed the interrupted export 1" in completed.stdout
    # Same sequence, same content, same signature: the server sees one bundle 1, whichever copy.
    assert (tmp_path / "c1.bundle").read_bytes() == (tmp_path / "c1-again.bundle").read_bytes()
    nxt = run_cli("export", "--out", tmp_path / "c2.bundle", *_common(home, pp))
    assert "empty bundle 2" in nxt.stdout
    manifest = read_console_bundle(tmp_path / "c2.bundle", home / "console.pub", tmp_path / "s")
    assert manifest.manifest["sequence"] == 2 and manifest.manifest["responses"] == []


def test_serve_listens_on_loopback_with_strict_headers(tmp_path: Path) -> None:
    import urllib.request

    home = tmp_path / "home"
    init_console(home)
    port = free_port()
    process = subprocess.Popen(
        [str(CONSOLE_CLI), "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert f"http://127.0.0.1:{port}/" in process.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/unlock", timeout=10) as response:
            page = response.read().decode()
            assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert 'name="passphrase"' in page and "<script" not in page
        busy = run_cli("list", *_common(home, write_passphrase_file(tmp_path / "pp")))
        assert busy.returncode == 1 and "already using" in busy.stderr
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Console stopped" in out

"""Load (the hostile suite): 200 reports with attachments, filed concurrently by 16 clients against
the real server, all arrive in the console byte for byte.

Every client repeats the whole reporter journey (/generate, /create with the real argon2id cost,
/submit with one or two attachments). The operator then runs `dropbox export`; the bundle is
checked twice: decrypted with a second inspectorate key the test holds (always), and imported with
`journalist-console import` and saved by the console (when the console CLI is available).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from keys import keytypes, payload
from keys.bundle import read_bundle
from keys.keyfiles import (
    read_public_key,
    recipient_public_key,
    verify_public_key,
    write_public_key,
)
from keys.records import check_server_body
from support.http import HttpAgent
from support.inspection import store_problems
from support.pages import OneStepReporter
from support.processes import CONSOLE_CLI, DROPBOX_CLI, console_cli_usable, real_server, run

REPORTS = 200
CLIENTS = 16
CONSOLE_OK, CONSOLE_WHY = console_cli_usable()
PASSPHRASE = "beban uji dua ratus laporan " + secrets.token_hex(4)


@dataclass
class Sent:
    what: str
    files: list[tuple[str, bytes]]
    regno: str = ""


@dataclass
class Load:
    sent: dict[str, Sent] = field(default_factory=dict)  # what -> what was sent
    retries: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(port: int, load: Load, counter: itertools.count, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        with load.lock:
            index = next(counter)
        if index >= REPORTS:
            return
        what = f"LOAD-{index:03d}-{secrets.token_hex(6)} dana pengadaan"
        files = [(f"bukti-{index:03d}-{n}.bin", os.urandom(rng.randint(1, 120) * 1024))
                 for n in range(rng.choice([1, 1, 2]))]
        sent = Sent(what, files)
        try:
            for _attempt in range(60):
                agent = HttpAgent(port, timeout=120, user_agent=f"LoadClient/{seed}")
                reporter = OneStepReporter(agent)
                try:
                    reporter.create()
                    break
                except AssertionError:
                    # 503 "busy, retry": beyond the KDF slots and a short queue the server
                    # refuses at once (so pages stay fast); a client retries, with jitter.
                    with load.lock:
                        load.retries["create"] += 1
                    time.sleep(rng.uniform(0.2, 1.0))
            else:
                raise AssertionError("create kept failing")
            sent.regno = reporter.submit(
                {"category": "procurement_fraud", "relation": "employee", "what": what},
                [(name, content, "application/octet-stream") for name, content in files])
        except Exception as exc:  # collected and reported by the test
            with load.lock:
                load.errors.append(f"{index}: {type(exc).__name__}: {exc}"[:300])
            continue
        with load.lock:
            load.sent[what] = sent


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_200_reports_from_16_clients_arrive_byte_for_byte(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    test_key = keytypes.new_recipient_identity()
    write_public_key(keys_dir / "test-inspectorate.pub", recipient_public_key(test_key))
    home = tmp_path / "console-home"
    passfile = tmp_path / "passphrase.txt"
    passfile.write_text(PASSPHRASE + "\n")
    recipients = [keys_dir / "test-inspectorate.pub"]
    if CONSOLE_OK:
        result = run([CONSOLE_CLI, "init", "--home", home, "--passphrase-file", passfile])
        assert result.returncode == 0, result.stderr
        recipients.insert(0, home / "inspectorate.pub")
        console_key = home / "console.pub"
    else:
        console_key = keys_dir / "console.pub"
        write_public_key(console_key, verify_public_key(keytypes.new_signing_key()))
    data = tmp_path / "data"
    result = run([DROPBOX_CLI, "init", "--data", data, "--console-key", console_key,
                  "--upload-limit-mib", "16",
                  *itertools.chain.from_iterable(("--recipient", r) for r in recipients)])
    assert result.returncode == 0, result.stderr

    load = Load()
    counter = itertools.count()
    started = time.monotonic()
    with real_server(data, tmp_path / "server-logs") as server:
        threads = [threading.Thread(target=_client, args=(server.port, load, counter, seed))
                   for seed in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        elapsed = time.monotonic() - started
        exported = tmp_path / "load.bundle"
        result = run([DROPBOX_CLI, "export", "--data", data, "--out", exported])
        assert result.returncode == 0, result.stderr
    assert load.errors == [], load.errors
    assert len(load.sent) == REPORTS, (len(load.sent), elapsed)
    assert len({sent.regno for sent in load.sent.values()}) == REPORTS
    assert store_problems(data) == []
    print(f"\n{REPORTS} reports from {CLIENTS} clients in {elapsed:.1f} s; "
          f"create retries: {dict(load.retries)}")

    # 1. The exported bundle, opened with the test's own inspectorate key.
    staging = tmp_path / "staging"
    staging.mkdir()
    server_key = read_public_key(data / "server.pub", "verify")
    verified = read_bundle(exported, "server-to-console", lambda key: key == server_key, staging)
    check_server_body(verified.manifest, set(verified.items))
    manifest = verified.manifest
    assert len(manifest["reports"]) == REPORTS
    regno_to_what: dict[str, str] = {}
    files_by_regno: dict[str, list[tuple[str, str]]] = {}
    for entry in manifest["entries"]:
        meta, content = payload.open_bytes(verified.items[entry["item"]].read_bytes(), [test_key])
        if entry["kind"] == "report":
            regno_to_what[entry["regno"]] = json.loads(content)["what"]
        else:
            files_by_regno.setdefault(entry["regno"], []).append((meta["name"], _sha(content)))
    for regno, what in regno_to_what.items():
        sent = load.sent[what]
        assert sent.regno == regno
        assert sorted(files_by_regno[regno]) == sorted((n, _sha(c)) for n, c in sent.files)
    assert len(regno_to_what) == REPORTS

    if not CONSOLE_OK:
        pytest.skip(f"console CLI unavailable ({CONSOLE_WHY}): verified through the bundle only")
    _check_in_console(home, passfile, exported, data, load, tmp_path)


def _check_in_console(home: Path, passfile: Path, exported: Path, data: Path, load: Load,
                      tmp_path: Path) -> None:
    """2. `journalist-console import`, then every report's text and files from the console."""
    common = ["--home", home, "--passphrase-file", passfile]
    result = run([CONSOLE_CLI, "import", exported, "--server-key", data / "server.pub", *common])
    assert result.returncode == 0, result.stderr
    listed = run([CONSOLE_CLI, "list", "--json", *common])
    assert listed.returncode == 0, listed.stderr
    regnos = {item["regno"] for item in json.loads(listed.stdout)}
    assert regnos == {sent.regno for sent in load.sent.values()}
    by_regno = {sent.regno: sent for sent in load.sent.values()}
    # A few through the CLI exactly as an investigator would...
    for regno in sorted(regnos)[:2]:
        shown = run([CONSOLE_CLI, "show", regno, *common])
        assert shown.returncode == 0 and by_regno[regno].what in shown.stdout
        out = tmp_path / "cli-saved" / regno
        out.mkdir(parents=True)
        saved = run([CONSOLE_CLI, "save", regno, "--out", out, *common])
        assert saved.returncode == 0, saved.stderr
        assert sorted((p.name, _sha(p.read_bytes())) for p in out.iterdir()) == \
            sorted((n, _sha(c)) for n, c in by_regno[regno].files)
    # ...and all 200 through the same code in one unlocked session (one KDF run, not 200).
    from journalist_console import reports
    from journalist_console.files import save_files
    from journalist_console.home import Home
    from journalist_console.session import Session

    with Session.open(Home(home), PASSPHRASE.encode()) as console:
        for regno, sent in by_regno.items():
            view = reports.view(console, regno)
            assert view.fields is not None and view.fields.what == sent.what
            out = tmp_path / "saved" / regno
            out.mkdir(parents=True)
            saved_files = save_files(console, regno, out)
            got = sorted((item.path.name, _sha(item.path.read_bytes()))
                         for item in saved_files if item.path is not None)
            assert got == sorted((n, _sha(c)) for n, c in sent.files), regno

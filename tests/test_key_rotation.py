"""`dropbox keys`: rotating inspectorate recipient keys and console verify keys, as the operator
guide does it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.cli import main as dropbox_main
from dropbox.service import DropBox
from keys import keytypes, payload
from keys.errors import NotARecipient
from keys.keyfiles import recipient_public_key, verify_public_key, write_public_key
from support.bundles import response_bundle
from support.instances import MiB, Site, make_site
from support.pages import new_source, submit_report


def keys_cli(server: Site, *args: str) -> int:
    return dropbox_main(["keys", "--data", str(server.data), *args])


def restarted(server: Site) -> Site:
    """The server reads its keys at start: a new app over the same data directory."""
    box = DropBox(instance_module.load(server.data), server.box.deriver)
    server.box = box
    server.flask = create_app(box).test_client()
    return server


def envelopes_of(server: Site, regno: str) -> list[bytes]:
    with server.box.connection() as connection:
        ids = [row[0] for row in connection.execute(
            "SELECT entry_id FROM entries WHERE regno = ?", (regno,))]
    return [(server.data / "store" / "items" / f"{item}.env").read_bytes() for item in ids]


def test_recipient_rotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    old = server.inspectorate
    new = keytypes.new_recipient_identity()
    new_pub = tmp_path / "new-inspectorate.pub"
    write_public_key(new_pub, recipient_public_key(new))
    new_source(server.flask)
    before = submit_report(server.flask, what="sebelum rotasi")

    assert keys_cli(server, "--add-recipient", str(new_pub)) == 0
    out = capsys.readouterr().out
    assert recipient_public_key(new).fingerprint in out and "Restart" in out
    restarted(server)
    new_source(server.flask)
    during = submit_report(server.flask, what="selama rotasi")
    for envelope in envelopes_of(server, during):  # both keys open what is stored now
        assert payload.open_bytes(envelope, [old])[0]["kind"] == "report"
        assert payload.open_bytes(envelope, [new])[0]["kind"] == "report"

    assert keys_cli(server, "--remove-recipient",
                    recipient_public_key(old).fingerprint) == 0
    restarted(server)
    new_source(server.flask)
    after = submit_report(server.flask, what="setelah rotasi")
    for envelope in envelopes_of(server, after):
        payload.open_bytes(envelope, [new])
        with pytest.raises(NotARecipient):
            payload.open_bytes(envelope, [old])
    # What was stored before the change stays readable by the key it was sealed to.
    for envelope in envelopes_of(server, before):
        payload.open_bytes(envelope, [old])


def test_recipient_changes_that_are_refused(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    config = (server.data / "config.json").read_bytes()
    only = recipient_public_key(server.inspectorate).fingerprint
    assert keys_cli(server, "--remove-recipient", only) == 1
    assert "last recipient key" in capsys.readouterr().err
    assert keys_cli(server, "--add-recipient", str(tmp_path / "pub" / "inspectorate.pub")) == 1
    assert "already configured" in capsys.readouterr().err
    assert keys_cli(server, "--add-recipient", str(tmp_path / "pub" / "console.pub")) == 1
    assert "wrong key type" in capsys.readouterr().err
    assert keys_cli(server, "--remove-recipient", "AAAA BBBB CCCC DDDD") == 1
    assert "no configured recipient key" in capsys.readouterr().err
    assert (server.data / "config.json").read_bytes() == config


def test_console_key_rotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    reply = [{"regno": regno, "kind": "reply", "source_key": server.source_public_key(codename),
              "document": {"v": 1, "message": "halo", "author": "Inspektorat"}}]
    old_console = server.console_signing
    new_console = keytypes.new_signing_key()
    new_verify = tmp_path / "new-console.pub"
    write_public_key(new_verify, verify_public_key(new_console))

    assert keys_cli(server, "--add-console-key", str(new_verify)) == 0
    signed_new = response_bundle(server, tmp_path / "1.bundle", 1, reply, signer=new_console)
    assert dropbox_main(["import", "--data", str(server.data), str(signed_new)]) == 0

    assert keys_cli(server, "--remove-console-key",
                    verify_public_key(old_console).fingerprint) == 0
    capsys.readouterr()
    signed_old = response_bundle(server, tmp_path / "2.bundle", 2, reply, signer=old_console)
    assert dropbox_main(["import", "--data", str(server.data), str(signed_old)]) == 1
    assert "trusted key" in capsys.readouterr().err

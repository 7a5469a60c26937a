"""`dropbox keys`: rotating inspectorate recipient keys and console verify keys, as the operator
guide does it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.cli import main as dropbox_main
from dropbox.exchange import import_bundle
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


# -- key changes the console announces in the bundles it signs (docs/protocol.md, 9.4) ----------


def _reply(server: Site) -> list[dict[str, object]]:
    codename = new_source(server.flask)
    regno = submit_report(server.flask)
    return [{"regno": regno, "kind": "reply", "source_key": server.source_public_key(codename),
             "document": {"v": 1, "message": "halo", "author": "Inspektorat"}}]


def _import(server: Site, path: Path) -> int:
    return dropbox_main(["import", "--data", str(server.data), str(path)])


def test_a_co_signed_bundle_moves_the_server_to_the_new_console_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    reply = _reply(server)
    old, new = server.console_signing, keytypes.new_signing_key()
    change = {"new_console_key": verify_public_key(new).to_line()}
    first = response_bundle(server, tmp_path / "1.bundle", 1, reply, co_signer=new,
                            key_change=change)
    capsys.readouterr()
    assert _import(server, first) == 0
    out = capsys.readouterr().out
    assert f"console key   added    {verify_public_key(new).fingerprint}" in out
    assert f"console key   retired  {verify_public_key(old).fingerprint}" in out
    loaded = instance_module.load(server.data)
    assert loaded.console_keys == (verify_public_key(new),)
    assert [key for key, _day in loaded.retired_console_keys] == [verify_public_key(old)]
    # Replayed, the bundle changes nothing (it is refused for its sequence number).
    assert _import(server, first) == 1
    assert "already applied" in capsys.readouterr().err
    # The next bundle is signed by the new key alone; one signed by the old key alone is refused,
    # and named as signed by a retired key.
    old_only = response_bundle(server, tmp_path / "2-old.bundle", 2, reply, signer=old)
    assert _import(server, old_only) == 1
    err = capsys.readouterr().err
    assert "retired console key" in err and "trusted key" in err
    assert _import(server, response_bundle(server, tmp_path / "2.bundle", 2, reply,
                                           signer=new)) == 0
    assert keys_cli(server) == 0
    assert "retired console key" in capsys.readouterr().out


def test_a_key_change_written_before_a_crash_is_finished_by_importing_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config.json is rewritten before the database commit: a crash in between leaves the new key
    in force and the bundle unapplied; the same bundle then imports, and changes nothing more."""
    from dropbox import db as server_db

    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    reply = _reply(server)
    new = keytypes.new_signing_key()
    change = {"new_console_key": verify_public_key(new).to_line()}
    bundle_path = response_bundle(server, tmp_path / "1.bundle", 1, reply, co_signer=new,
                                  key_change=change)

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt  # the process dies before the records commit

    with monkeypatch.context() as patched:
        patched.setattr(server_db, "set_meta", crash)
        with pytest.raises(KeyboardInterrupt):
            import_bundle(server.box, bundle_path)
    assert instance_module.load(server.data).console_keys == (verify_public_key(new),)
    assert server.rows()["responses"] == 0
    config = (server.data / "config.json").read_bytes()
    assert _import(server, bundle_path) == 0
    assert server.rows()["responses"] == 1
    assert (server.data / "config.json").read_bytes() == config


def test_key_changes_the_server_refuses(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    reply = _reply(server)
    old, new = server.console_signing, keytypes.new_signing_key()
    config = (server.data / "config.json").read_bytes()
    cases = {
        # A new key the bundle is not signed by: nothing proves the console holds it.
        "did not sign it": dict(key_change={"new_console_key": verify_public_key(new).to_line()}),
        # A second signature that announces nothing.
        "does not announce": dict(co_signer=new),
        "does not announce ": dict(co_signer=new, key_change={
            "new_console_key": verify_public_key(keytypes.new_signing_key()).to_line()}),
    }
    for number, (reason, extra) in enumerate(cases.items()):
        path = response_bundle(server, tmp_path / f"bad-{number}.bundle", 1, reply,
                               **extra)  # type: ignore[arg-type]
        capsys.readouterr()
        assert _import(server, path) == 1
        assert reason.strip() in capsys.readouterr().err
    assert (server.data / "config.json").read_bytes() == config
    assert server.rows()["responses"] == 0
    # A retired key is never taken back through a bundle.
    change = {"new_console_key": verify_public_key(new).to_line()}
    assert _import(server, response_bundle(server, tmp_path / "1.bundle", 1, reply,
                                           co_signer=new, key_change=change)) == 0
    back = {"new_console_key": verify_public_key(old).to_line()}
    path = response_bundle(server, tmp_path / "2.bundle", 2, reply, signer=new, co_signer=old,
                           key_change=back)
    capsys.readouterr()
    assert _import(server, path) == 1
    assert "retired on" in capsys.readouterr().err


def test_a_signed_recipient_change_seals_new_reports_to_the_new_key_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = make_site(tmp_path, upload_limit=64 * MiB, key_files=True)
    old = server.inspectorate
    new = keytypes.new_recipient_identity()
    reply = _reply(server)
    change = {"new_recipient": recipient_public_key(new).to_line(),
              "retired_recipient": recipient_public_key(old).to_line()}
    capsys.readouterr()
    assert _import(server, response_bundle(server, tmp_path / "1.bundle", 1, reply,
                                           key_change=change)) == 0
    out = capsys.readouterr().out
    assert recipient_public_key(new).fingerprint in out and "Restart" in out
    loaded = instance_module.load(server.data)
    assert loaded.recipients == (recipient_public_key(new),)
    assert [key for key, _day in loaded.retired_recipients] == [recipient_public_key(old)]
    restarted(server)
    new_source(server.flask)
    after = submit_report(server.flask, what="setelah rotasi")
    for envelope in envelopes_of(server, after):
        assert payload.open_bytes(envelope, [new])[0]["kind"] == "report"
        with pytest.raises(NotARecipient):
            payload.open_bytes(envelope, [old])

"""What every unlock puts right before anything else runs, so that no interrupted key change is
ever half in force (Session.open calls `settle`; the changes themselves are
journalist_console/rotation.py, repin.py and rekey.py):

- the investigator's box: a version-1 box (the vault key under the passphrase) is rewritten as a
  version-2 box at the cost it had, and the accounts table gets its box key; a box key the table
  does not have (a crash between a box write and its commit) is recorded. Without it a vault
  re-key could not reach this investigator (journalist_console/boxes.py);
- the signing-key switch: once an export that announced the next signing key is written, the
  next key becomes the console's key (the server retires the old one when it imports that
  export, so the console must not sign with it again); a crash between the export's commit and
  the switch is finished here;
- `server_recipient`, the inspectorate key the server was last given, is known (a console from
  before rotation gave it the one it has);
- console.json and the .pub files name the vault's current keys.
"""

from __future__ import annotations

import dataclasses
import json

from journalist_console import accounts, boxes, schema
from journalist_console.home import Home
from journalist_console.vault import (
    Unlocked,
    VaultSecrets,
    replace_file,
    sync_public_files,
    write_secrets,
)
from keys.keyfiles import recipient_public_key, verify_public_key


def settle(
    home: Home, conn: schema.Connection, user: str, passphrase: bytes, unlocked: Unlocked
) -> VaultSecrets:
    """Run after the account was admitted; returns the secrets now in force."""
    _settle_box(home, conn, user, passphrase, unlocked)
    secrets = finish_signing_switch(home, conn, unlocked.vault_key, unlocked.secrets)
    if schema.get_setting(conn, "server_recipient") is None:
        with schema.transaction(conn):
            line = recipient_public_key(secrets.identity).to_line()
            schema.set_setting(conn, "server_recipient", line)
    sync_public_files(home, secrets)
    return secrets


def _settle_box(
    home: Home, conn: schema.Connection, user: str, passphrase: bytes, unlocked: Unlocked
) -> None:
    if unlocked.box_key is None:
        path = home.user_box(user)
        box, key = boxes.upgrade(path.read_bytes(), user, unlocked.vault_key, passphrase)
        # The box is written inside the transaction that records its key: a failed write
        # records nothing; a crash after it leaves a key the table lacks, recorded below.
        with schema.transaction(conn):
            accounts.set_box_key(conn, user, key.to_line())
            replace_file(path, box)
    elif accounts.box_keys(conn).get(user) != unlocked.box_key.to_line():
        with schema.transaction(conn):
            accounts.set_box_key(conn, user, unlocked.box_key.to_line())


def announced_console_keys(conn: schema.Connection) -> set[str]:
    """The verify keys that written exports announced (docs/protocol.md, 9.4)."""
    rows = conn.execute(
        "SELECT key_change FROM exports WHERE state = 'written' AND key_change IS NOT NULL"
    ).fetchall()
    return {str(json.loads(row[0]).get("new_console_key")) for row in rows}


def finish_signing_switch(
    home: Home, conn: schema.Connection, vault_key: bytes, secrets: VaultSecrets
) -> VaultSecrets:
    """The next signing key becomes the key once a written export announced it (idempotent)."""
    following = secrets.next_signing
    if following is None:
        return secrets
    line = verify_public_key(following).to_line()
    if line not in announced_console_keys(conn):
        return secrets
    old = verify_public_key(secrets.signing_key).to_line()
    switched = dataclasses.replace(
        secrets,
        signing_key=following,
        next_signing=None,
        retired_verify=(old, *secrets.retired_verify),
    )
    write_secrets(home, vault_key, switched)
    return switched

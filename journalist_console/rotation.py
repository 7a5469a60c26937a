"""Rotating the console's own keys (administrators), and what the console's keys are now.

`rotate_recipient`: a new inspectorate identity becomes the current one; the old private key
stays in the vault, retired, so every envelope sealed to it (on the server still, in the store, in
a retention archive) keeps opening. Responses and archives are sealed to the new key from now on.
The next export announces the new key and the one it replaces (docs/protocol.md 9.4): the server
takes it from the bundle the console signed, so nobody can slip the operator a key the console did
not make; inspectorate.pub holds it too, for `dropbox keys --add-recipient` by hand.

`rotate_signing`: a new signing key waits in the vault as the next key; the next export announces
it and is signed by the current key and by it. Once that export is written the new key is the
console's key (journalist_console/keyring.py), and the server, importing the bundle, retires the
old one: a bundle signed by the old key alone is refused from then on.

Each rotation is one audit entry, written in the transaction that also replaces secrets.env (the
file last: if writing it fails, nothing is recorded).

What a rotation answers: a key that may have been copied (an investigator who left with the vault
key, a workstation that was out of sight) stops being used for anything new. What it cannot do:
what was sealed to the old key stays readable by whoever copied that key, and whatever plaintext
someone already took is theirs (docs/threat-model.md, section 6).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from journalist_console import accounts, audit, schema, settings
from journalist_console.errors import InvalidInput
from journalist_console.session import Session
from journalist_console.vault import write_secrets
from keys.keyfiles import PublicKey, parse_public_key, recipient_public_key, verify_public_key
from keys.keytypes import new_recipient_identity, new_signing_key


@dataclass(frozen=True)
class KeyStatus:
    """The console's keys, for `keys` (fingerprints to read aloud with the operator)."""

    recipient: PublicKey
    retired_recipients: list[PublicKey]
    server_recipient: PublicKey | None  # the inspectorate key the server was last given
    verify: PublicKey
    next_verify: PublicKey | None  # announced by the next export
    pinned: PublicKey | None
    instance: str | None
    retired_pins: list[settings.RetiredPin]


def status(session: Session) -> KeyStatus:
    vault, conn = session.vault, session.conn
    given = schema.get_setting(conn, "server_recipient")
    return KeyStatus(
        recipient=recipient_public_key(vault.identity),
        retired_recipients=[recipient_public_key(key) for key in vault.retired],
        server_recipient=None if given is None else parse_public_key(given, "recipient"),
        verify=verify_public_key(vault.signing_key),
        next_verify=None if vault.next_signing is None else verify_public_key(vault.next_signing),
        pinned=settings.pinned_server_key(conn),
        instance=settings.instance(conn),
        retired_pins=settings.retired_server_pins(conn),
    )


def rotate_recipient(session: Session) -> tuple[PublicKey, PublicKey]:
    """A new current inspectorate key; the old one is retired, kept. Returns (old, new)."""
    conn, vault = session.conn, session.vault
    accounts.require_admin(conn, session.investigator, "rotate the inspectorate key")
    old = recipient_public_key(vault.identity)
    identity = new_recipient_identity()
    new = recipient_public_key(identity)
    rotated = dataclasses.replace(
        vault, identity=identity, retired=(vault.identity, *vault.retired)
    )
    with schema.transaction(conn):
        detail = {"old": old.fingerprint, "new": new.fingerprint}
        audit.append(conn, session.investigator, "recipient_rotated", None, detail)
        write_secrets(session.home, session.vault_key, rotated)
    session.vault = rotated
    return old, new


def rotate_signing(session: Session) -> tuple[PublicKey, PublicKey]:
    """A next signing key, announced by the next export. Returns (current, next)."""
    conn, vault = session.conn, session.vault
    accounts.require_admin(conn, session.investigator, "rotate the console's signing key")
    current = verify_public_key(vault.signing_key)
    if vault.next_signing is not None:
        raise InvalidInput(
            f"a new signing key ({verify_public_key(vault.next_signing).fingerprint}) already "
            "waits for the next export; export first"
        )
    following = new_signing_key()
    rotated = dataclasses.replace(vault, next_signing=following)
    new = verify_public_key(following)
    with schema.transaction(conn):
        detail = {"current": current.fingerprint, "next": new.fingerprint}
        audit.append(conn, session.investigator, "signing_key_rotated", None, detail)
        write_secrets(session.home, session.vault_key, rotated)
    session.vault = rotated
    return current, new

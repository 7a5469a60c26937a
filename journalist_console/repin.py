"""Re-pinning the server key after the server was rebuilt (administrators; docs/operator.md 12).

The first import pins the server's signing key and its instance, and from then on the console
refuses every bundle signed by another key: a seized server's key can sign bundles that look like
new reports. A rebuilt server has a new key and a new instance, so trusting it is an explicit act:

1. the administrator gives the new server.pub; the console shows the pinned key, the instance it
   served and the last bundle imported from it, and the new key's fingerprint;
2. the fingerprint is confirmed aloud: the operator reads it from the new server, the
   administrator types it (or `--fingerprint`), and it must match the file;
3. one transaction: the old key, its instance and last sequence go into server_pins (retired: a
   bundle signed by that key, or from that instance, is refused for good, however it is replayed),
   the new key is pinned, the instance is forgotten (the new server's first bundle teaches it), an
   export numbered for the old server but never written is unnumbered (what it carried goes to the
   new server), the export numbering starts at 1 again for the new instance (exporter.py), and the
   audit log gets `server_repinned` with both fingerprints.

The new server was installed with the console's current inspectorate.pub and console.pub, so the
console counts its current recipient key as the one the server has. The audit anchor the old server
confirmed stays (the log must still hold it); the new server has none until it has imported a
response bundle, so until then nothing outside the console vouches for the newest entries: note
the head `audit verify` prints on paper at the re-pin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from journalist_console import accounts, audit, dates, exporter, schema, settings
from journalist_console.errors import ConsoleError, InvalidInput
from journalist_console.session import Session
from keys.keyfiles import PublicKey, recipient_public_key


@dataclass(frozen=True)
class Pin:
    """The server key pinned now, its instance and the last bundle imported from it."""

    key: PublicKey
    instance: str | None
    last_sequence: int | None
    last_day: str | None


def current_pin(session: Session) -> Pin | None:
    conn = session.conn
    key = settings.pinned_server_key(conn)
    if key is None:
        return None
    instance = settings.instance(conn)
    row = conn.execute(
        "SELECT max(sequence), max(imported_day) FROM imports WHERE instance = ?", (instance,)
    ).fetchone()
    return Pin(key, instance, row[0], row[1])


Confirm = Callable[[Pin, PublicKey], None]  # shows both keys; raises unless confirmed aloud


def repin(session: Session, new_key: PublicKey, confirm: Confirm) -> Pin:
    """Trust `new_key` instead of the pinned server key; returns the pin it replaced."""
    conn, me = session.conn, session.investigator
    accounts.require_admin(conn, me, "re-pin the server key")
    if new_key.kind != "verify":
        raise InvalidInput("that is not a server (verify) key")
    old = current_pin(session)
    if old is None:
        raise InvalidInput(
            "no server key is pinned yet: the first import pins one (import --server-key)"
        )
    if new_key == old.key:
        raise InvalidInput(f"{new_key.fingerprint} is the pinned server key already")
    for pin in settings.retired_server_pins(conn):
        if pin.key == new_key:
            raise InvalidInput(
                f"{new_key.fingerprint} is a server key retired on {pin.retired_day}; a retired "
                "key is never trusted again"
            )
    confirm(old, new_key)
    today = dates.today().isoformat()
    with schema.transaction(conn):
        conn.execute(
            "INSERT INTO server_pins(public_key, instance, last_sequence, retired_day, "
            "retired_by) VALUES (?, ?, ?, ?, ?)",
            (old.key.to_line(), old.instance, old.last_sequence, today, me),
        )
        schema.set_setting(conn, "server_key", new_key.to_line())
        conn.execute("DELETE FROM settings WHERE name = 'server_instance'")
        for row in conn.execute("SELECT sequence FROM exports WHERE state = 'pending'").fetchall():
            exporter.undo_pending(conn, int(row[0]))
        current = recipient_public_key(session.vault.identity).to_line()
        schema.set_setting(conn, "server_recipient", current)
        detail = {
            "old": old.key.fingerprint,
            "old_instance": old.instance,
            "last_sequence": old.last_sequence,
            "new": new_key.fingerprint,
        }
        audit.append(conn, me, "server_repinned", None, detail)
    return old


def fingerprint_matches(typed: str, key: PublicKey) -> None:
    """The fingerprint as the operator read it aloud, typed: spaces and case do not matter."""
    if typed.replace(" ", "").upper() != key.fingerprint.replace(" ", ""):
        raise ConsoleError(
            f"the fingerprint typed does not match the key file ({key.fingerprint}); nothing "
            "changed: check the file with the operator"
        )

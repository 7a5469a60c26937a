"""Re-keying the vault (administrators): when an investigator leaves, or on demand.

Removing an investigator stops their passphrase, but while they worked they held the vault key in
memory, and may have kept it, or a copy of their box, or the database key. A re-key replaces what
those open:

- a new random vault key; secrets.env sealed to it (the same inspectorate, signing and retired
  keys: rotating those is `keys rotate-recipient` / `rotate-signing`, journalist_console/
  rotation.py);
- a new random database key; the database re-encrypted under it (SQLCipher's PRAGMA rekey);
- every remaining investigator's box re-sealed: the new vault key sealed to their box key, whose
  public half the accounts table keeps (journalist_console/boxes.py), so nobody's passphrase is
  needed and nobody's passphrase changes. A box whose owner has not unlocked since boxes
  became version 2 cannot be reached that way: the re-key refuses until they have unlocked once,
  or an administrator has reset their passphrase.

Afterwards a copy of the old vault key, an old box or the old database key opens nothing current:
not secrets.env, not console.db, not any box. It still opens the copies taken before (an old
secrets.env holds the inspectorate and signing keys of that time: hence the rotations that
follow, in docs/operator.md 10), and nothing can take back plaintext already read or copied.

All of it is written beside the live files and put in place by one commit point, so a kill at any
moment leaves the old vault or the new one: journalist_console/vault_swap.py has the ordering.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from journalist_console import accounts, audit, boxes, schema, vault_swap
from journalist_console.errors import ConsoleError, InvalidInput
from journalist_console.session import Session
from journalist_console.vault import seal_secrets
from keys.keyfiles import parse_public_key
from keys.keytypes import new_recipient_identity


@dataclass(frozen=True)
class RekeyResult:
    investigators: list[str]  # whose boxes were re-sealed


def rekey_vault(session: Session) -> RekeyResult:
    """New vault key, new database key, every remaining box re-sealed; crash-safe."""
    conn, me, home = session.conn, session.investigator, session.home
    accounts.require_admin(conn, me, "re-key the vault")
    box_keys = accounts.box_keys(conn)
    waiting = sorted(name for name, line in box_keys.items() if line is None)
    if waiting:
        raise InvalidInput(
            f"the boxes of {', '.join(waiting)} are from before this release and cannot be "
            "re-sealed without their passphrase: each of them unlocks once (any command), or an "
            "administrator resets their passphrase (user passphrase NAME); then re-key"
        )
    names = sorted(box_keys)
    vault_key = bytes(new_recipient_identity())
    db_key = secrets.token_bytes(schema.KEY_BYTES)
    rekeyed = dataclasses.replace(session.vault, db_key=db_key)
    staging = vault_swap.begin(home)
    try:
        vault_swap.checkpoint("staging")
        vault_swap.put(home, vault_swap.SECRETS, seal_secrets(vault_key, rekeyed))
        vault_swap.checkpoint("secrets-staged")
        for name in names:
            box_key = parse_public_key(str(box_keys[name]), "recipient")
            box = boxes.rewrap(home.user_box(name).read_bytes(), name, vault_key, box_key)
            vault_swap.put(home, f"users/{name}.box", box)
        vault_swap.checkpoint("boxes-staged")
        copy = staging / vault_swap.DATABASE
        _copy_file(home.database, copy)
        vault_swap.checkpoint("database-copied")
        _rekey_copy(copy, session.vault.db_key, db_key, me, names)
        vault_swap.checkpoint("database-rekeyed")
    except BaseException:
        vault_swap.abandon(home)
        raise
    session.conn.close()
    try:
        vault_swap.commit(home, names)
    except BaseException:
        if not (staging / vault_swap.MARKER).exists():
            vault_swap.abandon(home)
            session.conn = schema.connect(home.database, session.vault.db_key)
            raise
    vault_swap.checkpoint("committed")
    try:
        vault_swap.recover(home)
    except OSError as exc:
        raise ConsoleError(
            f"the vault was re-keyed, but putting it in place stopped ({exc.strerror}); the "
            "next unlock finishes it"
        ) from None
    session.vault, session.vault_key = rekeyed, vault_key
    session.conn = schema.connect(home.database, db_key)
    return RekeyResult(names)


def _copy_file(source: Path, target: Path) -> None:
    """The live database, byte for byte (nothing is writing: the home is locked and no
    transaction is open), fsynced. It is still under the old key here."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with source.open("rb") as reading, os.fdopen(fd, "wb") as writing:
        shutil.copyfileobj(reading, writing)
        writing.flush()
        os.fsync(writing.fileno())


def _rekey_copy(copy: Path, old_key: bytes, new_key: bytes, actor: str, names: list[str]) -> None:
    """The audit entry goes into the copy (it is true only if the copy becomes the database),
    then PRAGMA rekey; the copy must open under the new key and no longer under the old."""
    conn = schema.connect(copy, old_key)
    try:
        with schema.transaction(conn):
            audit.append(conn, actor, "vault_rekeyed", None, {"investigators": names})
        schema.rekey(conn, new_key)
    finally:
        conn.close()
    schema.connect(copy, new_key).close()
    try:
        schema.connect(copy, old_key).close()
    except schema.DatabaseUnavailable:
        return
    raise ConsoleError("the database copy still opens under the old key; nothing changed")

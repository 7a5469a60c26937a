"""An investigator's box: how their passphrase reaches the console's vault key.

Since schema version 6 a box (vault/users/<name>.box) holds two layers:

    {"format": "wbs-console-user-box", "version": 2, "user": <name>,
     "public": <wbs-recipient-v1 line of the box key>,
     "key":    <keys.passbox of the box key (X25519, 32 bytes) under the passphrase,
                purpose "wbs-console-user-key-v2/<name>">,
     "vault":  <base64 keys.payload envelope sealed to the box key: the vault key,
                meta {"kind": "wbs-console-vault-key", "user": <name>}>}

The passphrase (one argon2id run) opens the box key; the box key opens the vault key. So the vault
key can be re-sealed to every remaining investigator without their passphrases, from the box keys'
public halves the accounts table keeps (`users.box_key`): that is what a vault re-key does
(journalist_console/rekey.py), leaving the passphrase layer untouched. A box written before
(version 1) is a bare keys.passbox holding the vault key itself, purpose
"wbs-console-vault-key-v1[/<name>]"; it still opens, and is rewritten in this form at its owner's
next unlock (Session.open), since it cannot be re-sealed without the passphrase.

Everything in a box is bound to its name (the purposes, the envelope's meta), so a box copied
over another investigator's opens as nobody else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from journalist_console.errors import ConsoleError
from journalist_console.home import DEFAULT_USER
from keys import keyfiles, passbox, payload
from keys.encoding import b64decode, b64encode
from keys.errors import EnvelopeError, KeyFileError
from keys.keyfiles import KdfParams, PublicKey
from keys.keytypes import new_recipient_identity, recipient_identity

BOX_FORMAT = "wbs-console-user-box"
BOX_VERSION = 2
VAULT_KEY_PURPOSE = "wbs-console-vault-key-v1"
BOX_KEY_PURPOSE = "wbs-console-user-key-v2"
VAULT_KEY_KIND = "wbs-console-vault-key"
VAULT_KEY_BYTES = 32


def vault_purpose(user: str) -> str:
    """The passbox purpose of a version-1 box: binds the box to the name it is stored under."""
    return VAULT_KEY_PURPOSE if user == DEFAULT_USER else f"{VAULT_KEY_PURPOSE}/{user}"


def box_key_purpose(user: str) -> str:
    return f"{BOX_KEY_PURPOSE}/{user}"


@dataclass(frozen=True)
class OpenedBox:
    vault_key: bytes
    box_key: PublicKey | None  # None: a version-1 box (no box key), to be rewritten


def damaged() -> ConsoleError:
    return ConsoleError("the console vault is damaged")


def seal(user: str, vault_key: bytes, passphrase: bytes, kdf: KdfParams) -> tuple[bytes, PublicKey]:
    """A new box for `user`, with a new box key; returns the file's bytes and the box key."""
    if len(vault_key) != VAULT_KEY_BYTES:
        raise damaged()
    box_key = new_recipient_identity()
    public = keyfiles.recipient_public_key(box_key)
    key_box = passbox.seal(bytes(box_key), passphrase, box_key_purpose(user), kdf)
    document = {
        "format": BOX_FORMAT,
        "version": BOX_VERSION,
        "user": user,
        "public": public.to_line(),
        "key": json.loads(key_box),
        "vault": _sealed_vault_key(user, vault_key, public),
    }
    return _encode(document), public


def upgrade(
    document: bytes, user: str, vault_key: bytes, passphrase: bytes
) -> tuple[bytes, PublicKey]:
    """A version-2 box in place of `user`'s version-1 box (just opened with `passphrase`), at the
    argon2id cost the old box had: the passphrase is not new, so no new-passphrase rule applies."""
    try:
        kdf = json.loads(document)["kdf"]
        params = KdfParams(
            time_cost=int(kdf["time_cost"]),
            memory_cost_kib=int(kdf["memory_cost_kib"]),
            parallelism=int(kdf["parallelism"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise damaged() from exc
    return seal(user, vault_key, passphrase, params)


def rewrap(document: bytes, user: str, vault_key: bytes, box_key: PublicKey) -> bytes:
    """The same box with `vault_key` sealed to `box_key` in place of the old vault key: the
    passphrase layer is kept as it is. Refuses a version-1 box, and one whose box key is not
    `box_key` (the accounts table's): a box a crash rewrote, not unlocked by its owner since."""
    box = _parse(document, user)
    if box is None:
        raise ConsoleError(f"the box of {user!r} is from before version 2 (not unlocked since)")
    if box["public"] != box_key.to_line():
        raise ConsoleError(f"the box of {user!r} does not match its account (not unlocked since)")
    return _encode(dict(box, vault=_sealed_vault_key(user, vault_key, box_key)))


def open_box(document: bytes, user: str, passphrase: bytes) -> OpenedBox:
    """The vault key in `user`'s box; WrongPassphrase when the passphrase is wrong."""
    box = _parse(document, user)
    if box is None:
        vault_key = passbox.open_box(document, passphrase, vault_purpose(user))
        if len(vault_key) != VAULT_KEY_BYTES:
            raise damaged()
        return OpenedBox(vault_key, None)
    secret = passbox.open_box(_encode(box["key"]), passphrase, box_key_purpose(user))
    try:
        identity = recipient_identity(secret)
        public = keyfiles.parse_public_key(str(box["public"]), "recipient")
        meta, vault_key = payload.open_bytes(
            b64decode(str(box["vault"])), [identity], max_content=VAULT_KEY_BYTES
        )
    except (ValueError, TypeError, KeyFileError, EnvelopeError) as exc:
        # The passphrase was right: the box key opens, but not this vault key. A box copied from
        # another console or from before a re-key of this one.
        raise ConsoleError(f"the box of {user!r} is damaged") from exc
    if keyfiles.recipient_public_key(identity) != public:
        raise damaged()
    if meta != {"kind": VAULT_KEY_KIND, "user": user} or len(vault_key) != VAULT_KEY_BYTES:
        raise damaged()
    return OpenedBox(vault_key, public)


def _sealed_vault_key(user: str, vault_key: bytes, box_key: PublicKey) -> str:
    meta = {"kind": VAULT_KEY_KIND, "user": user}
    return b64encode(payload.seal_bytes(meta, vault_key, [box_key.as_recipient()]))


def _parse(document: bytes, user: str) -> dict[str, Any] | None:
    """A version-2 box's fields, or None for a version-1 box (a bare passbox)."""
    try:
        box: Any = json.loads(document)
    except (ValueError, RecursionError) as exc:
        raise KeyFileError("damaged passphrase box") from exc
    if not isinstance(box, dict):
        raise KeyFileError("damaged passphrase box")
    if box.get("format") == passbox.FORMAT:
        return None
    if box.get("format") != BOX_FORMAT or box.get("version") != BOX_VERSION:
        raise KeyFileError("not an investigator's box of a known version")
    if box.get("user") != user or not isinstance(box.get("key"), dict):
        raise KeyFileError(f"passphrase box is for {str(box.get('user'))[:40]!r}, not {user!r}")
    return box


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"

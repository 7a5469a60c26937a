"""The vault: the console's secrets, the investigators' passphrase boxes, and `init`.

Unlocking (one argon2id run, about a quarter of a second):

    box key   = passbox.open_box(users/<user>.box "key", passphrase)   X25519, per investigator
    vault_key = payload.open_bytes(users/<user>.box "vault", [box key])  32 random bytes
    secrets   = payload.open_bytes(secrets.env, [X25519 private key vault_key])
              = {inspectorate X25519 key (current, and every retired one), console Ed25519
                 signing key (and the next one while a change is announced), database key}

(journalist_console/boxes.py describes a box, and the version-1 box that held the vault key under
the passphrase directly.) The vault key is random and used as an X25519 identity: the secrets are
an ordinary keys.payload envelope sealed to its public key. The passphrase therefore never keys
any data directly. Each investigator has their own users/<name>.box reaching the same vault key;
adding one writes a box, changing a passphrase rewrites one box (with a new box key), removing an
investigator overwrites and deletes their box; replacing a secret (a new signing key) rewrites
secrets.env with the vault key alone. None of these re-encrypts the database or the store; a vault
re-key (journalist_console/rekey.py) replaces the vault key and the database key as well.

Who may unlock, with which role, is decided by the accounts table of the database
(journalist_console.accounts): a box of a name that is not an active account is refused.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journalist_console import audit, boxes, dates, schema
from journalist_console.errors import ConsoleError, UnknownAccount
from journalist_console.home import (
    DEFAULT_USER,
    HOME_FORMAT,
    HOME_VERSION,
    Home,
    HomeLock,
    check_user_name,
)
from journalist_console.texts import Text
from keys import keyfiles, payload
from keys.disk import fsync_dir, wipe_file
from keys.encoding import b64decode, b64encode
from keys.errors import EnvelopeError, KeyFileError, NotARecipient
from keys.keyfiles import DEFAULT_KDF, KdfParams, PublicKey
from keys.keytypes import (
    RecipientIdentity,
    SigningKey,
    new_recipient_identity,
    new_signing_key,
    recipient_identity,
    signing_key,
)

SECRETS_KIND = "wbs-console-secrets"
# The secrets document grows by one retired key per rotation; this is a cap against a damaged
# file, not a budget (a hundred rotations fit many times over).
MAX_SECRETS_BYTES = 64 * 1024
DEFAULT_AUTHOR = "Inspektorat"
MIN_PASSPHRASE_CHARS = 12
MAX_PASSPHRASE_BYTES = 1024
# argon2id cost of boxes written after init (None: keys.keyfiles.DEFAULT_KDF); tests lower it.
NEW_BOX_KDF: KdfParams | None = None


@dataclass(frozen=True)
class VaultSecrets:
    """What an unlock yields; held in memory only while the console is open.

    Version 2 of the document keeps what key changes need: the retired inspectorate keys (every
    envelope, archive and retention archive sealed to one of them must keep opening), the next
    signing key while an export announces it, and the public lines of retired signing keys (to
    recognise console.json and console.pub left by an interrupted change, never to sign).
    """

    identity: RecipientIdentity
    signing_key: SigningKey
    db_key: bytes
    retired: tuple[RecipientIdentity, ...] = ()  # earlier inspectorate keys, newest first
    next_signing: SigningKey | None = None
    retired_verify: tuple[str, ...] = ()

    @property
    def identities(self) -> list[RecipientIdentity]:
        """Every inspectorate key this console reads with: the current one first."""
        return [self.identity, *self.retired]

    def encode(self) -> bytes:
        document: dict[str, Any] = {
            "v": 2,
            "recipient": b64encode(bytes(self.identity)),
            "signing": b64encode(bytes(self.signing_key)),
            "db_key": b64encode(self.db_key),
            "retired_recipients": [b64encode(bytes(key)) for key in self.retired],
            "retired_verify": list(self.retired_verify),
        }
        if self.next_signing is not None:
            document["next_signing"] = b64encode(bytes(self.next_signing))
        return json.dumps(document, sort_keys=True).encode("ascii")

    @classmethod
    def decode(cls, data: bytes) -> VaultSecrets:
        try:
            document: Any = json.loads(data)
            if document.get("v") not in (1, 2):
                raise ValueError("unknown vault version")
            db_key = b64decode(document["db_key"])
            if len(db_key) != schema.KEY_BYTES:
                raise ValueError("bad database key")
            following = document.get("next_signing")
            return cls(
                identity=recipient_identity(b64decode(document["recipient"])),
                signing_key=signing_key(b64decode(document["signing"])),
                db_key=db_key,
                retired=tuple(
                    recipient_identity(b64decode(text))
                    for text in document.get("retired_recipients", [])
                ),
                next_signing=None if following is None else signing_key(b64decode(following)),
                retired_verify=tuple(
                    keyfiles.parse_public_key(line, "verify").to_line()
                    for line in document.get("retired_verify", [])
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError, KeyFileError) as exc:
            raise ConsoleError("the console vault is damaged") from exc

    def known_public_lines(self) -> tuple[set[str], set[str]]:
        """(recipient lines, verify lines) this vault has ever had: console.json may name any
        of them (an interrupted change); anything else means the files were swapped."""
        recipients = {keyfiles.recipient_public_key(key).to_line() for key in self.identities}
        verify = {keyfiles.verify_public_key(self.signing_key).to_line(), *self.retired_verify}
        if self.next_signing is not None:
            verify.add(keyfiles.verify_public_key(self.next_signing).to_line())
        return recipients, verify


@dataclass(frozen=True)
class Unlocked:
    vault_key: bytes
    secrets: VaultSecrets
    box_key: PublicKey | None  # None: a version-1 box, rewritten by Session.open


def check_new_passphrase(passphrase: bytes) -> None:
    if len(passphrase) > MAX_PASSPHRASE_BYTES:
        raise ConsoleError(f"passphrase longer than {MAX_PASSPHRASE_BYTES} bytes")
    try:
        text = passphrase.decode("utf-8")
    except UnicodeDecodeError:
        raise ConsoleError("passphrase is not valid UTF-8") from None
    if len(text.strip()) < MIN_PASSPHRASE_CHARS:
        raise ConsoleError(
            Text("The passphrase is too short: at least %(n)s characters.", n=MIN_PASSPHRASE_CHARS),
            f"passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters",
        )


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class InitResult:
    recipient: PublicKey
    verify: PublicKey


def init_home(
    root: Path,
    passphrase: bytes,
    kdf: KdfParams = DEFAULT_KDF,
    due_days: int = dates.DEFAULT_DUE_DAYS,
    author: str = DEFAULT_AUTHOR,
    user: str = DEFAULT_USER,
) -> InitResult:
    """Create a console home; refuses a directory that is not empty. console.json comes last.

    `user` is the first investigator and the console's first administrator.
    """
    check_user_name(user)
    check_new_passphrase(passphrase)
    if not 1 <= due_days <= dates.MAX_DUE_DAYS:
        raise ConsoleError(f"due days must be between 1 and {dates.MAX_DUE_DAYS}")
    home = Home(root)
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(f"cannot create {root}: {exc.strerror}") from None
    with HomeLock(home):
        if home.is_initialised():
            raise ConsoleError(f"{root} already holds a console; refusing to overwrite it")
        leftovers = [p.name for p in root.iterdir() if p.name != home.lock_file.name]
        if leftovers:
            raise ConsoleError(f"{root} is not empty; choose a new or empty directory")
        secrets_ = VaultSecrets(
            identity=new_recipient_identity(),
            signing_key=new_signing_key(),
            db_key=secrets.token_bytes(schema.KEY_BYTES),
        )
        for directory in (
            home.users_dir,
            home.entries_dir,
            home.responses_dir,
            home.exports_dir,
            home.staging_dir,
        ):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        vault_key = new_recipient_identity()
        _write_exclusive(home.secrets_file, seal_secrets(bytes(vault_key), secrets_), 0o600)
        box, box_key = boxes.seal(user, bytes(vault_key), passphrase, kdf)
        _write_exclusive(home.user_box(user), box, 0o600)
        recipient = keyfiles.recipient_public_key(secrets_.identity)
        verify = keyfiles.verify_public_key(secrets_.signing_key)
        conn = schema.connect(home.database, secrets_.db_key)
        try:
            with schema.transaction(conn):
                schema.set_setting(conn, "due_days", str(due_days))
                schema.set_setting(conn, "author_name", author)
                schema.set_setting(conn, "export_sequence", "0")
                # The recipient key the server will have (from inspectorate.pub, at its init).
                schema.set_setting(conn, "server_recipient", recipient.to_line())
                conn.execute(
                    "INSERT INTO users(name, role, display_name, created_day, created_by, "
                    "box_key) VALUES (?, 'admin', NULL, ?, ?, ?)",
                    (user, dates.today().isoformat(), user, box_key.to_line()),
                )
                audit.append(
                    conn,
                    user,
                    "init",
                    None,
                    {
                        "recipient": recipient.fingerprint,
                        "verify": verify.fingerprint,
                        "admin": user,
                    },
                )
        finally:
            conn.close()
        keyfiles.write_public_key(home.inspectorate_pub, recipient)
        keyfiles.write_public_key(home.console_pub, verify)
        document = {
            "format": HOME_FORMAT,
            "version": HOME_VERSION,
            "recipient": recipient.to_line(),
            "verify": verify.to_line(),
            "created_day": dates.today().isoformat(),
            "default_user": user,
        }
        _write_exclusive(
            home.config, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode(), 0o644
        )
    return InitResult(recipient=recipient, verify=verify)


def open_vault(home: Home, passphrase: bytes, user: str | None = None) -> VaultSecrets:
    """One argon2id run; WrongPassphrase (a KeyFileError) when the passphrase is wrong."""
    return unlock_vault(home, passphrase, user).secrets


def unlock_vault(home: Home, passphrase: bytes, user: str | None = None) -> Unlocked:
    """The vault key and the secrets, through `user`'s box (default: home.resolve_user(None)).

    This checks the passphrase only; whether `user` may use the console (an active account) is
    the accounts table's decision, made once the database is open (Session.open).
    """
    home.require_initialised()
    user = home.resolve_user(user)
    path = home.user_box(user)
    try:
        document = path.read_bytes()
    except FileNotFoundError:
        raise UnknownAccount.missing(
            user, f"no investigator {user!r} can unlock this console (never added, or removed)"
        ) from None
    except OSError as exc:
        raise ConsoleError(f"{path}: cannot read the vault ({exc.strerror})") from None
    if len(passphrase) > MAX_PASSPHRASE_BYTES:
        raise ConsoleError("wrong passphrase")
    opened = boxes.open_box(document, user, passphrase)
    try:
        meta, content = payload.open_bytes(
            home.secrets_file.read_bytes(),
            [recipient_identity(opened.vault_key)],
            max_content=MAX_SECRETS_BYTES,
        )
    except OSError as exc:
        raise ConsoleError(f"{home.secrets_file}: cannot read ({exc.strerror})") from None
    except NotARecipient:
        # The passphrase was right, the vault key is not this vault's: a box kept from before a
        # re-key (a departed investigator's copy), or from another console.
        raise ConsoleError(
            Text(
                "This passphrase box does not open the console's vault: it is older than the "
                "last re-key of the vault, or from another console."
            ),
            f"the box of {user!r} does not open this console's vault (older than the last "
            "re-key of the vault, or from another console)",
        ) from None
    except EnvelopeError as exc:
        raise ConsoleError(f"{home.secrets_file} is damaged ({exc})") from None
    if meta.get("kind") != SECRETS_KIND:
        raise ConsoleError(f"{home.secrets_file} is not the console's secrets")
    vault = VaultSecrets.decode(content)
    recipient, verify = home.public_keys()
    recipients, verifies = vault.known_public_lines()
    if recipient.to_line() not in recipients or verify.to_line() not in verifies:
        raise ConsoleError(f"{home.config} does not match the vault (keys were swapped?)")
    return Unlocked(opened.vault_key, vault, opened.box_key)


def seal_secrets(vault_key: bytes, secrets_: VaultSecrets) -> bytes:
    return payload.seal_bytes(
        {"kind": SECRETS_KIND}, secrets_.encode(), [recipient_identity(vault_key).public_key]
    )


def write_secrets(home: Home, vault_key: bytes, secrets_: VaultSecrets) -> None:
    """Replace secrets.env (atomically, the old one overwritten), then bring console.json and
    the .pub files in line with it. In this order a crash leaves console.json naming a key the
    new vault still knows (as retired), which the next unlock accepts and corrects."""
    replace_file(home.secrets_file, seal_secrets(vault_key, secrets_))
    sync_public_files(home, secrets_)


def sync_public_files(home: Home, secrets_: VaultSecrets) -> None:
    """console.json, inspectorate.pub and console.pub name the vault's current keys (what the
    operator is given); the .pub files first, console.json, the one unlock checks, last."""
    recipient = keyfiles.recipient_public_key(secrets_.identity)
    verify = keyfiles.verify_public_key(secrets_.signing_key)
    if home.public_keys() == (recipient, verify):
        return
    for path, key in ((home.inspectorate_pub, recipient), (home.console_pub, verify)):
        fresh = path.with_name(path.name + ".new")
        fresh.unlink(missing_ok=True)
        keyfiles.write_public_key(fresh, key)
        os.replace(fresh, path)
    document = json.loads(home.config.read_text("utf-8"))
    document.update(recipient=recipient.to_line(), verify=verify.to_line())
    fresh = home.config.with_name(home.config.name + ".new")
    fresh.unlink(missing_ok=True)
    _write_exclusive(fresh, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode(), 0o644)
    os.replace(fresh, home.config)
    fsync_dir(home.root)


def write_user_box(
    home: Home, user: str, vault_key: bytes, passphrase: bytes, kdf: KdfParams | None = None
) -> PublicKey:
    """Seal the vault key under `user`'s passphrase into users/<user>.box, creating or replacing;
    returns the box's new box key, for the accounts table (`users.box_key`).

    The caller holds the home's lock. A replaced box is overwritten once it is no longer the
    live one (see replace_file), so the old passphrase does not keep opening a stray copy on disk.
    """
    check_new_passphrase(passphrase)
    box, box_key = boxes.seal(user, vault_key, passphrase, kdf or NEW_BOX_KDF or DEFAULT_KDF)
    home.users_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_file(home.user_box(user), box)
    return box_key


def replace_file(path: Path, data: bytes) -> None:
    """Atomically put `data` at `path` (mode 0600), then overwrite and delete the old content.

    Steps: write <path>.new and fsync; hard-link the live file as <path>.old; rename .new over
    the live name and fsync the directory; overwrite .old's blocks and unlink it. A crash leaves
    either the old or the new file live, and leftovers that cleanup_boxes removes safely.
    """
    fresh = path.with_name(path.name + ".new")
    old = path.with_name(path.name + ".old")
    wipe_file(fresh)
    remove_leftover(old, path)
    _write_exclusive(fresh, data, 0o600)
    had_old = False
    try:
        os.link(path, old, follow_symlinks=False)
        had_old = True
    except FileNotFoundError:
        pass
    os.replace(fresh, path)
    fsync_dir(path.parent)
    if had_old:
        wipe_file(old)


def remove_leftover(leftover: Path, live: Path) -> None:
    """Remove <box>.old: only unlink it when it still is the live box (a hard link to it)."""
    try:
        same = os.path.samefile(leftover, live)
    except OSError:
        same = False
    if same:
        leftover.unlink(missing_ok=True)
        fsync_dir(leftover.parent)
    else:
        wipe_file(leftover)


def cleanup_boxes(home: Home) -> None:
    """Remove what an interrupted box replacement left in vault/users/ (never a live box)."""
    try:
        paths = list(home.users_dir.iterdir())
    except OSError:
        return
    for path in paths:
        if path.name.endswith(".box.new"):
            wipe_file(path)
        elif path.name.endswith(".box.old"):
            remove_leftover(path, path.with_name(path.name.removesuffix(".old")))

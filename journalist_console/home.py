"""The console's home directory: layout, the single-instance lock, `init`, and the vault.

Layout of a home (every path below is relative to it):

    console.json                public facts: format, the two public-key lines, created day
    inspectorate.pub            the inspectorate's X25519 recipient key line (for the operator)
    console.pub                 the console's Ed25519 verify key line (for the operator)
    vault/secrets.env           the console's secrets, an envelope sealed to the vault key
    vault/users/<user>.box      the vault key, sealed under that investigator's passphrase
    console.db                  SQLCipher database, keyed by the vault's database key
    store/entries/<id>.env      envelopes imported from the server (still encrypted)
    store/responses/<id>.env    the console's replies and status changes (encrypted)
    exports/                    response bundles written by the web interface
    staging/                    scratch space for an import in progress (emptied at start-up)
    console.lock                fcntl lock: one console process per home

Unlocking (one argon2id run, about a quarter of a second):

    vault_key = passbox.open_box(users/<user>.box, passphrase)      32 random bytes
    secrets   = payload.open_bytes(secrets.env, [X25519 private key vault_key])
              = {inspectorate X25519 key, console Ed25519 signing key, database key}

The vault key is random and used as an X25519 identity: the secrets are an ordinary keys.payload
envelope sealed to its public key. The passphrase therefore never keys any data directly. Giving a
second investigator access (a later issue) is one more users/<name>.box holding the same vault key;
changing a passphrase rewrites one box; replacing a secret (say a new signing key) rewrites
secrets.env with the vault key alone. None of these re-encrypts the database or the store.
Today the console has one investigator, `investigator`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing

from journalist_console import audit, dates, schema
from journalist_console.errors import ConsoleBusy, ConsoleError, NotInitialised
from keys import keyfiles, passbox, payload
from keys.encoding import b64decode, b64encode
from keys.errors import EnvelopeError, KeyFileError
from keys.keyfiles import DEFAULT_KDF, KdfParams, PublicKey

HOME_FORMAT = "wbs-console-home"
HOME_VERSION = 1
VAULT_KEY_PURPOSE = "wbs-console-vault-key-v1"
SECRETS_KIND = "wbs-console-secrets"
VAULT_KEY_BYTES = 32
DEFAULT_USER = "investigator"
DEFAULT_AUTHOR = "Inspektorat"
MIN_PASSPHRASE_CHARS = 12
MAX_PASSPHRASE_BYTES = 1024
_USER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "console.json"

    @property
    def inspectorate_pub(self) -> Path:
        return self.root / "inspectorate.pub"

    @property
    def console_pub(self) -> Path:
        return self.root / "console.pub"

    @property
    def users_dir(self) -> Path:
        return self.root / "vault" / "users"

    @property
    def secrets_file(self) -> Path:
        return self.root / "vault" / "secrets.env"

    def user_box(self, user: str) -> Path:
        if not _USER_NAME.match(user):
            raise ConsoleError("invalid investigator name")
        return self.users_dir / f"{user}.box"

    @property
    def database(self) -> Path:
        return self.root / "console.db"

    @property
    def entries_dir(self) -> Path:
        return self.root / "store" / "entries"

    @property
    def responses_dir(self) -> Path:
        return self.root / "store" / "responses"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging"

    @property
    def lock_file(self) -> Path:
        return self.root / "console.lock"

    def entry_path(self, entry_id: str) -> Path:
        return self.entries_dir / f"{entry_id}.env"

    def response_path(self, response_id: str) -> Path:
        return self.responses_dir / f"{response_id}.env"

    def is_initialised(self) -> bool:
        return self.config.is_file()

    def require_initialised(self) -> None:
        if not self.is_initialised():
            raise NotInitialised(
                f"{self.root} is not a console home (run `journalist-console init --home DIR`)"
            )

    def public_keys(self) -> tuple[PublicKey, PublicKey]:
        """(inspectorate recipient key, console verify key), as recorded at init."""
        try:
            document = json.loads(self.config.read_text("utf-8"))
            if document.get("format") != HOME_FORMAT or document.get("version") != HOME_VERSION:
                raise ConsoleError(f"{self.config}: not a console home of a known version")
            return (
                keyfiles.parse_public_key(document["recipient"], "recipient"),
                keyfiles.parse_public_key(document["verify"], "verify"),
            )
        except (OSError, ValueError, KeyError, TypeError, KeyFileError) as exc:
            raise ConsoleError(f"{self.config} is damaged: {exc}") from None


class HomeLock:
    """An exclusive, non-blocking fcntl lock on console.lock, held for the process's lifetime."""

    def __init__(self, home: Home) -> None:
        self._home = home
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self._home.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConsoleBusy(
                f"another journalist-console is already using {self._home.root}; "
                "close it (or stop `serve`) first"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class VaultSecrets:
    """What an unlock yields; held in memory only while the console is open."""

    identity: nacl.public.PrivateKey
    signing_key: nacl.signing.SigningKey
    db_key: bytes

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "recipient": b64encode(bytes(self.identity)),
                "signing": b64encode(bytes(self.signing_key)),
                "db_key": b64encode(self.db_key),
            },
            sort_keys=True,
        ).encode("ascii")

    @classmethod
    def decode(cls, data: bytes) -> VaultSecrets:
        try:
            document: Any = json.loads(data)
            if document.get("v") != 1:
                raise ValueError("unknown vault version")
            db_key = b64decode(document["db_key"])
            if len(db_key) != schema.KEY_BYTES:
                raise ValueError("bad database key")
            return cls(
                identity=nacl.public.PrivateKey(b64decode(document["recipient"])),
                signing_key=nacl.signing.SigningKey(b64decode(document["signing"])),
                db_key=db_key,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConsoleError("the console vault is damaged") from exc


def check_new_passphrase(passphrase: bytes) -> None:
    if len(passphrase) > MAX_PASSPHRASE_BYTES:
        raise ConsoleError(f"passphrase longer than {MAX_PASSPHRASE_BYTES} bytes")
    try:
        text = passphrase.decode("utf-8")
    except UnicodeDecodeError:
        raise ConsoleError("passphrase is not valid UTF-8") from None
    if len(text.strip()) < MIN_PASSPHRASE_CHARS:
        raise ConsoleError(f"passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters")


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
) -> InitResult:
    """Create a console home; refuses a directory that is not empty. console.json comes last."""
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
            identity=nacl.public.PrivateKey.generate(),
            signing_key=nacl.signing.SigningKey.generate(),
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
        vault_key = nacl.public.PrivateKey.generate()
        sealed = payload.seal_bytes(
            {"kind": SECRETS_KIND}, secrets_.encode(), [vault_key.public_key]
        )
        _write_exclusive(home.secrets_file, sealed, 0o600)
        box = passbox.seal(bytes(vault_key), passphrase, VAULT_KEY_PURPOSE, kdf)
        _write_exclusive(home.user_box(DEFAULT_USER), box, 0o600)
        recipient = keyfiles.recipient_public_key(secrets_.identity)
        verify = keyfiles.verify_public_key(secrets_.signing_key)
        conn = schema.connect(home.database, secrets_.db_key)
        try:
            with schema.transaction(conn):
                schema.set_setting(conn, "due_days", str(due_days))
                schema.set_setting(conn, "author_name", author)
                schema.set_setting(conn, "export_sequence", "0")
                audit.append(
                    conn,
                    DEFAULT_USER,
                    "init",
                    None,
                    {"recipient": recipient.fingerprint, "verify": verify.fingerprint},
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
        }
        _write_exclusive(
            home.config, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode(), 0o644
        )
    return InitResult(recipient=recipient, verify=verify)


def open_vault(home: Home, passphrase: bytes, user: str = DEFAULT_USER) -> VaultSecrets:
    """One argon2id run; WrongPassphrase (a KeyFileError) when the passphrase is wrong."""
    home.require_initialised()
    path = home.user_box(user)
    try:
        document = path.read_bytes()
    except OSError as exc:
        raise ConsoleError(f"{path}: cannot read the vault ({exc.strerror})") from None
    if len(passphrase) > MAX_PASSPHRASE_BYTES:
        raise ConsoleError("wrong passphrase")
    vault_key = passbox.open_box(document, passphrase, VAULT_KEY_PURPOSE)
    if len(vault_key) != VAULT_KEY_BYTES:
        raise ConsoleError("the console vault is damaged")
    try:
        meta, content = payload.open_bytes(
            home.secrets_file.read_bytes(),
            [nacl.public.PrivateKey(vault_key)],
            max_content=payload.MAX_META_BYTES,
        )
    except OSError as exc:
        raise ConsoleError(f"{home.secrets_file}: cannot read ({exc.strerror})") from None
    except EnvelopeError as exc:
        raise ConsoleError(f"{home.secrets_file} is damaged ({exc})") from None
    if meta.get("kind") != SECRETS_KIND:
        raise ConsoleError(f"{home.secrets_file} is not the console's secrets")
    vault = VaultSecrets.decode(content)
    recipient, verify = home.public_keys()
    if (
        keyfiles.recipient_public_key(vault.identity) != recipient
        or keyfiles.verify_public_key(vault.signing_key) != verify
    ):
        raise ConsoleError(f"{home.config} does not match the vault (keys were swapped?)")
    return vault


def change_passphrase(
    home: Home,
    old: bytes,
    new: bytes,
    user: str = DEFAULT_USER,
    kdf: KdfParams = DEFAULT_KDF,
) -> None:
    """Re-seal one investigator's vault key under a new passphrase (the caller holds the lock)."""
    check_new_passphrase(new)
    path = home.user_box(user)
    vault_key = passbox.open_box(path.read_bytes(), old, VAULT_KEY_PURPOSE)
    fresh = path.with_name(path.name + ".new")
    fresh.unlink(missing_ok=True)
    _write_exclusive(fresh, passbox.seal(vault_key, new, VAULT_KEY_PURPOSE, kdf), 0o600)
    os.replace(fresh, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

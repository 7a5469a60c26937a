"""The console's home directory: its layout and the single-instance lock.

Layout of a home (every path below is relative to it):

    console.json                public facts: format, the two public-key lines, created day
    inspectorate.pub            the inspectorate's X25519 recipient key line (for the operator)
    console.pub                 the console's Ed25519 verify key line (for the operator)
    vault/secrets.env           the console's secrets, an envelope sealed to the vault key
    vault/users/<user>.box      the vault key, sealed under that investigator's passphrase
    console.db                  SQLCipher database, keyed by the vault's database key
    store/entries/<id>.env      envelopes imported from the server (still encrypted)
    store/responses/<id>.env    the console's replies and status changes (encrypted)
    store/renditions/<id>-<part>.env  safe renditions of file <id>: page images, text (encrypted)
    exports/                    response bundles written by the web interface
    staging/                    scratch space for an import in progress (emptied at start-up)
    console.lock                fcntl lock: one console process per home

What the vault holds and how it opens is journalist_console/vault.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from journalist_console.errors import ConsoleBusy, ConsoleError, NotInitialised
from journalist_console.texts import Text
from keys import keyfiles
from keys.errors import KeyFileError
from keys.keyfiles import PublicKey

HOME_FORMAT = "wbs-console-home"
HOME_VERSION = 1
DEFAULT_USER = "investigator"
_USER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")
BOX_SUFFIX = ".box"


def check_user_name(user: str) -> str:
    if not isinstance(user, str) or not _USER_NAME.match(user):
        raise ConsoleError(
            Text(
                "Invalid user name: lower-case letters, digits, - or _, starting with a letter "
                "(max. 32)."
            ),
            f"invalid investigator name {str(user)[:40]!r}: use 1 to 32 lower-case letters, "
            "digits, '-' or '_', starting with a letter",
        )
    return user


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
        return self.users_dir / f"{check_user_name(user)}{BOX_SUFFIX}"

    def box_names(self) -> list[str]:
        """The names that have a passphrase box (whether or not their account is active)."""
        try:
            names = [
                p.name.removesuffix(BOX_SUFFIX)
                for p in self.users_dir.iterdir()
                if p.name.endswith(BOX_SUFFIX)
            ]
        except OSError:
            return []
        return sorted(name for name in names if _USER_NAME.match(name))

    def default_user(self) -> str | None:
        """Who a command acts as without --user: the only investigator, or the console's first.

        The first is `investigator` or the name given to `init --user` (recorded in console.json);
        None when several investigators have boxes and none of them is the default one.
        """
        names = self.box_names()
        if len(names) == 1:
            return names[0]
        first = self._recorded_default() or DEFAULT_USER
        if first in names:
            return first
        return None

    def _recorded_default(self) -> str | None:
        try:
            value = json.loads(self.config.read_text("utf-8")).get("default_user")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and _USER_NAME.match(value) else None

    def resolve_user(self, user: str | None) -> str:
        """The investigator a command acts as: `user` if given, else the default one."""
        if user is not None:
            return check_user_name(user)
        default = self.default_user()
        if default is None:
            raise ConsoleError(
                Text("Several investigators use this console; fill in your user name."),
                "several investigators use this console; say who you are with --user NAME",
            )
        return default

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
    def renditions_dir(self) -> Path:
        return self.root / "store" / "renditions"

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

    def rendition_path(self, entry_id: str, part: str) -> Path:
        return self.renditions_dir / f"{entry_id}-{part}.env"

    def rendition_files(self, entry_id: str) -> list[Path]:
        """Every file of one entry's rendition, finished or partial."""
        try:
            return sorted(self.renditions_dir.glob(f"{entry_id}-*"))
        except OSError:
            return []

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

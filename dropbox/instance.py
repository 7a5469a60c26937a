"""An instance's data directory: its layout, creation (`dropbox init`) and loading.

    DATA/                   mode 0700
      config.json           instance id, recipient keys, console verify keys (and the retired
                            ones, with the day each was retired), limits
      db.key                random 256-bit SQLCipher key (0600), never inside the database
      codename-salts.json   the two per-instance argon2id salts (0600), never inside the database
      server-signing.key    the server's Ed25519 bundle-signing key (0600)
      server.pub            its verify key, for the console's first import
      dropbox.db            SQLCipher database (schema: dropbox/db.py)
      store/                envelopes only (layout: dropbox/store.py)

The server never holds a key that decrypts reports: config.json carries only public keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dropbox.store import round_times_to_day
from keys import codename
from keys.disk import fsync_dir
from keys.encoding import b64decode, b64encode
from keys.errors import KeyFileError
from keys.keyfiles import (
    PublicKey,
    PublicKind,
    parse_public_key,
    read_signing_key,
    verify_public_key,
    write_public_key,
    write_secret_key,
)
from keys.keytypes import RecipientKey, SigningKey, new_signing_key
from keys.records import new_id, today

CONFIG_FILE = "config.json"
DB_KEY_FILE = "db.key"
SALTS_FILE = "codename-salts.json"
SIGNING_KEY_FILE = "server-signing.key"
SERVER_PUB_FILE = "server.pub"
DEFAULT_UPLOAD_LIMIT = 1024 * 1024 * 1024  # 1 GiB per submission
DEFAULT_SESSION_IDLE_SECONDS = 2 * 60 * 60
DEFAULT_RETENTION_DAYS = 90


class InstanceError(Exception):
    """The data directory is missing, unsafe or inconsistent; the message says what to fix."""


@dataclass(frozen=True)
class Instance:
    data_dir: Path
    instance_id: str
    recipients: tuple[PublicKey, ...]
    console_keys: tuple[PublicKey, ...]
    upload_limit: int
    session_idle_seconds: int
    retention_days: int
    # How codenames become lookup ids and keys (docs/protocol.md, 6.3). Fixed at `init`: changing
    # it would lock out every source that already has a codename.
    codename_scheme: codename.Scheme = codename.CURRENT_SCHEME
    # The onion address(es) the site answers to, besides the loopback (`dropbox onion`).
    onion_names: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    # Keys taken out of service (`dropbox keys --remove-...`, or a key change the console
    # announced): (key, day retired). A bundle signed only by a retired console key is refused by
    # name, and the console cannot bring a retired key back (dropbox/exchange.py).
    retired_recipients: tuple[tuple[PublicKey, str], ...] = ()
    retired_console_keys: tuple[tuple[PublicKey, str], ...] = ()

    @property
    def recipient_keys(self) -> list[RecipientKey]:
        return [key.as_recipient() for key in self.recipients]

    def db_key(self) -> bytes:
        return bytes.fromhex(_read_private_text(self.data_dir / DB_KEY_FILE).strip())

    def codename_salts(self) -> tuple[bytes, bytes]:
        salts = json.loads(_read_private_text(self.data_dir / SALTS_FILE))
        return b64decode(salts["lookup"]), b64decode(salts["key"])

    def signing_key(self) -> SigningKey:
        return read_signing_key(self.data_dir / SIGNING_KEY_FILE, None)

    @property
    def server_public_key(self) -> PublicKey:
        return verify_public_key(self.signing_key())


def _read_private_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise InstanceError(f"{path}: cannot read ({exc.strerror})") from exc


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def create(
    data_dir: Path,
    recipients: list[PublicKey],
    console_keys: list[PublicKey],
    upload_limit: int = DEFAULT_UPLOAD_LIMIT,
) -> Instance:
    """Create a new instance; refuses to touch a directory that already holds one."""
    if not recipients:
        raise InstanceError("at least one --recipient key is required")
    if not console_keys:
        raise InstanceError("a --console-key is required")
    if (data_dir / CONFIG_FILE).exists():
        raise InstanceError(f"{data_dir} already holds an instance; refusing to overwrite it")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InstanceError(f"{data_dir} is not empty; refusing to initialise there")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    _write_private(data_dir / DB_KEY_FILE, secrets.token_hex(32) + "\n")
    lookup_salt, key_salt = codename.new_salts()
    _write_private(
        data_dir / SALTS_FILE,
        json.dumps({"lookup": b64encode(lookup_salt), "key": b64encode(key_salt)}) + "\n",
    )
    signing_key = new_signing_key()
    write_secret_key(data_dir / SIGNING_KEY_FILE, "ed25519-signing", bytes(signing_key), None)
    write_public_key(data_dir / SERVER_PUB_FILE, verify_public_key(signing_key))
    config = {
        "format": "wbs-dropbox-instance",
        "version": 1,
        "instance_id": new_id(),
        "recipients": [key.to_line() for key in recipients],
        "console_keys": [key.to_line() for key in console_keys],
        "upload_limit": upload_limit,
        "session_idle_seconds": DEFAULT_SESSION_IDLE_SECONDS,
        "retention_days": DEFAULT_RETENTION_DAYS,
        "codename_scheme": codename.CURRENT_SCHEME,
    }
    # config.json is written last: its presence is what marks a complete instance.
    _write_private(data_dir / CONFIG_FILE, json.dumps(config, indent=1) + "\n")
    return load(data_dir)


KEY_LISTS: dict[str, PublicKind] = {"recipients": "recipient", "console_keys": "verify"}
RETIRED_LISTS = {"recipients": "retired_recipients", "console_keys": "retired_console_keys"}


def change_keys(
    data_dir: Path, which: str, add: PublicKey | None = None, remove_fingerprint: str | None = None
) -> Instance:
    """Add or remove one recipient or console key; config.json is rewritten atomically.

    Adding keeps the old keys (rotation: the old recipient stays until its reports are
    processed); the last key of a list cannot be removed; a removed key is kept in the list of
    retired keys. A running server reads the keys at start, so it must be restarted.
    """
    kind = KEY_LISTS[which]
    config = _editable_config(data_dir)
    keys = [parse_public_key(line, kind) for line in config[which]]
    if add is not None:
        if add.kind != kind:
            raise InstanceError(f"that is a {add.kind} key, not a {kind} key")
        if add in keys:
            raise InstanceError(f"key {add.fingerprint} is already configured")
        _add_key(config, which, add)
    if remove_fingerprint is not None:
        wanted = remove_fingerprint.replace(" ", "").upper()
        remaining = [key for key in keys if key.fingerprint.replace(" ", "") != wanted]
        if len(remaining) == len(keys):
            raise InstanceError(f"no configured {kind} key has fingerprint {remove_fingerprint}")
        if not remaining:
            raise InstanceError(f"refusing to remove the last {kind} key")
        for key in keys:
            if key not in remaining:
                _retire_key(config, which, key)
    _replace_config(data_dir, config)
    return load(data_dir)


def change_onion_names(
    data_dir: Path, add: str | None = None, remove: str | None = None
) -> Instance:
    """Add or remove an onion address the site answers to; a running server reads them at
    start. Only a v3 onion address (56 letters and digits, then .onion) is accepted."""
    config = _editable_config(data_dir)
    names = [str(name) for name in config.get("onion_names", [])]
    if add is not None:
        name = add.strip().lower()
        if not ONION_NAME.fullmatch(name):
            raise InstanceError(f"{add!r} is not a v3 onion address (56 characters + .onion)")
        if name not in names:
            names.append(name)
    if remove is not None:
        if remove.strip().lower() not in names:
            raise InstanceError(f"{remove!r} is not configured")
        names.remove(remove.strip().lower())
    config["onion_names"] = names
    _replace_config(data_dir, config)
    return load(data_dir)


def apply_key_change(
    data_dir: Path,
    add_recipient: PublicKey | None,
    retire_recipient: PublicKey | None,
    add_console_key: PublicKey | None,
    retire_console_keys: tuple[PublicKey, ...],
) -> list[str]:
    """A key change the console announced in a bundle it signed (docs/protocol.md, 9.4), in one
    atomic rewrite of config.json. New keys are added before old ones are retired, so no list is
    ever empty; what is already done is skipped, so applying it twice changes nothing. Returns
    what changed, one line each, for the operator."""
    config = _editable_config(data_dir)
    changes = []
    steps = (
        ("recipients", add_recipient, (retire_recipient,) if retire_recipient else ()),
        ("console_keys", add_console_key, retire_console_keys),
    )
    for which, new, old in steps:
        name = "recipient key" if which == "recipients" else "console key  "
        if new is not None and new.to_line() not in config[which]:
            _add_key(config, which, new)
            changes.append(f"{name} added    {new.fingerprint}")
        for key in old:
            if key.to_line() in config[which] and len(config[which]) > 1:
                _retire_key(config, which, key)
                changes.append(f"{name} retired  {key.fingerprint}")
    if changes:
        _replace_config(data_dir, config)
    return changes


def _editable_config(data_dir: Path) -> dict[str, Any]:
    load(data_dir)  # refuse to edit a configuration that does not load
    config: dict[str, Any] = json.loads(_read_private_text(data_dir / CONFIG_FILE))
    return config


def _add_key(config: dict[str, Any], which: str, key: PublicKey) -> None:
    """Configure `key` (a retired key brought back by the operator leaves the retired list)."""
    config[which] = [*config[which], key.to_line()]
    retired = config.get(RETIRED_LISTS[which], [])
    config[RETIRED_LISTS[which]] = [entry for entry in retired if entry["key"] != key.to_line()]


def _retire_key(config: dict[str, Any], which: str, key: PublicKey) -> None:
    config[which] = [line for line in config[which] if line != key.to_line()]
    retired = config.setdefault(RETIRED_LISTS[which], [])
    if all(entry["key"] != key.to_line() for entry in retired):
        retired.append({"key": key.to_line(), "day": today()})


def _replace_config(data_dir: Path, config: dict[str, Any]) -> None:
    """Write config.json whole or not at all: a temporary file, fsync, rename, fsync the
    directory (a key change is ordered before the database commit that goes with it)."""
    config_path = data_dir / CONFIG_FILE
    partial = config_path.with_name(CONFIG_FILE + ".new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(config, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, config_path)
    fsync_dir(data_dir)


def hide_times_of_day(data_dir: Path) -> None:
    """After an operator command: no access time of the data directory, its files and the
    store's directories tells when the command ran (relatime stamps a read after a write)."""
    store = data_dir / "store"
    for path in (data_dir, *data_dir.iterdir(), store / "items", store / "pending"):
        with contextlib.suppress(FileNotFoundError):
            round_times_to_day(path)
    # Listing the directory above stamped its own access time once more.
    round_times_to_day(data_dir)


def check_permissions(data_dir: Path) -> list[str]:
    """Problems that make the directory unsafe to serve from (readable by others, wrong owner)."""
    problems = []
    for path in [
        data_dir,
        *(
            data_dir / name
            for name in (
                DB_KEY_FILE,
                SALTS_FILE,
                SIGNING_KEY_FILE,
                CONFIG_FILE,
                "dropbox.db",
                "store",
            )
        ),
    ]:
        try:
            info = path.stat()
        except OSError:
            problems.append(f"{path} is missing")
            continue
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"{path} is accessible to group or others (chmod go-rwx)")
        if info.st_uid != os.getuid():
            problems.append(f"{path} is not owned by the user running the server")
    return problems


_SCHEMES: dict[object, codename.Scheme] = {1: 1, 2: 2}
ONION_NAME = re.compile(r"[a-z2-7]{56}\.onion")


def _onion_names(config_path: Path, names: Any) -> tuple[str, ...]:
    if not isinstance(names, list) or not all(
        isinstance(name, str) and ONION_NAME.fullmatch(name) for name in names
    ):
        raise InstanceError(f"{config_path}: onion_names must be a list of v3 onion addresses")
    return tuple(names)


def load(data_dir: Path) -> Instance:
    config_path = data_dir / CONFIG_FILE
    if not config_path.exists():
        raise InstanceError(f"{data_dir} holds no instance (run `dropbox init` first)")
    try:
        config = json.loads(_read_private_text(config_path))
    except ValueError as exc:
        raise InstanceError(f"{config_path}: not valid JSON") from exc
    if config.get("format") != "wbs-dropbox-instance" or config.get("version") != 1:
        raise InstanceError(f"{config_path}: not a drop box configuration of a known version")
    try:
        recipients = tuple(parse_public_key(line, "recipient") for line in config["recipients"])
        console_keys = tuple(parse_public_key(line, "verify") for line in config["console_keys"])
    except (KeyError, TypeError) as exc:
        raise InstanceError(f"{config_path}: recipient or console keys missing") from exc
    except KeyFileError as exc:
        raise InstanceError(f"{config_path}: {exc}") from exc
    if not recipients:
        raise InstanceError(f"{config_path}: no recipient keys configured")
    try:
        retired = {
            which: tuple(
                (parse_public_key(str(entry["key"]), KEY_LISTS[which]), str(entry["day"]))
                for entry in config.get(RETIRED_LISTS[which], [])
            )
            for which in KEY_LISTS
        }
    except (KeyError, TypeError, KeyFileError) as exc:
        raise InstanceError(f"{config_path}: the list of retired keys is damaged") from exc
    # An instance made before scheme 2 has no entry: its codenames were derived under scheme 1.
    raw_scheme = config.get("codename_scheme", 1)
    if isinstance(raw_scheme, bool) or raw_scheme not in _SCHEMES:
        raise InstanceError(f"{config_path}: unknown codename_scheme {raw_scheme!r}")
    return Instance(
        data_dir=data_dir,
        instance_id=str(config["instance_id"]),
        recipients=recipients,
        console_keys=console_keys,
        upload_limit=int(config.get("upload_limit", DEFAULT_UPLOAD_LIMIT)),
        session_idle_seconds=int(config.get("session_idle_seconds", DEFAULT_SESSION_IDLE_SECONDS)),
        retention_days=int(config.get("retention_days", DEFAULT_RETENTION_DAYS)),
        codename_scheme=_SCHEMES[raw_scheme],
        onion_names=_onion_names(config_path, config.get("onion_names", [])),
        settings=config,
        retired_recipients=retired["recipients"],
        retired_console_keys=retired["console_keys"],
    )

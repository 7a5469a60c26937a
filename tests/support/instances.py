"""What the tests run against: server instances and console homes, made as `dropbox init` and
`journalist-console init` make them, with cheap key derivations.

- `make_site` (the one server factory): an instance, its DropBox and Flask app, the inspectorate's
  private key and the console's signing key kept for the assertions (`Site`);
- `write_key_files`: the two public-key files an operator gets from the console;
- `init_console`, `write_passphrase_file`, `console_identity`: console homes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from dropbox import instance as inst
from dropbox.app import create_app
from dropbox.service import DropBox
from journalist_console.home import DEFAULT_USER, Home
from journalist_console.vault import InitResult, init_home, open_vault
from keys import payload
from keys.codename import CodenameDeriver, CodenameKdfParams
from keys.keyfiles import (
    KdfParams,
    parse_public_key,
    recipient_public_key,
    verify_public_key,
    write_public_key,
)
from keys.keytypes import (
    RecipientIdentity,
    RecipientKey,
    SigningKey,
    new_recipient_identity,
    new_signing_key,
)
from support.http import FlaskAgent

# Cheap enough for dozens of tests; the real costs are exercised by a few tests on purpose.
CODENAME_KDF = CodenameKdfParams(time_cost=1, memory_cost_kib=8192)
BOX_KDF = KdfParams(time_cost=1, memory_cost_kib=8 * 1024, parallelism=1)
PASSPHRASE = "kopi tubruk di pagi hari"
MiB = 1024 * 1024


@dataclass
class Site:
    data_dir: Path
    instance: inst.Instance
    box: DropBox
    recipient: RecipientIdentity  # the inspectorate's key: the only one that may decrypt
    console_key: SigningKey  # signs response bundles
    app: Any = None
    flask: FlaskClient | None = None  # one Flask test client kept across calls (its cookies)

    def client(self) -> FlaskAgent:
        """A new agent over the Flask test client (its own cookies)."""
        assert self.app is not None
        return FlaskAgent(self.app)

    # The names the exchange, rotation and hostile tests use for the same things.
    @property
    def data(self) -> Path:
        return self.data_dir

    @property
    def inspectorate(self) -> RecipientIdentity:
        return self.recipient

    @property
    def console_signing(self) -> SigningKey:
        return self.console_key

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id

    @property
    def items_dir(self) -> Path:
        return self.data_dir / "store" / "items"

    @property
    def pending_dir(self) -> Path:
        return self.data_dir / "store" / "pending"

    def items(self) -> list[Path]:
        return sorted(self.items_dir.glob("*"))

    def pending(self) -> list[Path]:
        return sorted(self.pending_dir.glob("*"))

    def rows(self) -> dict[str, int]:
        with self.box.connection() as connection:
            return {
                table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("sources", "reports", "entries", "responses")
            }

    def snapshot(self) -> dict[str, Any]:
        """What a bad request must leave unchanged: item files, rows, an empty pending dir."""
        return {"items": [p.name for p in self.items()], "rows": self.rows()}

    def assert_unchanged(self, before: dict[str, Any], kept: int = 0) -> None:
        """Nothing stored; store/pending holds only the `kept` uploads of a form sent back for
        correction (encrypted, waiting for the corrected form), nothing else."""
        after = self.snapshot()
        assert after == before, f"store or database changed: {before} -> {after}"
        assert len(self.pending()) == kept, f"pending uploads: {self.pending()}, want {kept}"

    def decrypt_items(
        self, identity: RecipientIdentity | None = None
    ) -> dict[str, tuple[dict[str, Any], bytes]]:
        """Every stored envelope opened with the inspectorate key (or `identity`)."""
        key = identity or self.recipient
        opened = {}
        for path in self.items():
            with path.open("rb") as handle:
                sink = io.BytesIO()
                meta, _size = payload.read_payload(handle, [key], sink)
            opened[path.stem] = (meta, sink.getvalue())
        return opened

    def dump_db(self) -> str:
        """Every value of every table (opened with the DB key), as one string to search."""
        parts = []
        with self.box.connection() as connection:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                    parts.extend(repr(value) for value in tuple(row))
        return "\n".join(parts)

    def source_key_for(self, regno: str) -> RecipientKey:
        with self.box.connection() as connection:
            row = connection.execute(
                "SELECT s.public_key FROM sources s JOIN reports r ON r.source_id = s.source_id"
                " WHERE r.regno = ?",
                (regno,),
            ).fetchone()
        assert row is not None, f"no report {regno}"
        return parse_public_key(row["public_key"], "recipient").as_recipient()

    def source_public_key(self, codename: str) -> RecipientKey:
        """The key the server derives from a codename (what replies are sealed to)."""
        return self.box.derive(codename).public_key


def make_site(
    tmp_path: Path,
    *,
    upload_limit: int | None = None,
    fast_kdf: bool = True,
    deriver_kwargs: dict[str, Any] | None = None,
    with_app: bool = True,
    name: str = "data",
    key_files: bool = False,
) -> Site:
    """A fresh instance + DropBox (+ Flask app and test client) in a temporary directory, created
    as `dropbox init` does, with a cheap codename KDF unless `fast_kdf` is False; `key_files`
    also leaves the two public-key files the operator gave init in <tmp_path>/pub."""
    recipient = new_recipient_identity()
    console_key = new_signing_key()
    kwargs = {} if upload_limit is None else {"upload_limit": upload_limit}
    instance = inst.create(
        tmp_path / name,
        [recipient_public_key(recipient)],
        [verify_public_key(console_key)],
        **kwargs,
    )
    if key_files:
        keys_dir = tmp_path / ("pub" if name == "data" else f"pub-{name}")
        keys_dir.mkdir(exist_ok=True)
        write_public_key(keys_dir / "inspectorate.pub", recipient_public_key(recipient))
        write_public_key(keys_dir / "console.pub", verify_public_key(console_key))
    deriver = None
    if fast_kdf or deriver_kwargs:
        options = dict(deriver_kwargs or {})
        if fast_kdf:
            options.setdefault("params", CODENAME_KDF)
        deriver = CodenameDeriver(*instance.codename_salts(), **options)
    box = DropBox(instance, deriver)
    box.setup()
    site = Site(instance.data_dir, instance, box, recipient, console_key)
    if with_app:
        site.app = create_app(box)
        site.flask = site.app.test_client()
    return site


def write_key_files(directory: Path) -> tuple[Path, Path, RecipientIdentity]:
    """An inspectorate recipient file and a console verify file, as `journalist-console init`."""
    directory.mkdir(parents=True, exist_ok=True)
    recipient = new_recipient_identity()
    recipient_file = directory / "inspectorate.pub"
    console_file = directory / "console.pub"
    write_public_key(recipient_file, recipient_public_key(recipient))
    write_public_key(console_file, verify_public_key(new_signing_key()))
    return recipient_file, console_file, recipient


def write_passphrase_file(path: Path, passphrase: str = PASSPHRASE) -> Path:
    path.write_text(passphrase + "\n", encoding="utf-8")
    return path


def init_console(
    home: Path,
    passphrase: str = PASSPHRASE,
    kdf: KdfParams = BOX_KDF,
    due_days: int = 30,
    user: str = DEFAULT_USER,
) -> InitResult:
    """A console home created through the library (cheap KDF unless told otherwise).

    `user` is its first investigator and administrator (the default one: `investigator`).
    """
    return init_home(home, passphrase.encode("utf-8"), kdf=kdf, due_days=due_days, user=user)


def console_identity(home: Path, passphrase: str = PASSPHRASE) -> RecipientIdentity:
    """The inspectorate's private key from a console home (for checking responses)."""
    return open_vault(Home(home), passphrase.encode("utf-8")).identity

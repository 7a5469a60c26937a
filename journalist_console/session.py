"""An unlocked console: the home, the vault's secrets, the database connection, the acting
investigator and the home's lock, for as long as one command (or one web unlock) lasts.

A Session exists only after an unlock (the vault's keys are in memory) and while the home's lock
is held by this process. Every operation (journalist_console.reports, responses, staff, settings,
importer, exporter, retention...) takes one and acts as its investigator, who is the actor of
every audit entry. Opening a session also tidies the home: whatever an interrupted import,
response, removal or retention left behind is removed then (`cleanup`), never anything recorded.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from journalist_console import accounts, answers, keyring, schema, vault_swap
from journalist_console.home import Home, HomeLock
from journalist_console.vault import VaultSecrets, cleanup_boxes, unlock_vault
from keys.disk import wipe_file


@dataclass
class Session:
    """An unlocked console home. Use as a context manager, or call close()."""

    home: Home
    vault: VaultSecrets
    conn: schema.Connection
    investigator: str  # the authenticated investigator: the actor of every audit entry
    lock: HomeLock
    vault_key: bytes = b""  # to seal a box for a new investigator or a new passphrase
    # One operation at a time, whatever thread the web server runs a request on.
    mutex: threading.RLock = field(default_factory=threading.RLock)
    # Called first by close(): work tied to this session (a background conversion) stops.
    closing: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        home: Home,
        passphrase: bytes,
        user: str | None = None,
        lock: HomeLock | None = None,
    ) -> Session:
        """Lock the home (unless the caller holds `lock`), unlock the vault, open the database.

        `user` (default: the home's default investigator) must have an active account. A vault
        re-key a kill interrupted is finished or undone first, before any box is read
        (journalist_console/vault_swap.py); key changes are settled after the account is
        admitted (journalist_console/keyring.py).
        """
        home.require_initialised()
        own_lock = lock is None
        held = lock or HomeLock(home)
        if own_lock:
            held.acquire()
        try:
            name = home.resolve_user(user)
            vault_swap.recover(home)
            unlocked = unlock_vault(home, passphrase, name)
            conn = schema.connect(home.database, unlocked.secrets.db_key)
        except BaseException:
            if own_lock:
                held.release()
            raise
        session = cls(
            home,
            unlocked.secrets,
            conn,
            name,
            held if own_lock else HomeLock(home),
            unlocked.vault_key,
        )
        try:
            accounts.admit(conn, home, name)
            session.vault = keyring.settle(home, conn, name, passphrase, unlocked)
            session.cleanup()
            # A database migrated to version 4 learns which earlier responses answered the
            # reporter, which only the inspectorate's keys can tell (see answers.settle).
            answers.settle(conn, home, session.vault.identities)
        except BaseException:
            session.close()
            raise
        return session

    def close(self) -> None:
        while self.closing:
            self.closing.pop()()
        self.conn.close()
        self.lock.release()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cleanup(self) -> None:
        """Remove what an interrupted import or response left behind (never anything recorded)."""
        staging = self.home.staging_dir
        staging.mkdir(mode=0o700, exist_ok=True)
        for leftover in staging.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        known_entries = {r[0] for r in self.conn.execute("SELECT entry_id FROM entries")}
        known_responses = {r[0] for r in self.conn.execute("SELECT response_id FROM responses")}
        known_renditions = {r[0] for r in self.conn.execute("SELECT entry_id FROM renditions")}
        for directory, known in (
            (self.home.entries_dir, known_entries),
            (self.home.responses_dir, known_responses),
            (self.home.renditions_dir, known_renditions),  # <entry_id>-<part>.env
        ):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            for path in directory.iterdir():
                stem = path.name.removesuffix(".env").split("-", 1)[0]
                if not path.name.endswith(".env") or stem not in known:
                    # Overwritten, not just unlinked: an envelope whose row is gone may be what a
                    # retention run removed just before the process died (see retention.py).
                    wipe_file(path)
        cleanup_boxes(self.home)
        accounts.wipe_removed_boxes(self.conn, self.home)

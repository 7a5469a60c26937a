"""Putting a re-keyed vault in place so that a kill at any moment leaves the old vault or the new,
never neither (the operation itself is journalist_console/rekey.py).

A re-key changes three kinds of file together: secrets.env (sealed to the vault key), every
investigator's box (which seals the vault key to their box key) and console.db (SQLCipher, under
the database key the secrets hold). No rename replaces three files at once, so:

Crash-ordering rules
--------------------
1. Nothing live is touched before the commit point. Everything new is written beside the old, in
   vault/rekey/: secrets.env (sealed to the new vault key), users/<name>.box for every remaining
   investigator, console.db (a copy of the live database with its audit entry added, then
   PRAGMA rekey'd to the new database key); each file is fsynced and so is the directory.
2. The commit point is one rename: vault/rekey/commit.partial, fsynced, renamed to
   vault/rekey/commit, the directory fsynced. The marker names the investigators whose boxes were
   staged.
3. No marker: the old state is whole. Whatever is in vault/rekey/ belongs to a change that never
   happened; the next open overwrites and removes it (`recover`).
4. A marker: the new state is whole in vault/rekey/ and only renames are left, which need no key.
   The next open finishes them before any box is read (`recover`, idempotent, so a kill while it
   runs is finished by the open after): console.db, then each staged box, then secrets.env; each
   time the live file is first hard-linked as <name>.old inside vault/rekey/, the staged file is
   renamed over the live name, the directory fsynced, and the .old copy overwritten (it is the old
   key's data). A box the marker does not name (a removed investigator's, a crash leftover) is
   overwritten: it opens only the old vault key. The old database's rollback journal, if any, goes
   before the swap: SQLite must never apply it to the new file (there is none after a clean
   commit: the re-key closes the database before step 2). Then the marker is unlinked (never
   overwritten in place: a kill in the middle of an overwrite would leave a marker nobody can
   read; it names investigators, nothing secret), and what is left in vault/rekey/ is overwritten
   and removed, which rule 3 finishes if it is interrupted.

`checkpoint(step)` marks each step; it does nothing. The crash tests replace it in a subprocess to
SIGKILL the process exactly there (tests/test_key_lifecycle.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from journalist_console.errors import ConsoleError
from journalist_console.home import Home
from journalist_console.vault import remove_leftover
from keys.disk import fsync_dir, wipe_file

MARKER = "commit"
MARKER_FORMAT = "wbs-console-rekey"
DATABASE = "console.db"
SECRETS = "secrets.env"


def checkpoint(step: str) -> None:
    """A named step of a re-key (see the module's docstring); a test hook, nothing else."""


def stage_dir(home: Home) -> Path:
    return home.secrets_file.parent / "rekey"


def begin(home: Home) -> Path:
    """An empty staging directory (an abandoned one is removed first: rule 3)."""
    recover(home)
    directory = stage_dir(home)
    (directory / "users").mkdir(mode=0o700, parents=True)
    return directory


def put(home: Home, relative: str, data: bytes) -> Path:
    """Write one new file into the staging directory, fsynced (rule 1)."""
    path = stage_dir(home) / relative
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def commit(home: Home, users: list[str]) -> None:
    """The commit point (rule 2): from the rename on, the new vault is the vault."""
    directory = stage_dir(home)
    fsync_dir(directory / "users")
    fsync_dir(directory)
    marker = json.dumps({"format": MARKER_FORMAT, "users": sorted(users)}).encode()
    partial = put(home, MARKER + ".partial", marker)
    os.replace(partial, directory / MARKER)
    fsync_dir(directory)


def recover(home: Home) -> str | None:
    """Finish or undo an interrupted re-key: "finished", "undone", or None (nothing to do).
    Call with the home's lock held, before any box is opened."""
    directory = stage_dir(home)
    if not directory.exists():
        return None
    marker = directory / MARKER
    if not marker.exists():
        _remove_tree(directory)
        return "undone"
    try:
        users = json.loads(marker.read_text("utf-8"))["users"]
        if not isinstance(users, list) or not all(isinstance(name, str) for name in users):
            raise ValueError("not a list of names")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConsoleError(
            f"{marker}: the record of an interrupted vault re-key is unreadable ({exc}); nothing "
            "was changed: keep the home as it is and restore it from a backup"
        ) from None
    _swap(directory / DATABASE, home.database, directory / f"{DATABASE}.old", journal=True)
    checkpoint("database-swapped")
    for name in users:
        staged = directory / "users" / f"{name}.box"
        _swap(staged, home.user_box(name), staged.with_name(f"{name}.box.old"))
    checkpoint("boxes-swapped")
    _swap(directory / SECRETS, home.secrets_file, directory / f"{SECRETS}.old")
    checkpoint("secrets-swapped")
    for name in home.box_names():
        if name not in users:
            wipe_file(home.user_box(name))
    marker.unlink()
    fsync_dir(directory)
    _remove_tree(directory)
    return "finished"


def abandon(home: Home) -> None:
    """Remove an uncommitted staging directory (a re-key that failed before rule 2)."""
    directory = stage_dir(home)
    if directory.exists() and not (directory / MARKER).exists():
        _remove_tree(directory)


def _swap(staged: Path, live: Path, old: Path, journal: bool = False) -> None:
    if staged.exists():
        if not old.exists():
            try:
                os.link(live, old, follow_symlinks=False)
            except FileNotFoundError:
                pass
        if journal:
            for suffix in ("-journal", "-wal", "-shm"):
                wipe_file(live.with_name(live.name + suffix))
        os.replace(staged, live)
        fsync_dir(live.parent)
    if old.exists():
        remove_leftover(old, live)


def _remove_tree(directory: Path) -> None:
    """Overwrite and remove everything under `directory` (new keys of a change that did not
    happen, or old copies already replaced), then the directories. Never called while the marker
    is there (rule 4 unlinks it first)."""
    for path in directory.rglob("*"):
        if path.is_file() or path.is_symlink():
            wipe_file(path)
    for path in sorted(directory.rglob("*"), key=lambda path: -len(path.parts)):
        if path.is_dir():
            path.rmdir()
    directory.rmdir()
    fsync_dir(directory.parent)

"""The envelope store: the one module that knows paths under DATA/store.

    store/pending/<random>.partial   envelopes being written during one request
    store/items/<item_id>.env        committed envelopes (reports, files, follow-ups, responses)

Only ciphertext is ever written here. Every path is built from a validated random id and checked to
stay inside the store. File times are set to midnight UTC of the day, so a file's mtime tells no
more than the day the threat model already allows (ctime cannot be set from user space: see
docs/threat-model.md). Deletion overwrites before unlinking (keys.disk.wipe_file).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from keys.disk import fsync_dir, wipe_file

_ITEM_ID = re.compile(r"^[0-9a-f]{32}\Z")


class StoreError(Exception):
    """A store path or file is invalid (bad id, missing file, escape attempt)."""


def day_start_timestamp(now: dt.datetime | None = None) -> float:
    moment = now or dt.datetime.now(dt.UTC)
    midnight = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    return midnight.timestamp()


def coarsen_times(path: Path) -> None:
    """Hide the time of day in a file's or directory's access and modification times."""
    midnight = day_start_timestamp()
    os.utime(path, (midnight, midnight))


def round_times_to_day(path: Path) -> None:
    """Round a path's access and modification times down to the start of their own days: what
    a read stamped (an operator command opening a key file) goes, the day of the last change
    stays."""
    info = os.stat(path, follow_symlinks=False)
    day = dt.timedelta(days=1).total_seconds()
    os.utime(
        path,
        (info.st_atime - info.st_atime % day, info.st_mtime - info.st_mtime % day),
        follow_symlinks=False,
    )


class PendingFile:
    """A file in store/pending that becomes an item only through Store.commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: BinaryIO = path.open("xb")

    def write(self, data: bytes | memoryview) -> int:
        return self.handle.write(data)

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()


class Store:
    def __init__(self, root: Path) -> None:
        # Resolved once, so every item path is absolute and free of symlinked components.
        self.root = root.resolve()
        self.items_dir = self.root / "items"
        self.pending_dir = self.root / "pending"

    def create_dirs(self) -> None:
        for directory in (self.root, self.items_dir, self.pending_dir):
            directory.mkdir(mode=0o700, exist_ok=True)

    def item_path(self, item_id: str) -> Path:
        # The id is exactly 32 hex digits (no separator, no dot, no newline), so the joined path
        # cannot leave items/: no resolve() per call (a filesystem walk on the lookup hot path).
        if not _ITEM_ID.match(item_id):
            raise StoreError("invalid item id")
        return self.items_dir / f"{item_id}.env"

    def new_pending(self) -> PendingFile:
        return PendingFile(self.pending_dir / f"{secrets.token_hex(16)}.partial")

    def commit(self, pending: PendingFile, item_id: str) -> Path:
        """Make a fully written pending envelope an item, atomically (rename within one fs)."""
        pending.close()
        target = self.item_path(item_id)
        if target.exists():
            raise StoreError("item already exists")
        coarsen_times(pending.path)
        os.replace(pending.path, target)
        fsync_dir(self.items_dir)
        coarsen_times(self.items_dir)
        coarsen_times(self.pending_dir)
        return target

    def adopt(self, path: Path, item_id: str) -> Path:
        """Move a verified envelope from a staging directory on the same filesystem into the
        store, with the same day-only times as everything written here."""
        target = self.item_path(item_id)
        if target.exists():
            raise StoreError("item already exists")
        coarsen_times(path)
        os.replace(path, target)
        fsync_dir(self.items_dir)
        coarsen_times(self.items_dir)
        return target

    def write_item(self, item_id: str, data: bytes) -> Path:
        pending = self.new_pending()
        try:
            pending.write(data)
            return self.commit(pending, item_id)
        except BaseException:
            self.discard(pending)
            raise

    def discard(self, pending: PendingFile) -> None:
        """Remove a pending envelope, even when the disk is full: closing flushes the buffer,
        which fails then, and the file must go all the same."""
        if not pending.handle.closed:
            try:
                pending.handle.close()
            except OSError:
                pass  # the buffered bytes are ciphertext being thrown away anyway
        wipe_file(pending.path)
        coarsen_times(self.pending_dir)

    def open_item(self, item_id: str) -> BinaryIO:
        """Open an item for reading without touching its access time: on a relatime mount a
        read would otherwise record the exact moment a reporter looked at their replies."""
        try:
            fd = os.open(self.item_path(item_id), os.O_RDONLY | getattr(os, "O_NOATIME", 0))
        except FileNotFoundError as exc:
            raise StoreError("item file is missing") from exc
        return os.fdopen(fd, "rb")

    def item_exists(self, item_id: str) -> bool:
        return self.item_path(item_id).exists()

    def delete_item(self, item_id: str) -> None:
        wipe_file(self.item_path(item_id))
        coarsen_times(self.items_dir)

    def clean_pending(self) -> int:
        """Remove envelopes left half-written by a crash; called when the site starts (the site
        owns store/pending: nothing else writes there while it runs)."""
        removed = 0
        for path in self.pending_dir.glob("*.partial"):
            wipe_file(path)
            removed += 1
        coarsen_times(self.pending_dir)  # listing it touched its access time
        return removed

"""Two things both sides do to files besides writing them: make a rename survive a power cut, and
destroy a file's content before its name.

`fsync_dir` is what makes a rename, link or unlink inside a directory durable: without it a crash
can bring back the old name, so every "write, fsync, rename" ends with it.

`wipe_file` is the one overwrite policy: random bytes, then zeros, fsync, truncate, unlink, fsync
the directory. It answers someone who takes the disk away later and reads the freed blocks; it is
best effort: on journalling, copy-on-write or flash storage, and in backups and snapshots, old
blocks can survive elsewhere, which is why only ciphertext (or a passphrase box) is ever written
and the guides ask for encrypted volumes. An overwrite that fails (a full copy-on-write disk) does
not keep the file: its name goes all the same.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_BLOCK = 64 * 1024


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a rename, link or unlink just done in it) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def wipe_file(path: Path) -> bool:
    """Overwrite a file (random bytes, then zeros), truncate and unlink it; False if it was absent.

    A symlink or anything else that cannot be opened for writing without following a link is only
    unlinked: the overwrite must never land on what a link points to.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)
        return True
    try:
        _overwrite(fd)
    except OSError:
        pass  # the blocks could not be rewritten (a full copy-on-write disk): still remove the name
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def _overwrite(fd: int) -> None:
    size = os.fstat(fd).st_size
    for pattern in (None, b"\0"):
        os.lseek(fd, 0, os.SEEK_SET)
        left = size
        while left > 0:
            chunk = min(left, _BLOCK)
            left -= os.write(fd, secrets.token_bytes(chunk) if pattern is None else pattern * chunk)
        os.fsync(fd)
    os.ftruncate(fd, 0)
    os.fsync(fd)

"""Running the site on waitress, and the checks that refuse an unsafe start.

Waitress reads a whole request body before the application sees it; bodies over
`inbuf_overflow` go to an unnamed temporary file created with `tempfile.TemporaryFile`. For an
upload that file holds the multipart body in plaintext. So the process's temporary directory is
pointed at a spill directory that must be RAM-backed (tmpfs/ramfs: never written to a persistent
disk, gone at power-off), and the server refuses to start otherwise, unless the operator states
that this is a local demo. Swap must be off or encrypted for the same reason (docs/operator.md).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flask import Flask

from dropbox.app import FORM_OVERHEAD_BYTES, create_app
from dropbox.error_pages import page_headers, waitress_error_pages
from dropbox.instance import Instance, check_permissions
from dropbox.service import DropBox

RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
INBUF_OVERFLOW = 1024 * 1024  # bodies up to 1 MiB stay in memory; larger spill to tmpfs


class ServeError(Exception):
    """A reason not to start; the message tells the operator what to fix."""


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/self/mountinfo."""
    target = str(path.resolve())
    best_mount, best_type = "", "unknown"
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        for line in mounts:
            left, _, right = line.partition(" - ")
            mount_point = left.split()[4].replace("\\040", " ")
            fs_type = right.split()[0] if right else "unknown"
            inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best_mount):
                best_mount, best_type = mount_point, fs_type
    return best_type


def default_spill_dir(instance: Instance) -> Path:
    runtime = Path("/run/wbs-dropbox")
    if runtime.is_dir():
        return runtime / "spill"
    # /dev/shm is shared: prepare_spill_dir refuses a directory someone else created or linked.
    return Path("/dev/shm") / f"wbs-dropbox-{instance.instance_id[:12]}"  # noqa: S108 (ownership and links checked)


def prepare_spill_dir(spill_dir: Path, allow_persistent: bool) -> None:
    spill_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = spill_dir.lstat()
    if spill_dir.is_symlink() or info.st_uid != os.getuid():
        raise ServeError(f"spill directory {spill_dir} is a link or belongs to another user")
    os.chmod(spill_dir, 0o700)
    fs_type = filesystem_type(spill_dir)
    if fs_type not in RAM_FILESYSTEMS and not allow_persistent:
        raise ServeError(
            f"upload spill directory {spill_dir} is on {fs_type}, not on a RAM-backed tmpfs: "
            "request bodies would reach a persistent disk. Use --spill-dir on a tmpfs "
            "(--allow-persistent-spill is for a local demo only)"
        )


def check_host(host: str, allow_public: bool) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_public:
        raise ServeError(
            f"refusing to listen on {host}: the site is reached through the Tor onion service "
            "on the loopback interface only (--allow-public-bind overrides)"
        )


def preflight(instance: Instance, host: str, allow_public: bool) -> None:
    check_host(host, allow_public)
    problems = check_permissions(instance.data_dir)
    if problems:
        raise ServeError("unsafe data directory: " + "; ".join(problems))


def install_waitress_error_pages(pages: dict[int, bytes]) -> None:
    """Replace waitress's plain-text error bodies with ours, with the same security headers as
    every other response (waitress offers no hook for this; its Error class is the one place)."""
    import waitress.utilities

    def to_response(
        error: waitress.utilities.Error, ident: str | None = None
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        code = error.code if error.code in pages else (500 if error.code >= 500 else 400)
        return f"{error.code} {error.reason}", page_headers(code), pages[code]

    waitress.utilities.Error.to_response = to_response


@contextlib.contextmanager
def spill_lifetime(spill_dir: Path, allow_persistent: bool) -> Iterator[None]:
    """The spill directory for one run of the server: prepared, emptied of whatever a killed
    run left, and at shutdown emptied again and removed (unless it is a mount point, such as
    the private tmpfs the systemd unit gives it). An empty folder named after the instance would
    still tell that a drop box ran here."""
    prepare_spill_dir(spill_dir, allow_persistent)
    _empty(spill_dir)
    try:
        yield
    finally:
        _empty(spill_dir)
        if not os.path.ismount(spill_dir):
            with contextlib.suppress(OSError):
                spill_dir.rmdir()


def _empty(directory: Path) -> None:
    # Only waitress's spill files live here: unnamed while open, so whatever is listed was left
    # by a run that ended without cleaning up.
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _stop_on_sigterm() -> None:
    """systemd stops the site with SIGTERM: end waitress's loop like Ctrl-C, so that the
    shutdown cleanup runs instead of the process vanishing mid-way."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def serve(
    instance: Instance,
    host: str,
    port: int,
    spill_dir: Path,
    allow_persistent_spill: bool = False,
    allow_public_bind: bool = False,
    threads: int = 8,
    connection_limit: int = 100,
) -> None:
    preflight(instance, host, allow_public_bind)
    with spill_lifetime(spill_dir, allow_persistent_spill):
        # Every temporary file of this process, waitress's request-body spill included, goes
        # here.
        tempfile.tempdir = str(spill_dir)
        os.environ["TMPDIR"] = str(spill_dir)
        box = DropBox(instance)
        box.setup()
        app = create_app(box)
        install_waitress_error_pages(waitress_error_pages(app, instance.upload_limit))
        # waitress warns "Task queue depth is N" during a burst, and the journal stamps every
        # line with the time: a log of when the site was busy. Errors are still reported.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        _stop_on_sigterm()
        try:
            _run_waitress(app, host, port, threads, connection_limit, instance.upload_limit)
        finally:
            # Sessions live only as long as the process: what they hold goes with them, the
            # uploads kept for a corrected form included (the next start would remove them).
            app.session_interface.store.clear()  # type: ignore[attr-defined]


def _run_waitress(
    app: Flask, host: str, port: int, threads: int, connection_limit: int, upload_limit: int
) -> None:
    import waitress

    waitress.serve(
        app,
        host=host,
        port=port,
        ident="",  # no Server header
        threads=threads,
        connection_limit=connection_limit,
        max_request_body_size=upload_limit + FORM_OVERHEAD_BYTES,
        inbuf_overflow=INBUF_OVERFLOW,
        expose_tracebacks=False,
        clear_untrusted_proxy_headers=True,
        channel_timeout=600,  # a slow Tor upload stalls for a while; do not drop it early
        url_scheme="http",
    )

"""3. Uploads through the real site (`dropbox serve`) against a bare waitress app that discards
the body, both with the drop box's waitress settings and a spill directory on /dev/shm.

A 1 GiB submission, then 8 concurrent 64 MiB ones, each posted as one multipart form streamed
from a generator over http.client (the client never holds the body). The order is bare, ours,
bare; the reference is the mean of the two bare runs. Targets: time at most 2x bare; the server's
time after the last byte at most 1.5x the data disk's write+fsync time for the same bytes; server
peak RSS growth under 64 MiB (VmHWM reset through /proc/PID/clear_refs before each run, checked
against a 50 ms VmRSS sampler), and no plaintext on the persistent disk: every file under the
instance's data directory is searched for the marker written every 64 KiB into the upload.
"""

from __future__ import annotations

import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import site
from bench.common import (
    GIB,
    MIB,
    BenchResult,
    Config,
    Figure,
    RssSampler,
    info,
    limit_figure,
    proc_status,
    ratio_figure,
    reset_hwm,
    scratch,
)

TITLE = "Upload through dropbox serve vs a bare waitress app that discards the body"


def upload_run(
    port: int,
    pid: int,
    bodies: list[site.MultipartBody],
    spill: Path,
    reporter: site.Client | None = None,
) -> dict[str, Any]:
    """Post all bodies at once (one thread each); time, server memory, tmpfs use, replies.
    With `reporter` (a logged-in reporter of our site), each body goes to a report form of its
    own, with its own single-use ticket; without, to the bare app's /submit."""
    ours = reporter is not None
    targets = [site.submit_path(reporter) if reporter else "/submit" for _ in bodies]
    cookie = reporter.cookie_header if reporter else ""
    os.sync()  # earlier benchmarks' dirty pages must not be flushed on this run's time
    rss_before = proc_status(pid).get("VmRSS", 0)
    hwm_reset = reset_hwm(pid)
    with (
        RssSampler(pid, 0.05, spill=str(spill)) as sampler,
        ThreadPoolExecutor(max_workers=len(bodies)) as pool,
    ):
        start = time.perf_counter()
        outcomes = list(
            pool.map(
                lambda pair: site.post_multipart(port, pair[0], pair[1], cookie=cookie),
                zip(targets, bodies, strict=True),
            )
        )
        seconds = time.perf_counter() - start
    hwm = proc_status(pid).get("VmHWM", 0)
    growth = max(sampler.peak_rss - rss_before, (hwm - rss_before) if hwm_reset else 0)
    replies = [outcome[0] for outcome in outcomes]
    ok = all(
        (r.status == 303 and r.headers.get("Location", "").endswith("/thanks"))
        if ours
        else (r.status == 200 and r.text.startswith("discarded"))
        for r in replies
    )
    statuses = sorted({r.status for r in replies})
    # After the last byte left the client: the server's work once it had the whole body.
    after_send = max(done for _, _, done in outcomes) - max(sent for _, sent, _ in outcomes)
    return {
        "seconds": seconds,
        "growth": growth,
        "ok": ok,
        "statuses": statuses,
        "spill_peak": sampler.peak_spill,
        "hwm_reset": hwm_reset,
        "after_send": after_send,
    }


def disk_write_speed(directory: Path, size: int) -> float:
    """MiB/s for writing and fsyncing `size` bytes on the data directory's disk."""
    block = os.urandom(1 << 20)
    path = directory / "disk-speed.tmp"
    os.sync()
    start = time.perf_counter()
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - start
    path.unlink()
    return size / MIB / seconds


def find_marker(root: Path, marker: bytes) -> list[Path]:
    """Files under root that contain the marker (read in 8 MiB windows with overlap)."""
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        tail = b""
        with path.open("rb") as handle:
            while block := handle.read(8 * MIB):
                if marker in tail + block:
                    hits.append(path)
                    break
                tail = block[-(len(marker) - 1) :]
    return hits


def tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def run(config: Config) -> BenchResult:
    result = BenchResult(3, TITLE)
    big = config.size(1 * GIB, 128 * MIB)
    small = config.size(64 * MIB, 16 * MIB)
    count = 8
    marker = b"WBS-BENCH-PLAINTEXT-" + secrets.token_hex(8).encode()
    with scratch(config, "upload") as root, site.spill_dir() as shm:
        instance = site.make_instance(root)
        ours_spill, bare_spill = shm / "ours", shm / "bare"
        with (
            site.dropbox_server(instance, ours_spill, root / "ours.log") as (port, ours),
            site.bare_server("upload", bare_spill, root / "bare.log") as (bare_port, bare),
        ):
            reporter = site.Client(port)
            site.new_source(reporter)

            def bodies(size: int, n: int) -> list[site.MultipartBody]:
                return [site.MultipartBody(site.REPORT_FIELDS, size, marker) for _ in range(n)]

            # Warm both servers up (imports, first request, thread pool).
            upload_run(port, ours.pid, bodies(MIB, 1), ours_spill, reporter)
            upload_run(bare_port, bare.pid, bodies(MIB, 1), bare_spill)
            runs: dict[str, dict[str, Any]] = {}
            for label, size, n in (("single", big, 1), ("concurrent", small, count)):
                # bare, ours, bare, ours, bare: each side's mean, the machine's drift shared.
                bare_runs = [upload_run(bare_port, bare.pid, bodies(size, n), bare_spill)]
                our_runs = []
                for _ in range(2):
                    our_runs.append(
                        upload_run(port, ours.pid, bodies(size, n), ours_spill, reporter)
                    )
                    bare_runs.append(upload_run(bare_port, bare.pid, bodies(size, n), bare_spill))
                runs[label] = {"ours": our_runs, "bare": bare_runs}
            stored = tree_bytes(instance.data / "store" / "items")
        disk = disk_write_speed(root, config.size(256 * MIB, 64 * MIB))
        hits = find_marker(root, marker)
        log_tail = (root / "ours.log").read_text(errors="replace")[-300:]

    payload_total = 2 * (big + small * count) + 1 * MIB  # + our warm-up upload

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    for label, title in (
        ("single", f"1 x {big / MIB:.0f} MiB"),
        ("concurrent", f"{count} x {small / MIB:.0f} MiB concurrent"),
    ):
        mine, bares = runs[label]["ours"], runs[label]["bare"]
        our_seconds = mean([m["seconds"] for m in mine])
        uploaded = (big if label == "single" else small * count) / MIB
        result.figures += [
            ratio_figure(
                f"upload time {title}",
                our_seconds,
                mean([b["seconds"] for b in bares]),
                "s",
                maximum=2.0,
                note="mean of 2 runs; reference: mean of 3 bare runs around them",
            ),
            limit_figure(
                f"server peak RSS growth, {title}",
                max(m["growth"] for m in mine) / MIB,
                "MiB",
                below=64,
            ),
            info(
                f"bare server peak RSS growth, {title}",
                max(b["growth"] for b in bares) / MIB,
                "MiB",
            ),
            info(
                f"tmpfs spill peak during ours, {title}",
                max(m["spill_peak"] for m in mine) / MIB,
                "MiB",
                note="waitress buffers the whole body on /dev/shm (RAM, not in RSS)",
            ),
            ratio_figure(
                f"server time after the last byte was sent, {title}",
                mean([m["after_send"] for m in mine]),
                uploaded / disk,
                "s",
                maximum=1.5,
                note="reference: writing and fsyncing the same bytes on the data directory's "
                "disk, the floor while waitress buffers whole bodies before the app runs",
            ),
            info(
                f"bare server's time after the last byte, {title}",
                mean([b["after_send"] for b in bares]),
                "s",
                note="reading and discarding the buffered body",
            ),
            info(
                f"our upload throughput, {title}",
                uploaded / our_seconds,
                "MiB/s",
            ),
        ]
        for m in mine:
            if not m["ok"]:
                result.notes.append(
                    f"{label}: our server answered {m['statuses']}, not the "
                    f"thank-you page; server log tail: {log_tail!r}"
                )
        if not all(b["ok"] for b in bares):
            result.notes.append(f"{label}: bare server answered {bares[0]['statuses']}")
    result.figures.append(
        Figure(
            "files on persistent disk holding upload plaintext",
            len(hits),
            "files",
            target="= 0",
            met=not hits,
            note="searched: every file under the instance's data directory and the bench scratch",
        )
    )
    result.figures.append(
        info("stored envelope bytes / uploaded bytes", stored / payload_total, "x")
    )
    result.figures.append(
        info(
            "persistent disk: write + fsync speed",
            disk,
            "MiB/s",
            note="the data directory's disk; every upload is fsynced there",
        )
    )
    if hits:
        result.notes.append("plaintext found in: " + ", ".join(str(p) for p in hits[:5]))
    if not runs["single"]["ours"][0]["hwm_reset"]:
        result.notes.append("VmHWM could not be reset; RSS growth is from the 50 ms sampler")
    result.notes.append(
        "data directory on the persistent disk (each upload is fsynced there); spill dirs on "
        "/dev/shm; 8 waitress threads on both servers; client and servers share the 2 cores"
    )
    return result

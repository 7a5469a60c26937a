"""6. The investigator console: `journalist-console import` of server bundles, then `list`.

The bundles are genuine: every report and file is a keys.payload envelope sealed to the
console's inspectorate key (read from the home `init` wrote), the records follow
keys/records.py (checked with check_server_body before writing), and the bundle is signed by a
server key given to the first import with --server-key, exactly as `dropbox export` would make
it. Fabricating them directly is much faster than posting thousands of reports to a server.

Cases: 100, 1,000 and 10,000 reports without attachments, and 1,000 reports with 2 GiB of
attachments (one file per report). Each case gets a fresh console home. Time is the CLI's wall
time; peak memory is the child's ru_maxrss (os.wait4), and its growth is over `list` on an empty
home (start-up plus the passphrase's argon2id run). Per-report cost is
(time - time of `list` on an empty home) / reports.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from bench.common import (
    GIB,
    MIB,
    VENV_BIN,
    BenchResult,
    Config,
    Measured,
    info,
    ratio_figure,
    run_measured,
    scratch,
)
from keys import codename, keytypes, payload
from keys.bundle import ItemSource, write_bundle
from keys.documents import ReportDocument
from keys.keyfiles import (
    read_public_key,
    recipient_public_key,
    verify_public_key,
    write_public_key,
)
from keys.records import CATEGORIES, check_server_body, new_id, new_regno, today

TITLE = "Console import of server bundles, then list"
PASSPHRASE = "bench passphrase, not a secret"  # noqa: S105 - a throwaway console home
CONSOLE = str(VENV_BIN / "journalist-console")
SHM = "/dev/shm"  # noqa: S108 - the bundle items are built on tmpfs, then deleted


def _words() -> list[str]:
    pattern = re.compile(r"^[a-z]{2,16}$")
    return [word for word in codename.wordlist("id") if pattern.match(word)]


def build_bundle(
    out: Path,
    items_dir: Path,
    recipient: keytypes.RecipientKey,
    signer: keytypes.SigningKey,
    reports: int,
    attachment_bytes: int,
) -> None:
    """A signed server-to-console bundle with `reports` reports (one source each) and, if
    attachment_bytes, one file per report sharing that many bytes in all."""
    items_dir.mkdir()
    words = _words()
    categories = list(CATEGORIES)
    base = dt.date.fromisoformat(today())
    per_file, extra = divmod(attachment_bytes, reports) if attachment_bytes else (0, 0)
    block = secrets.token_bytes(1 << 20)
    sources, report_rows, entries, items = [], [], [], []
    regnos: set[str] = set()
    for index in range(reports):
        day = (base - dt.timedelta(days=index % 45)).isoformat()
        source_id = new_id()
        sources.append(
            {
                "source_id": source_id,
                "public_key": recipient_public_key(keytypes.new_recipient_identity()).to_line(),
                "designation": f"{secrets.choice(words)} {secrets.choice(words)}",
                "created_day": day,
            }
        )
        regno = new_regno()
        while regno in regnos:
            regno = new_regno()
        regnos.add(regno)
        report_rows.append({"regno": regno, "source_id": source_id, "received_day": day})
        document = ReportDocument(
            category=categories[index % len(categories)],
            relation="employee",
            language="id",
            what=f"Laporan nomor {index}: pengadaan digelembungkan",
            who="Panitia pengadaan",
            where="Biro umum",
            when="Maret",
            how="Harga satuan dua kali harga pasar " * 8,
        )
        report_id = new_id()
        (items_dir / report_id).write_bytes(
            payload.seal_bytes({"kind": document.KIND}, document.to_bytes(), [recipient])
        )
        entries.append(
            {
                "entry_id": report_id,
                "kind": "report",
                "regno": regno,
                "day": day,
                "item": report_id,
                "parent": None,
            }
        )
        items.append(ItemSource(report_id, items_dir / report_id))
        if per_file:
            file_id = new_id()
            size = per_file + (extra if index == reports - 1 else 0)
            with (
                (items_dir / file_id).open("wb") as sink,
                payload.PayloadWriter(
                    sink,
                    [recipient],
                    {"kind": "file", "name": f"bukti-{index}.pdf", "type": "application/pdf"},
                ) as writer,
            ):
                remaining = size
                view = memoryview(block)
                while remaining:
                    part = view[: min(remaining, len(view))]
                    writer.write(part)
                    remaining -= len(part)
            entries.append(
                {
                    "entry_id": file_id,
                    "kind": "file",
                    "regno": regno,
                    "day": day,
                    "item": file_id,
                    "parent": report_id,
                }
            )
            items.append(ItemSource(file_id, items_dir / file_id))
    body: dict[str, Any] = {
        "instance": new_id(),
        "sequence": 1,
        "created_day": today(),
        "sources": sources,
        "reports": report_rows,
        "entries": entries,
    }
    check_server_body(body, {item.name for item in items})
    write_bundle(out, "server-to-console", body, items, signer)
    shutil.rmtree(items_dir)


def console(
    command: str, home: Path, passfile: Path, *extra: str, timeout: float = 900
) -> Measured:
    return run_measured(
        [CONSOLE, command, "--home", str(home), "--passphrase-file", str(passfile), *extra],
        timeout=timeout,
    )


def _failure(measured: Measured) -> str:
    return (measured.completed.stdout + measured.completed.stderr).decode(errors="replace")[-400:]


class ConsoleUnavailable(Exception):
    """The console CLI failed (it is being written while these benchmarks are): skip, say why."""


def run(config: Config) -> BenchResult:
    result = BenchResult(6, TITLE)
    try:
        return measure(config, result)
    except ConsoleUnavailable as exc:
        result.figures.clear()
        result.skipped = f"console not available: {exc}".strip()
        return result


def measure(config: Config, result: BenchResult) -> BenchResult:
    if not Path(CONSOLE).exists():
        result.skipped = "console not available (no journalist-console in the venv)"
        return result
    counts: tuple[int, ...]
    if config.quick:
        counts, attached = (100, 500, 2000), (200, 128 * MIB)
    else:
        counts = tuple(max(1, int(n * config.scale)) for n in (100, 1000, 10000))
        attached = (max(1, int(1000 * config.scale)), int(2 * GIB * config.scale))
    cases = [(n, 0) for n in counts] + [attached]
    signer = keytypes.new_signing_key()
    measured: dict[tuple[int, int], dict[str, Any]] = {}
    kdf_drop = 48 * MIB  # the unlock's argon2id frees 64 MiB; what follows is the command's own
    with scratch(config, "console") as root, scratch(config, "console-items", SHM) as shm:
        passfile = root / "passphrase"
        passfile.write_text(PASSPHRASE + "\n")
        server_pub = root / "server.pub"
        write_public_key(server_pub, verify_public_key(signer))
        # Baseline: start-up and unlock, on an empty home.
        base_home = root / "home-empty"
        init = run_measured(
            [CONSOLE, "init", "--home", str(base_home), "--passphrase-file", str(passfile)],
            timeout=120,
        )
        if init.completed.returncode != 0:
            result.skipped = (
                f"console not available: `journalist-console init` failed: {_failure(init)}"
            )
            return result
        base_runs = [console("list", base_home, passfile) for _ in range(3)]
        if any(run.completed.returncode != 0 for run in base_runs):
            result.skipped = "console not available: `journalist-console list` failed: " + _failure(
                base_runs[0]
            )
            return result
        base_time = min(run.seconds for run in base_runs)
        base_peak = max(run.peak for run in base_runs)
        for reports, attachment_bytes in cases:
            home = root / f"home-{reports}-{attachment_bytes}"
            init = run_measured(
                [CONSOLE, "init", "--home", str(home), "--passphrase-file", str(passfile)],
                timeout=120,
            )
            if init.completed.returncode != 0:
                raise ConsoleUnavailable("`journalist-console init` failed: " + _failure(init))
            recipient = read_public_key(home / "inspectorate.pub", "recipient").as_recipient()
            bundle = root / f"server-{reports}-{attachment_bytes}.bundle"
            build_bundle(
                bundle,
                shm / f"items-{reports}-{attachment_bytes}",
                recipient,
                signer,
                reports,
                attachment_bytes,
            )
            bundle_size = bundle.stat().st_size
            imported = console(
                "import", home, passfile, "--server-key", str(server_pub), str(bundle)
            )
            bundle.unlink()
            if (
                imported.completed.returncode != 0
                or f"{reports} new reports" not in imported.completed.stdout.decode()
            ):
                raise ConsoleUnavailable(
                    "`journalist-console import` failed: " + _failure(imported)
                )
            # `list` and an empty-home `list` in turn, best of 3 each: the difference is the
            # reports' cost even if the machine's load drifts during the run.
            lists, empties = [], []
            for _ in range(3):
                empties.append(console("list", base_home, passfile).seconds)
                lists.append(console("list", home, passfile))
            listed = min(lists, key=lambda run: run.seconds)
            as_json = console("list", home, passfile, "--json")
            shown = (
                len(json.loads(as_json.completed.stdout))
                if as_json.completed.returncode == 0
                else -1
            )
            if listed.completed.returncode != 0 or shown != reports:
                raise ConsoleUnavailable(
                    f"`journalist-console list` shows {shown} of {reports} reports"
                )
            measured[(reports, attachment_bytes)] = {
                "import": imported.seconds,
                "import_peak": imported.peak,
                "import_after_unlock": imported.peak_after_drop(kdf_drop),
                "list": listed.seconds,
                "list_peak": listed.peak,
                "bundle": bundle_size,
                "base": min(empties),
            }
            shutil.rmtree(home, ignore_errors=True)

    def per_report(case: tuple[int, int], what: str) -> float:
        """ms per report: (time - an empty-home list measured alongside) / reports."""
        m = measured[case]
        return max(0.0, float(m[what]) - float(m["base"])) / case[0] * 1000

    for reports, attachment_bytes in cases:
        m = measured[(reports, attachment_bytes)]
        label = f"{reports:,} reports" + (
            f" + {attachment_bytes / GIB:g} GiB files" if attachment_bytes else ""
        )
        after = m["import_after_unlock"]
        result.figures += [
            info(
                f"{label}: import time",
                m["import"],
                "s",
                note=f"bundle {m['bundle'] / MIB:,.1f} MiB",
            ),
            info(
                f"{label}: import per report",
                per_report((reports, attachment_bytes), "import"),
                "ms",
            ),
            info(
                f"{label}: import peak RSS",
                m["import_peak"] / MIB,
                "MiB",
                note=f"{(m['import_peak'] - base_peak) / MIB:+.1f} MiB over an empty-home list;"
                " the unlock's 64 MiB argon2id sets this peak",
            ),
            info(
                f"{label}: import peak RSS after the unlock",
                after / MIB if after else None,
                "MiB",
                note="VmRSS sampled every 20 ms once argon2id freed its memory",
            ),
            info(
                f"{label}: list time (best of 3)",
                m["list"],
                "s",
                note=f"peak RSS {m['list_peak'] / MIB:.1f} MiB",
            ),
            info(
                f"{label}: list per report", per_report((reports, attachment_bytes), "list"), "ms"
            ),
        ]
    # Scaling: per-report cost at the largest count against the middle one (linear = 1).
    middle, largest = counts[1], counts[2]
    for what in ("import", "list"):
        mid = per_report((middle, 0), what)
        big = per_report((largest, 0), what)
        figure = ratio_figure(
            f"{what} per-report cost, {largest:,} vs {middle:,} reports",
            big,
            mid,
            "ms",
            maximum=2.0,
            note="our own target: cost per report must not grow with the count",
        )
        if mid * middle < 50 or big * largest < 50:  # under 50 ms in all: lost in the noise
            figure.met = None
            figure.note = "too small to measure against process start-up noise at these counts"
        result.figures.append(figure)
    with_files = measured[attached]
    without = measured.get((attached[0], 0))
    if without is not None and attached[1]:
        extra = with_files["import"] - without["import"]
        result.figures.append(
            info(
                "import throughput for attachments",
                attached[1] / MIB / extra if extra > 0 else None,
                "MiB/s",
                note="(time with files - time without) for the same count",
            )
        )
        result.figures.append(
            info(
                "import peak RSS growth with files over without",
                (with_files["import_peak"] - without["import_peak"]) / MIB,
                "MiB",
            )
        )
    result.notes.append(
        f"baseline (list on an empty home: start-up + argon2id unlock): {base_time:.2f} s, "
        f"peak RSS {base_peak / MIB:.1f} MiB; console home and bundles on the persistent disk"
    )
    return result

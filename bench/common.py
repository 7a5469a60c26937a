"""Shared plumbing for the benchmarks: figures and tables, results.json, processes, memory.

Every figure is a `Figure`; each benchmark returns a list of them. A figure with a target says
whether it was met; a missed target is printed as MISSED with the figure and never raises.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "results.md"
VENV_BIN = Path(sys.executable).parent
MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass
class Config:
    quick: bool = False
    scale: float = 1.0  # applied to the full sizes (quick mode sets a smaller scale)
    keep: bool = False  # keep temporary directories for inspection

    def size(self, full: int, quick: int) -> int:
        """A byte count or item count: the full-size figure, or the quick one."""
        return quick if self.quick else max(1, int(full * self.scale))

    def seconds(self, full: float, quick: float) -> float:
        return quick if self.quick else full


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    reference: float | None = None  # the reference figure, in the same unit as `value`
    ratio: float | None = None  # value / reference (or as the name says)
    target: str | None = None  # human-readable target, e.g. "ratio >= 0.70"
    met: bool | None = None  # None: informational, no target
    note: str = ""  # shown in the table only

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("note")
        return data


@dataclass
class BenchResult:
    number: int
    title: str
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


def ratio_figure(
    name: str,
    value: float | None,
    reference: float | None,
    unit: str,
    minimum: float | None = None,
    maximum: float | None = None,
    note: str = "",
) -> Figure:
    """A figure compared with a reference: ratio = value / reference, target on the ratio."""
    ratio = None
    if value is not None and reference:
        ratio = value / reference
    target, met = None, None
    if minimum is not None:
        target = f"ratio >= {minimum:g}"
        met = ratio is not None and ratio >= minimum
    if maximum is not None:
        target = f"ratio <= {maximum:g}"
        met = ratio is not None and ratio <= maximum
    return Figure(name, value, unit, reference, ratio, target, met, note)


def limit_figure(
    name: str,
    value: float | None,
    unit: str,
    below: float | None = None,
    at_least: float | None = None,
    note: str = "",
    reference: float | None = None,
) -> Figure:
    """A figure with an absolute target (value < below, or value >= at_least)."""
    target, met = None, None
    if below is not None:
        target = f"< {below:g} {unit}"
        met = value is not None and value < below
    if at_least is not None:
        target = f">= {at_least:g} {unit}"
        met = value is not None and value >= at_least
    ratio = value / reference if (value is not None and reference) else None
    return Figure(name, value, unit, reference, ratio, target, met, note)


def info(
    name: str, value: float | None, unit: str, note: str = "", reference: float | None = None
) -> Figure:
    ratio = value / reference if (value is not None and reference) else None
    return Figure(name, value, unit, reference, ratio, None, None, note)


# -- output ---------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def status(figure: Figure) -> str:
    if figure.met is None:
        return ""
    return "met" if figure.met else "MISSED"


def table_rows(figures: Sequence[Figure]) -> list[list[str]]:
    rows = []
    for figure in figures:
        value = f"{fmt(figure.value)} {figure.unit}".strip()
        reference = "-" if figure.reference is None else f"{fmt(figure.reference)} {figure.unit}"
        ratio = "-" if figure.ratio is None else f"{figure.ratio:.3g}"
        rows.append(
            [figure.name, value, reference, ratio, figure.target or "-", status(figure) or "-"]
        )
    return rows


HEADER = ["figure", "value", "reference", "ratio", "target", "result"]


def print_table(result: BenchResult) -> None:
    print()
    print(f"== {result.number}. {result.title} ({result.seconds:.1f} s) ==")
    if result.skipped:
        print(f"skipped: {result.skipped}")
        if not result.figures:
            sys.stdout.flush()
            return
    rows = [HEADER, *table_rows(result.figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    for figure in result.figures:
        if figure.met is False:
            print(
                f"MISSED: {figure.name}: {fmt(figure.value)} {figure.unit}"
                + (f" (ratio {figure.ratio:.3g})" if figure.ratio is not None else "")
                + f", target {figure.target}"
            )
    for figure in result.figures:
        if figure.note:
            print(f"  note ({figure.name}): {figure.note}")
    for note in result.notes:
        print(f"  note: {note}")
    sys.stdout.flush()


def markdown(results: Sequence[BenchResult], header: dict[str, str]) -> str:
    lines = [
        f"Measured {header['date']} on {header['machine']}; "
        f"{header['mode']}; total {header['total']}.",
        "",
    ]
    lines.append("| # | figure | value | reference | ratio | target | result |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        if result.skipped:
            lines.append(
                f"| {result.number} | {result.title}: skipped ({result.skipped}) "
                "| - | - | - | - | - |"
            )
        for row in table_rows(result.figures):
            cells = [cell.replace("|", "\\|") for cell in row]
            if cells[5] == "MISSED":
                cells[5] = "**MISSED**"
            lines.append(f"| {result.number} | " + " | ".join(cells) + " |")
    notes = [f"{r.number}. {n}" for r in results for n in r.notes]
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


def write_results(results: Sequence[BenchResult], header: dict[str, str]) -> None:
    figures = []
    for result in results:
        for figure in result.figures:
            data = figure.as_json()
            data["name"] = f"{result.number}. {figure.name}"
            figures.append(data)
    tmp = RESULTS_JSON.with_suffix(".json.partial")
    tmp.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, RESULTS_JSON)
    RESULTS_MD.write_text(markdown(results, header), encoding="utf-8")


def machine_description() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    osname = "Linux"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip('"')
    return (
        f"{os.cpu_count()} cores ({model}), {mem / 1024:.0f} GiB RAM, {osname}, "
        f"Python {sys.version.split()[0]}"
    )


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


# -- memory ---------------------------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM / VmSize in bytes from /proc/<pid>/status (empty if the process is gone)."""
    values: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "VmSize", "VmPeak", "Threads"):
            parts = rest.split()
            if not parts:
                continue
            number = int(parts[0])
            values[key] = number * 1024 if key != "Threads" else number
    return values


def reset_hwm(pid: int | str = "self") -> bool:
    """Reset the peak-RSS counter (VmHWM) to the current RSS; False if the kernel refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def open_file_bytes(pid: int, prefix: str) -> int:
    """Total size of the files a process holds open under `prefix` (deleted ones included):
    how much of a spill directory one server uses, whatever else uses /dev/shm."""
    total = 0
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return 0
    for name in names:
        try:
            if os.readlink(f"{fd_dir}/{name}").startswith(prefix):
                total += os.stat(f"{fd_dir}/{name}").st_size
        except OSError:
            continue
    return total


class RssSampler:
    """Samples a process's VmRSS (and its open files in a spill directory) in a thread;
    combine with VmHWM, which catches peaks between samples."""

    def __init__(self, pid: int, interval: float = 0.05, spill: str | None = None) -> None:
        self.pid = pid
        self.interval = interval
        self.spill = spill
        self.peak_rss = 0
        self.peak_spill = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status(self.pid).get("VmRSS", 0)
            self.peak_rss = max(self.peak_rss, rss)
            if self.spill:
                self.peak_spill = max(self.peak_spill, open_file_bytes(self.pid, self.spill))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- processes and ports --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any] | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before listening")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop a process this benchmark started (by its pid only)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=timeout)


@contextlib.contextmanager
def started(
    args: Sequence[str],
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server subprocess (stdout/stderr to `log`) until the block ends."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own fixed command lines
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env or bench_env(),
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, timeout)
        yield process
    finally:
        stop_process(process)


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.pop("PYTHONTRACEMALLOC", None)
    return env


class Measured:
    """What run_measured saw: wall time, ru_maxrss and a 20 ms VmRSS series of the child."""

    def __init__(
        self,
        seconds: float,
        peak: int,
        completed: subprocess.CompletedProcess[bytes],
        samples: list[int],
    ) -> None:
        self.seconds = seconds
        self.peak = peak
        self.completed = completed
        self.samples = samples

    def peak_after_drop(self, drop: int) -> int | None:
        """The peak RSS after the first fall of at least `drop` bytes from the running maximum
        (e.g. after an argon2id run freed its memory); None if there was no such fall."""
        running = 0
        for index, rss in enumerate(self.samples):
            running = max(running, rss)
            if running - rss >= drop:
                rest = self.samples[index:]
                return max(rest) if rest else None
        return None


def run_measured(args: Sequence[str], timeout: float, **kwargs: Any) -> Measured:
    """Run a command to completion, measuring wall time and memory (see Measured).

    ru_maxrss of the child alone comes from os.wait4 on its pid (not RUSAGE_CHILDREN, which
    would mix in every earlier child).
    """
    stdin = kwargs.pop("stdin", subprocess.DEVNULL)
    stdout = kwargs.pop("stdout", subprocess.PIPE)
    stderr = kwargs.pop("stderr", subprocess.PIPE)
    start = time.perf_counter()
    process = subprocess.Popen(
        list(args),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,  # noqa: S603
        cwd=kwargs.pop("cwd", ROOT),
        env=kwargs.pop("env", bench_env()),
    )
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []

    def drain(stream: Any, sink: list[bytes]) -> None:
        if stream is None:
            return
        while block := stream.read(65536):
            sink.append(block)

    readers = [
        threading.Thread(target=drain, args=(process.stdout, out_chunks), daemon=True),
        threading.Thread(target=drain, args=(process.stderr, err_chunks), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    status, rusage = 0, None
    samples: list[int] = []
    while True:
        rss = proc_status(process.pid).get("VmRSS")
        if rss:
            samples.append(rss)
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            break
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            pid, status, rusage = os.wait4(process.pid, 0)
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    for reader in readers:
        reader.join(timeout=10)
    process.returncode = os.waitstatus_to_exitcode(status)
    completed = subprocess.CompletedProcess(
        list(args), process.returncode, b"".join(out_chunks), b"".join(err_chunks)
    )
    peak = int(rusage.ru_maxrss) * 1024 if rusage is not None else 0
    return Measured(elapsed, peak, completed, samples)


@contextlib.contextmanager
def scratch(config: Config, prefix: str, parent: str | None = None) -> Iterator[Path]:
    """A temporary directory removed afterwards (unless --keep)."""
    path = Path(tempfile.mkdtemp(prefix=f"wbs-bench-{prefix}-", dir=parent))
    try:
        yield path
    finally:
        if config.keep:
            print(f"  kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def best(values: Sequence[float]) -> float:
    return min(values)


def percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)  # nearest-rank percentile
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value

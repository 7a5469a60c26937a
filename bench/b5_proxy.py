"""Benchmark 5, phase 2: the deployed path, `deploy/haproxy.cfg` as shipped in front of the site,
every connection a Tor circuit (bench/circuits.py), a flood from bench/flood.py. See
bench/b5_logins.py for what is measured and the targets."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import circuits, site
from bench.common import (
    MIB,
    ROOT,
    BenchResult,
    Config,
    bench_env,
    info,
    limit_figure,
    percentile,
    stop_process,
)
from bench.probes import PROBE_INTERVAL, probe_landing
from bench.site import origin

ATTACKER_CIRCUITS = 8
ATTACKER_THREADS = 64
TRICKLES = 200
WARM_UP = 3.0  # seconds of flood before the first honest try
MIN_FLOOD = 17.0  # long enough for trickling heads to reach the proxy's 15 s request timeout
# After a refusal (a 429, or its connection closed or reset), an attacker thread waits this long
# before its next attempt: a floor on what a new stream over a Tor rendezvous circuit costs (one
# round trip over 6 hops, typically 0.3-1 s). Without it the local flood process spins on refused
# connections and takes one of the machine's cores from the site, which a remote attacker cannot.
ATTACKER_PAUSE = 0.1
TRY_TIMEOUT = 30.0  # per request of an honest try
FAILED_TRY = 60.0  # what a failed honest try counts as in the percentiles (it never succeeded)
HONEST_SECONDS = 5.0  # /create and login succeed within 5 s at p95
UPLOAD_BYTES = 4 * MIB


# -- phase 2: through HAProxy, as Tor circuits ------------------------------------------------


def not_measured(result: BenchResult, reason: str) -> None:
    result.figures.append(info("through HAProxy: not measured", None, "", note=reason))
    result.notes.append(f"phase 2 (through HAProxy) not measured: {reason}")


class CountingClient(site.Client):
    """A site.Client that counts the TCP connections it opened (a try should need one)."""

    connections = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self.connections += 1
        return super()._connection()


@dataclass
class Tries:
    """Timed honest tries of one kind."""

    seconds: list[float] = field(default_factory=list)  # a failed try counts as FAILED_TRY
    ok: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reconnected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, elapsed: float, outcome: str, connections: int) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if outcome == "ok":
                self.ok += 1
                self.seconds.append(elapsed)
            else:
                self.seconds.append(FAILED_TRY)
            if connections > 1:
                self.reconnected += 1


def honest_try(port: int, circuit: int, kind: str, text: str, tries: Tries) -> None:
    """One try on a fresh circuit: get the form (for /create: the codename page and its
    confirmation), POST it; "ok" is the 303 onwards."""
    client = CountingClient(port, timeout=TRY_TIMEOUT, circuit=circuit)
    post_path, onwards = ("/create", "/submit") if kind == "create" else ("/login", "/lookup")
    began = time.perf_counter()
    try:
        if kind == "create":
            _, fields = site.create_form(client)
        else:
            fields = site.login_form(client, text)
        reply = client.post_form(post_path, fields)
        location = reply.headers.get("Location") or ""
        if reply.status == 303 and location.endswith(onwards):
            outcome = "ok"
        else:
            outcome = f"POST {post_path} {reply.status} ({origin(reply)})"
    except (OSError, http.client.HTTPException, RuntimeError) as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
    finally:
        client.close()
    tries.add(time.perf_counter() - began, outcome, client.connections)


def honest_loop(
    count: int, start: float, spacing: float, try_one: Callable[[], None], stop: threading.Event
) -> None:
    """`count` tries, the i-th started at start + i * spacing (or when the previous ends)."""
    for index in range(count):
        if stop.wait(max(0.0, start + index * spacing - time.perf_counter())):
            return
        try_one()


@dataclass
class Upload:
    done: bool = False
    seconds: float | None = None
    attempts: list[str] = field(default_factory=list)


def honest_upload(
    port: int, honest: circuits.HonestCircuits, upload: Upload, stop: threading.Event
) -> None:
    """A new reporter on a fresh circuit: /generate, /create, /submit with a 4 MiB attachment
    (at most 3 attempts, each on a new circuit)."""
    began = time.perf_counter()
    for _ in range(3):
        if stop.is_set():
            return
        client = site.Client(port, timeout=120, circuit=honest.new())
        try:
            site.new_source(client)
            body = site.MultipartBody(site.REPORT_FIELDS, UPLOAD_BYTES, b"wbs-bench-5-upload")
            reply = client.request(
                "POST",
                site.submit_path(client),
                b"".join(bytes(chunk) for chunk in body.chunks()),
                {"Content-Type": body.content_type},
            )
            if reply.status == 303 and (reply.headers.get("Location") or "").endswith("/thanks"):
                upload.done = True
                upload.seconds = time.perf_counter() - began
                upload.attempts.append("ok")
                return
            upload.attempts.append(f"POST /submit {reply.status} ({origin(reply)})")
        except (OSError, http.client.HTTPException, RuntimeError) as exc:
            upload.attempts.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()


@contextlib.contextmanager
def flood_process(port: int, seconds: float, log: Path) -> Iterator[dict[str, Any]]:
    """bench/flood.py in its own process; its report (JSON) fills the yielded dict when the
    block ends (stdin closed, then waited for; killed by its pid if it does not finish)."""
    report: dict[str, Any] = {}
    lines: list[str] = []
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.flood",
                "--port",
                str(port),
                "--circuits",
                str(ATTACKER_CIRCUITS),
                "--threads",
                str(ATTACKER_THREADS),
                "--trickles",
                str(TRICKLES),
                "--seconds",
                str(seconds),
                "--pause",
                str(ATTACKER_PAUSE),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            cwd=ROOT,
            env=bench_env(),
            text=True,
        )
    assert process.stdin is not None and process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        lines.extend(stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield report
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop_process(process)
        reader.join(timeout=10)
        if lines:
            with contextlib.suppress(ValueError):
                report.update(json.loads(lines[-1]))
        report["returncode"] = process.returncode


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize_flood(report: dict[str, Any]) -> dict[str, int]:
    outcomes: dict[str, int] = report.get("outcomes", {})

    def total(test: Callable[[str], bool]) -> int:
        return sum(n for key, n in outcomes.items() if test(key))

    return {
        "429": total(lambda k: " 429 " in k),
        "503": total(lambda k: " 503 " in k),
        "checks": total(lambda k: k.startswith(("login POST 400", "create POST 303"))),
        "requests": total(lambda k: not k.startswith("trickle")),
        "dropped": total(lambda k: " connection " in k),
        "cut408": total(lambda k: k == "trickle cut 408"),
        "trickle_closed": total(
            lambda k: (
                k.startswith("trickle") and k not in ("trickle cut 408",) and "still open" not in k
            )
        ),
        "trickle_open": total(lambda k: "still open" in k),
    }


def proxy_phase(
    config: Config, instance: site.Instance, root: Path, shm: Path, result: BenchResult
) -> None:
    binary = circuits.haproxy_binary()
    if binary is None:
        not_measured(result, "haproxy is not installed (scripts/system-packages.txt)")
        return
    tries = config.size(20, 8)
    spacing = config.seconds(1.5, 1.0)
    honest = circuits.HonestCircuits()
    creates, logins, upload = Tries(), Tries(), Upload()
    stop = threading.Event()
    flood_bound = WARM_UP + max(MIN_FLOOD, tries * spacing) + 2 * TRY_TIMEOUT + 10
    with (
        site.dropbox_server(instance, shm / "proxied", root / "proxied.log") as (site_port, server),
        circuits.running_haproxy(binary, site_port, root / "haproxy.log") as proxy,
    ):
        port = proxy.port
        # The honest reporter's codename, made through the proxy before the flood.
        first = site.Client(port, timeout=TRY_TIMEOUT, circuit=honest.new())
        try:
            text = site.new_source(first)
        finally:
            first.close()
        idle = probe_landing(port, time.perf_counter() + 2.0, 20, honest)
        proxy_cpu, site_cpu = cpu_seconds(proxy.pid), cpu_seconds(server.pid)
        with flood_process(port, flood_bound, root / "flood.log") as report:
            flood_began = time.perf_counter()
            time.sleep(WARM_UP)
            start = time.perf_counter()
            workers = [
                threading.Thread(
                    target=honest_loop,
                    args=(
                        tries,
                        start,
                        spacing,
                        lambda: honest_try(port, honest.new(), "create", text, creates),
                        stop,
                    ),
                ),
                threading.Thread(
                    target=honest_loop,
                    args=(
                        tries,
                        start + spacing / 2,
                        spacing,
                        lambda: honest_try(port, honest.new(), "login", text, logins),
                        stop,
                    ),
                ),
                threading.Thread(target=honest_upload, args=(port, honest, upload, stop)),
            ]
            try:
                for worker in workers:
                    worker.daemon = True
                    worker.start()
                landing = probe_landing(
                    port, start + tries * spacing, int(tries * spacing / PROBE_INTERVAL) + 1, honest
                )
                for worker in workers:
                    worker.join(timeout=max(0.1, flood_began + flood_bound - time.perf_counter()))
                honest_done = time.perf_counter()
                # Let the trickling heads run into the proxy's request timeout.
                time.sleep(max(0.0, flood_began + MIN_FLOOD - time.perf_counter()))
            finally:
                stop.set()
            flood_seconds = time.perf_counter() - flood_began
        proxy_cpu = cpu_seconds(proxy.pid) - proxy_cpu
        site_cpu = cpu_seconds(server.pid) - site_cpu
    unfinished = [worker for worker in workers if worker.is_alive()]
    summary = summarize_flood(report)
    p99 = percentile(landing, 99)
    idle_p99 = percentile(idle, 99)
    figures = []
    for name, done in (("/create", creates), ("login", logins)):
        p95 = percentile(done.seconds, 95)
        median = percentile(done.seconds, 50)
        figures += [
            limit_figure(
                f"honest {name} p95 under the flood (proxy)",
                p95 * 1000 if p95 is not None else None,
                "ms",
                below=HONEST_SECONDS * 1000,
                note=f"each try GET then POST on a fresh circuit; median "
                f"{1000 * (median or 0):.0f} ms, max {1000 * max(done.seconds, default=0):.0f} "
                f"ms; a failed try counts as {FAILED_TRY:.0f} s",
            ),
            limit_figure(
                f"honest {name} successes (proxy)",
                done.ok,
                f"of {tries}",
                at_least=tries,
                note=", ".join(f"{k}: {v}" for k, v in sorted(done.outcomes.items())),
            ),
        ]
    figures += [
        limit_figure(
            "landing p99 during the flood (proxy)",
            p99 * 1000 if p99 else None,
            "ms",
            below=250,
            reference=idle_p99 * 1000 if idle_p99 else None,
            note=f"{len(landing)} probes, each on a fresh circuit; median "
            f"{1000 * (percentile(landing, 50) or 0):.0f} ms; failed: "
            f"{sum(1 for x in landing if x >= 60.0)}; reference = idle p99 through the proxy",
        ),
        limit_figure(
            "honest upload completed (proxy)",
            1 if upload.done else 0,
            "uploads",
            at_least=1,
            note=f"/generate, /create, /submit with {UPLOAD_BYTES // MIB} MiB on a fresh circuit; "
            f"attempts: {upload.attempts}",
        ),
        info(
            "honest upload time, new codename + 4 MiB report (proxy)",
            upload.seconds,
            "s",
        ),
        info(
            "attacker codename checks that reached the site (proxy)",
            summary["checks"],
            "checks",
            note="wrong-codename logins answered 400 + attacker /create answered 303",
        ),
        info("attacker requests answered 429 (proxy)", summary["429"], "requests"),
        info("attacker requests answered 503 (proxy)", summary["503"], "requests"),
        info(
            "attacker connections dropped or refused (proxy)",
            summary["dropped"],
            "connections",
            note="login/create threads whose connection was closed or reset (circuit cap)",
        ),
        info(
            "trickling heads cut with 408 (proxy)",
            summary["cut408"],
            "connections",
            note=f"median hold {percentile(report.get('cut_after', []), 50) or 0:.1f} s; "
            f"refused or closed otherwise: {summary['trickle_closed']}",
        ),
    ]
    result.figures += figures
    outcomes = report.get("outcomes", {})
    result.notes.append(
        f"phase 2 (through HAProxy, deploy/haproxy.cfg as shipped, in front of a fresh `dropbox "
        f"serve` of the same instance; every connection opens with tor's PROXY line naming its "
        f"circuit): a separate process is {ATTACKER_CIRCUITS} attacker circuits, "
        f"{ATTACKER_THREADS} threads (half wrong-codename logins, half /create; each on one "
        f"circuit and keep-alive connection: GET the form for its token "
        f"(for /create also POST /confirm for the words asked back), then POST; "
        f"{ATTACKER_PAUSE:g} s pause after a refusal or a dropped connection, none otherwise; "
        f"at most 2000 loops each) and {TRICKLES} connections sending a request head "
        f"one byte every 2 s, reopened when cut; it ran {flood_seconds:.1f} s and used "
        f"{report.get('cpu_seconds', 0):.1f} s of CPU (HAProxy {proxy_cpu:.1f} s, the site "
        f"{site_cpu:.1f} s). After {WARM_UP:.0f} s of flood, honest "
        f"tries each on a fresh circuit: {tries} of /create "
        f"(GET /generate, POST /confirm, POST /create) and "
        f"{tries} of login with a real codename (GET /login, POST /login), one every "
        f"{spacing:g} s each, interleaved; the landing page every {PROBE_INTERVAL * 1000:.0f} ms "
        f"(idle reference: 2 s before the flood); one new reporter filing a report with a "
        f"{UPLOAD_BYTES // MIB} MiB attachment; honest work took {honest_done - start:.1f} s"
    )
    result.notes.append(f"phase 2, attacker outcomes: {dict(sorted(outcomes.items()))}")
    flood_errors = (root / "flood.log").read_text("utf-8", "replace").strip()
    if flood_errors:
        result.notes.append(f"phase 2: the flood process wrote: {flood_errors[-600:]}")
    proxy_output = (root / "haproxy.log").read_text("utf-8", "replace")
    traces = [t for t in ("fc00", "dead:beef", "GET ", "POST ", "/login") if t in proxy_output]
    result.notes.append(
        f"phase 2: HAProxy wrote {len(proxy_output.splitlines())} lines in all"
        + (f", with request traces {traces}" if traces else ", none about a request or circuit")
    )
    reconnected = creates.reconnected + logins.reconnected
    if reconnected:
        result.notes.append(f"phase 2: {reconnected} honest tries needed a second connection")
    if unfinished or report.get("unfinished_threads") or report.get("returncode"):
        result.notes.append(
            f"phase 2: {len(unfinished)} honest workers unfinished; flood process returned "
            f"{report.get('returncode')} with {report.get('unfinished_threads')} threads left"
        )

"""5. Codename checks under a flood: straight to waitress, then through HAProxy as Tor circuits.

Phase 1, straight to waitress (the demo path, no proxy): 64 sessions are prepared first (GET
/login for the cookie and form token each). Then 64 threads post wrong codenames (well-formed,
freshly generated, so every one costs the real argon2id derivation) back to back until the
deadline; meanwhile the landing page is requested open-loop every 100 ms, each request on a new
connection like a new visitor, so a slow answer does not hide the ones that would have followed.
Targets: codename checks per second at least 3x the 2.15/s measured with the old KDF (two
64 MiB argon2id runs per check then, one 19 MiB run now), landing p99 under 250 ms, server peak RSS
growth bounded by the KDF cap (2 slots x the argon2id memory + 64 MiB of slack).

Phase 2, the deployed path: `deploy/haproxy.cfg` as shipped, on loopback in front of a fresh
`dropbox serve` of the same instance; every connection starts with the PROXY line tor's onion
service sends, its source address naming a Tor circuit (bench/circuits.py). A separate process
(bench/flood.py) is 8 attacker circuits: 64 threads of bad logins and /create, each on its
circuit, plus 200 trickling connections. Meanwhile honest reporters, each try on a fresh
circuit: N tries of /create (GET /generate, POST /confirm, POST /create), N tries of login
with a real codename (GET /login, POST /login), the landing page every 100 ms, and one report
with a 4 MiB attachment.
Targets: honest /create and login each N/N, p95 <= 5 s; landing p99 < 250 ms; the
upload completes.
"""

from __future__ import annotations

import http.client
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from bench import site
from bench.b5_proxy import not_measured, proxy_phase
from bench.common import (
    MIB,
    BenchResult,
    Config,
    RssSampler,
    info,
    limit_figure,
    percentile,
    proc_status,
    reset_hwm,
    scratch,
)
from bench.probes import PROBE_INTERVAL, probe_landing
from keys import codename
from keys.codename import CodenameKdfParams

TITLE = "codename checks under a flood: straight to waitress, and through HAProxy as Tor circuits"
LOGINS = 64
KDF_SLOTS = 2  # CodenameDeriver's default max_concurrent, what `dropbox serve` uses
KDF_MIB = CodenameKdfParams().memory_cost_kib / 1024
MEMORY_BOUND = KDF_SLOTS * CodenameKdfParams().memory_cost_kib * 1024 + 64 * MIB
CHECKS_BEFORE = 2.15  # checks/s under the 64-thread flood with the old KDF (2 x 64 MiB argon2id)
CHECKS_TARGET = 3 * CHECKS_BEFORE


def run(config: Config) -> BenchResult:
    result = BenchResult(5, TITLE)
    with scratch(config, "logins") as root, site.spill_dir() as shm:
        instance = site.make_instance(root)
        direct_phase(config, instance, root, shm, result)
        try:
            proxy_phase(config, instance, root, shm, result)
        except Exception as exc:  # noqa: BLE001 - keep phase 1's figures, say what broke
            traceback.print_exc()
            not_measured(result, f"crashed: {type(exc).__name__}: {exc}")
    return result


# -- phase 1: straight to waitress ------------------------------------------------------------


def direct_phase(
    config: Config, instance: site.Instance, root: Path, shm: Path, result: BenchResult
) -> None:
    load_seconds = config.seconds(20.0, 8.0)
    max_attempts = 40  # per login thread: bounded in count as well as in time
    with site.dropbox_server(instance, shm / "ours", root / "ours.log") as (port, server):
        # Idle landing latency first: the reference.
        idle = probe_landing(port, time.perf_counter() + 3.0, 30)
        sessions = []
        for _ in range(LOGINS):
            client = site.Client(port, timeout=90)
            page = client.get("/login")
            sessions.append((client, site.hidden(page.text, "token")))
        counts: dict[Any, int] = {}
        login_latencies: list[float] = []
        lock = threading.Lock()
        rss_before = proc_status(server.pid).get("VmRSS", 0)
        hwm_reset = reset_hwm(server.pid)
        start = time.perf_counter()
        deadline = start + load_seconds

        def attacker(client: site.Client, token: str) -> None:
            for _ in range(max_attempts):
                if time.perf_counter() >= deadline:
                    return
                began = time.perf_counter()
                try:
                    reply = client.post_form(
                        "/login", {"token": token, "codename": codename.generate("id")}
                    )
                    status: Any = reply.status
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                with lock:
                    counts[status] = counts.get(status, 0) + 1
                    login_latencies.append(time.perf_counter() - began)

        try:
            with RssSampler(server.pid, 0.05) as sampler:
                threads = [
                    threading.Thread(target=attacker, args=session, daemon=True)
                    for session in sessions
                ]
                for thread in threads:
                    thread.start()
                loaded = probe_landing(port, deadline, int(load_seconds / PROBE_INTERVAL) + 1)
                for thread in threads:
                    thread.join(timeout=max(0.1, deadline + 60 - time.perf_counter()))
                finished = time.perf_counter()
            hwm = proc_status(server.pid).get("VmHWM", 0)
        finally:
            for client, _ in sessions:
                client.close()
    growth = max(sampler.peak_rss - rss_before, (hwm - rss_before) if hwm_reset else 0)
    checked = counts.get(400, 0)
    busy = counts.get(503, 0)
    window = finished - start
    p99 = percentile(loaded, 99)
    idle_p99 = percentile(idle, 99)
    result.figures += [
        limit_figure(
            "codename checks per second (64-thread flood, direct)",
            checked / window if window else None,
            "checks/s",
            at_least=round(CHECKS_TARGET, 2),
            reference=CHECKS_BEFORE,
            note=f"{checked} wrong codenames checked and refused (400) in {window:.1f} s; "
            f"target 3x the {CHECKS_BEFORE}/s measured with the old KDF (reference)",
        ),
        limit_figure(
            "landing p99 during the login flood (direct)",
            p99 * 1000 if p99 else None,
            "ms",
            below=250,
            reference=idle_p99 * 1000 if idle_p99 else None,
            note=f"{len(loaded)} probes; median {1000 * (percentile(loaded, 50) or 0):.0f}"
            f" ms; reference = idle p99",
        ),
        limit_figure(
            "server peak RSS growth during the flood (direct)",
            growth / MIB,
            "MiB",
            below=MEMORY_BOUND / MIB,
            note=f"bound: {KDF_SLOTS} KDF slots x {KDF_MIB:g} MiB argon2id + 64 MiB; growth = "
            f"{growth / MIB / KDF_MIB:.1f} x one argon2id's memory",
        ),
        info("logins refused as busy (503, direct)", busy, "requests"),
        info(
            "login p50 latency under the flood (direct)",
            1000 * (percentile(login_latencies, 50) or 0),
            "ms",
        ),
    ]
    others = {k: v for k, v in counts.items() if k not in (400, 503)}
    if others:
        result.notes.append(f"phase 1, other login outcomes: {others}")
    result.notes.append(
        f"phase 1 (straight to waitress, no proxy): {LOGINS} threads, each on its own keep-alive "
        f"connection with its session, post wrong codenames back to back for {load_seconds:.0f} s "
        f"(at most {max_attempts} each), then the ones in flight are waited for "
        f"({window:.1f} s in all); checks/s = wrong codenames refused with 400 (each one "
        f"argon2id t={CodenameKdfParams().time_cost}, {KDF_MIB:g} MiB) over that window; "
        f"the reference {CHECKS_BEFORE}/s was measured the same way with the old KDF (two "
        f"64 MiB runs per check); landing probed every {PROBE_INTERVAL * 1000:.0f} ms on new "
        f"connections (idle reference: 3 s before the flood)"
    )

"""5. Logins: 64 concurrent wrong-codename logins while a second client loads the landing page.

64 sessions are prepared first (GET /login for the cookie and CSRF token each). Then 64
threads post wrong codenames (well-formed, freshly generated, so every one costs the real
argon2id derivations) back to back until the deadline; meanwhile the landing page is requested
open-loop every 100 ms, each request on a new connection like a new visitor, so a slow answer
does not hide the ones that would have followed. Targets: landing p99 under 250 ms, server peak
RSS growth bounded by the KDF cap (2 slots x 64 MiB + 64 MiB of slack); codename checks per
second reported.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import site
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
from keys import codename
from keys.codename import CodenameKdfParams

TITLE = "64 concurrent wrong-codename logins vs landing-page latency"
LOGINS = 64
PROBE_INTERVAL = 0.1
KDF_SLOTS = 2  # CodenameDeriver's default max_concurrent, what `dropbox serve` uses
MEMORY_BOUND = KDF_SLOTS * CodenameKdfParams().memory_cost_kib * 1024 + 64 * MIB


def probe_landing(port: int, until: float, limit: int) -> list[float]:
    """Open-loop GET / every PROBE_INTERVAL until `until`; latencies in seconds (timeouts: 60)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        client = site.Client(port, timeout=60)
        start = time.perf_counter()
        try:
            reply = client.get("/")
            ok = reply.status == 200
        except OSError:
            ok = False
        finally:
            client.close()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed if ok else 60.0)

    with ThreadPoolExecutor(max_workers=64) as pool:
        next_at = time.perf_counter()
        for _ in range(limit):
            if time.perf_counter() >= until:
                break
            pool.submit(one)
            next_at += PROBE_INTERVAL
            time.sleep(max(0.0, next_at - time.perf_counter()))
    return latencies


def run(config: Config) -> BenchResult:
    result = BenchResult(5, TITLE)
    load_seconds = config.seconds(20.0, 8.0)
    max_attempts = 40  # per login thread: bounded in count as well as in time
    with scratch(config, "logins") as root, site.spill_dir() as shm:
        instance = site.make_instance(root)
        with site.dropbox_server(instance, shm / "ours", root / "ours.log") as (port, server):
            # Idle landing latency first: the reference.
            idle = probe_landing(port, time.perf_counter() + 3.0, 30)
            sessions = []
            for _ in range(LOGINS):
                client = site.Client(port, timeout=90)
                page = client.get("/login")
                sessions.append((client, site.hidden(page.text, "csrf_token")))
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
                            "/login", {"csrf_token": token, "codename": codename.generate("id")}
                        )
                        status: Any = reply.status
                    except OSError as exc:
                        status = type(exc).__name__
                    with lock:
                        counts[status] = counts.get(status, 0) + 1
                        login_latencies.append(time.perf_counter() - began)

            with RssSampler(server.pid, 0.05) as sampler:
                threads = [
                    threading.Thread(target=attacker, args=session, daemon=True)
                    for session in sessions
                ]
                for thread in threads:
                    thread.start()
                loaded = probe_landing(port, deadline, int(load_seconds / PROBE_INTERVAL) + 1)
                for thread in threads:
                    thread.join(timeout=180)
                finished = time.perf_counter()
            hwm = proc_status(server.pid).get("VmHWM", 0)
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
            "landing p99 during the login flood",
            p99 * 1000 if p99 else None,
            "ms",
            below=250,
            reference=idle_p99 * 1000 if idle_p99 else None,
            note=f"{len(loaded)} probes; median {1000 * (percentile(loaded, 50) or 0):.0f}"
            f" ms; reference = idle p99",
        ),
        limit_figure(
            "server peak RSS growth during the flood",
            growth / MIB,
            "MiB",
            below=MEMORY_BOUND / MIB,
            note="bound: 2 KDF slots x 64 MiB argon2id + 64 MiB",
        ),
        info(
            "codename checks per second",
            checked / window if window else None,
            "checks/s",
            note=f"{checked} wrong codenames refused (400) in {window:.1f} s",
        ),
        info("logins refused as busy (503)", busy, "requests"),
        info(
            "login p50 latency under the flood", 1000 * (percentile(login_latencies, 50) or 0), "ms"
        ),
    ]
    others = {k: v for k, v in counts.items() if k not in (400, 503)}
    if others:
        result.notes.append(f"other login outcomes: {others}")
    result.notes.append(
        f"{LOGINS} login threads for {load_seconds:.0f} s (at most {max_attempts} attempts each), "
        f"then waited for the ones in flight ({window:.1f} s in all); landing probed every "
        f"{PROBE_INTERVAL * 1000:.0f} ms on new connections; the server's real KDF cost"
    )
    return result

"""The landing-page prober shared by both phases of benchmark 5."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench import circuits, site

PROBE_INTERVAL = 0.1


def probe_landing(
    port: int, until: float, limit: int, honest: circuits.HonestCircuits | None = None
) -> list[float]:
    """Open-loop GET / every PROBE_INTERVAL until `until`; latencies in seconds (a failed probe
    counts as 60 s). With `honest`, each probe comes through the proxy on a fresh circuit."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        circuit = honest.new() if honest else None
        client = site.Client(port, timeout=60, circuit=circuit)
        start = time.perf_counter()
        try:
            reply = client.get("/")
            ok = reply.status == 200
        except (OSError, http.client.HTTPException):
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

"""The attackers of benchmark 5, phase 2, in a process of their own:
`python -m bench.flood --port P --circuits 8 --threads 64 --trickles 200 --seconds S`.

Through HAProxy, as K Tor circuits (PROXY protocol lines, see bench/circuits.py):
- `--threads` threads of codename checks spread over the circuits; each stays on its circuit and
  its keep-alive connection, and loops: GET /login for its token, then POST /login with a fresh
  well-formed wrong codename (or GET /generate, POST /confirm, then POST /create with the words
  asked); half the threads log in, half create. At most `--attempts` loops per thread.
- `--trickles` connections spread over the circuits that each send a request head one byte every
  `--trickle-interval` seconds and open a new connection when the proxy cuts or refuses theirs.

It runs until `--seconds` have passed or its stdin is closed, whichever comes first, then prints
one JSON object on stdout: every outcome counted, the hold times of cut trickling connections,
its own CPU time. Being a separate process, its Python threads do not slow the honest client's
timings through the GIL (they still share the machine's cores with the site and the proxy).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import resource
import sys
import threading
import time
from collections import Counter

from bench import site
from bench.circuits import ATTACKER_BASE, open_stream
from bench.site import Client, origin
from keys import codename

# Long enough never to complete at one byte per interval within any run of the benchmark.
TRICKLE_HEAD = b"GET / HTTP/1.1\r\nHost: " + b"a" * 120 + b"\r\n\r\n"


class Flood:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.stop = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self.cut_after: list[float] = []  # seconds a trickling connection was held before a 408
        self.lock = threading.Lock()

    def count(self, outcome: str, held: float | None = None) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if held is not None:
                self.cut_after.append(held)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the flood is over."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.stop.set()
            return True
        return self.stop.wait(min(seconds, remaining)) or time.monotonic() >= self.deadline

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() >= self.deadline


def _form(client: Client, kind: str) -> tuple[str, dict[str, str] | None]:
    """The form to post, as a browser gets it: GET /login (its token); or GET /generate, then
    POST /confirm for the words to type back. (None, and what refused it) when refused."""
    try:
        if kind == "login":
            return "", site.login_form(client, codename.generate("id"))
        return "", site.create_form(client)[1]
    except site.Refused as refused:
        reply = refused.reply
        return f"{kind} {refused.step} {reply.status} {origin(reply)}", None
    except RuntimeError:  # a page without the form's fields (bench/site.py `hidden`)
        return f"{kind} form unreadable", None


def checker(flood: Flood, port: int, circuit: int, kind: str, attempts: int, pause: float) -> None:
    client = Client(port, timeout=30, circuit=circuit)
    post_path = "/login" if kind == "login" else "/create"
    try:
        for _ in range(attempts):
            if flood.over():
                return
            refused = False
            try:
                why, fields = _form(client, kind)
                if fields is None:
                    flood.count(why)
                    refused = True
                else:
                    reply = client.post_form(post_path, fields)
                    flood.count(f"{kind} POST {reply.status} {origin(reply)}")
                    refused = reply.status in (429, 503)
            except (OSError, http.client.HTTPException) as error:
                flood.count(f"{kind} connection {type(error).__name__}")
                client.close()
                refused = True
            if refused and pause and flood.wait(pause):
                return
    finally:
        client.close()


def trickle(flood: Flood, port: int, circuit: int, interval: float) -> None:
    """Send TRICKLE_HEAD one byte per `interval`, reopening when the proxy cuts the stream."""
    flood.wait(random.uniform(0, interval))  # spread the 200 streams over one interval
    while not flood.over():
        opened = time.monotonic()
        try:
            stream = open_stream(port, circuit, timeout=10)
        except OSError:
            flood.count("trickle connect failed")
            if flood.wait(interval):
                return
            continue
        try:
            stream.settimeout(0.2)
            for byte in TRICKLE_HEAD:
                stream.sendall(bytes([byte]))
                try:
                    answer = stream.recv(64)
                except TimeoutError:
                    if flood.wait(interval):
                        flood.count("trickle still open at the end")
                        return
                    continue
                held = time.monotonic() - opened
                if answer.startswith(b"HTTP/1.1 408"):
                    flood.count("trickle cut 408", held)
                elif answer:
                    flood.count(
                        f"trickle answered {answer.split(b' ')[1].decode(errors='replace')}"
                    )
                else:
                    flood.count("trickle closed without answer")
                break
            else:
                flood.count("trickle head completed")
        except OSError as error:
            flood.count(f"trickle {type(error).__name__}")
        finally:
            stream.close()
        if flood.wait(interval):
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="HAProxy's front port")
    parser.add_argument("--circuits", type=int, default=8)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--trickles", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="hard upper bound")
    parser.add_argument("--attempts", type=int, default=2000, help="loops per checking thread")
    parser.add_argument("--pause", type=float, default=0.0, help="pause after a refusal")
    parser.add_argument("--trickle-interval", type=float, default=2.0)
    args = parser.parse_args(argv)

    flood = Flood(time.monotonic() + args.seconds)
    circuits = [ATTACKER_BASE + n for n in range(args.circuits)]
    workers = []
    for index in range(args.threads):
        kind = "login" if index % 2 == 0 else "create"
        circuit = circuits[index % len(circuits)]
        workers.append(
            threading.Thread(
                target=checker,
                args=(flood, args.port, circuit, kind, args.attempts, args.pause),
                daemon=True,
            )
        )
    for index in range(args.trickles):
        circuit = circuits[index % len(circuits)]
        workers.append(
            threading.Thread(
                target=trickle,
                args=(flood, args.port, circuit, args.trickle_interval),
                daemon=True,
            )
        )
    began = time.monotonic()
    for worker in workers:
        worker.start()
    print(json.dumps({"started": len(workers)}), flush=True)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the benchmark closed our stdin
        flood.stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    while not flood.over():
        flood.stop.wait(0.2)
    flood.stop.set()
    stopped = time.monotonic()
    for worker in workers:
        worker.join(timeout=max(0.1, stopped + 40 - time.monotonic()))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "outcomes": dict(flood.outcomes),
        "cut_after": flood.cut_after,
        "seconds": stopped - began,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "unfinished_threads": sum(1 for worker in workers if worker.is_alive()),
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

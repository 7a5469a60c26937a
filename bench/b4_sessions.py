"""Part of benchmark 4: what 20,000 live sessions cost every other request.

In one process, through the site's own WSGI app (no network, so the figure is the app's CPU
alone): CPU time per request for /generate (a visitor without a cookie) and for /submit (a
logged-in reporter, whose request reads and writes back their session) with the session store
empty but for that reporter, then with 20,000 more live sessions. The sessions are made by the
store's own `create`, as /create and /login make them. Target: /generate within 1.5x of the
empty store.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from flask.testing import FlaskClient

from bench import site
from bench.common import Config, Figure, info, ratio_figure
from dropbox import instance as instance_module
from dropbox.app import create_app
from dropbox.service import DropBox
from dropbox.sessions import MemorySessionInterface

LIVE_SESSIONS = 20_000


def _create_codename(client: FlaskClient) -> None:
    """/generate, /confirm, /create through the app: the client is a logged-in reporter."""
    page = client.get("/generate").get_data(as_text=True)
    shown = site.CODENAME.search(page)
    if shown is None:
        raise RuntimeError("/generate shows no codename")
    pending = site.hidden(page, "pending")
    confirm = client.post("/confirm", data={"pending": pending}).get_data(as_text=True)
    words = shown.group(1).split()
    typed = {f"word{n}": words[int(n) - 1] for n in re.findall(r'name="word(\d+)"', confirm)}
    created = client.post("/create", data={"pending": pending, **typed})
    if created.status_code != 303:
        raise RuntimeError(f"/create gave {created.status_code}")


def _cpu_per_request(client: FlaskClient, path: str, count: int) -> float:
    get = client.get
    for _ in range(20):  # warm-up: templates compiled, caches filled
        get(path)
    start = time.process_time()
    for _ in range(count):
        response = get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path} gave {response.status_code}")
    return (time.process_time() - start) / count


def measure(config: Config, root: Path) -> list[Figure]:
    instance = site.make_instance(root)
    app = create_app(DropBox(instance_module.load(instance.data)))
    interface = app.session_interface
    assert isinstance(interface, MemorySessionInterface)  # noqa: S101
    visitor = app.test_client()
    reporter = app.test_client()
    _create_codename(reporter)
    count = 300 if config.quick else 1500
    empty = {
        path: _cpu_per_request(c, path, count)
        for path, c in (("/generate", visitor), ("/submit", reporter))
    }
    for number in range(LIVE_SESSIONS):
        interface.store.create({"source_id": f"{number:032x}", "filler": "x" * 64})
    full = {
        path: _cpu_per_request(c, path, count)
        for path, c in (("/generate", visitor), ("/submit", reporter))
    }
    live = len(interface.store)
    return [
        ratio_figure(
            f"/generate CPU per request with {LIVE_SESSIONS:,} live sessions",
            1000 * full["/generate"],
            1000 * empty["/generate"],
            "ms",
            maximum=1.5,
            note=f"reference: the same with an empty store; in process, {count} requests each; "
            f"{live:,} sessions live",
        ),
        info(
            f"/submit (logged in) CPU per request with {LIVE_SESSIONS:,} live sessions",
            1000 * full["/submit"],
            "ms",
            reference=1000 * empty["/submit"],
            note="reference: the same with an empty store",
        ),
    ]

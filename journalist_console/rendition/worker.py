"""Conversions in the background, for the web interface, and `ensure` for everyone.

A Worker belongs to one unlocked session: a thread converting the entries it is asked for, one
at a time (the web interface queues every file of an import, and a report's files first when
its page is opened). It reads and writes the database through a connection of its own, so a
request holding the session's lock never waits for it, nor it for a request; SQLite's locking
(with a busy timeout) serialises the two. When the session closes (locked, timed out, stopped)
the worker is cancelled: its sandbox is killed, what it made is discarded, and nothing is stored
after that.

`ensure` (the command line's and the web's `save`) makes a rendition now: a file the worker has
only queued is taken from its queue, and one it is converting is waited for.
"""

from __future__ import annotations

import collections
import threading
import time

from journalist_console import schema
from journalist_console.rendition import jobs, messages, store
from journalist_console.rendition.sandbox import SandboxUnavailable
from journalist_console.session import Session
from journalist_console.texts import Text


class Worker:
    """Converts requested entries one at a time, in a thread, for one unlocked session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._queue: collections.deque[str] = collections.deque()
        self._cond = threading.Condition()
        self._cancel = threading.Event()
        self.current: str | None = None
        self.done_pages = 0
        self.total_pages = 0
        self.problems: dict[str, Text] = {}  # entry -> why it was not converted (not stored)
        self._thread = threading.Thread(target=self._run, name="wbs-renditions", daemon=True)
        self._thread.start()

    def request(self, entry_ids: list[str], first: bool = False) -> None:
        """Queue entries (`first`: before the others, in their order)."""
        with self._cond:
            wanted = [e for e in entry_ids if e != self.current and e not in self.problems]
            for entry_id in reversed(wanted) if first else wanted:
                if entry_id in self._queue:
                    if not first:
                        continue
                    self._queue.remove(entry_id)
                if first:
                    self._queue.appendleft(entry_id)
                else:
                    self._queue.append(entry_id)
            self._cond.notify_all()

    def busy_with(self, entry_id: str) -> bool:
        with self._cond:
            return entry_id == self.current or entry_id in self._queue

    def take(self, entry_id: str, timeout: float) -> None:
        """Leave `entry_id` to the caller: off the queue, or (when converting it) done."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if entry_id in self._queue:
                self._queue.remove(entry_id)
            while self.current == entry_id and time.monotonic() < deadline:
                self._cond.wait(timeout=0.5)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or converting (False: still busy after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self.current is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.5))
        return True

    def progress(self, entry_id: str) -> tuple[int, int] | None:
        """(pages done, pages to come) while converting it; (0, 0) while it waits; else None."""
        with self._cond:
            if entry_id == self.current:
                return self.done_pages, self.total_pages
            return (0, 0) if entry_id in self._queue else None

    def stop(self) -> None:
        self._cancel.set()
        with self._cond:
            self._queue.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        _workers.pop(id(self.session), None)

    def _progress(self, done: int, total: int) -> None:
        with self._cond:
            self.done_pages, self.total_pages = done, total

    def _next(self) -> str | None:
        with self._cond:
            while not self._queue and not self._cancel.is_set():
                self._cond.wait()
            if self._cancel.is_set():
                return None
            self.current = self._queue.popleft()
            self.done_pages = self.total_pages = 0
            return self.current

    def _run(self) -> None:
        conn = schema.connect(self.session.home.database, self.session.vault.db_key)
        try:
            while (entry_id := self._next()) is not None:
                try:
                    jobs.make(self.session, entry_id, None, self._cancel, self._progress, conn)
                except SandboxUnavailable as exc:
                    self.problems[entry_id] = messages.sandbox_unavailable(str(exc))
                except Exception:  # noqa: BLE001 - a bug must not end the thread: shown
                    self.problems[entry_id] = messages.PROBLEMS["crashed"]
                finally:
                    with self._cond:
                        self.current = None
                        self._cond.notify_all()
        finally:
            conn.close()


_workers: dict[int, Worker] = {}


def background(session: Session) -> Worker:
    """The session's background worker (started at the first request; stops when it closes)."""
    worker = _workers.get(id(session))
    if worker is None:
        worker = _workers[id(session)] = Worker(session)
        session.closing.append(worker.stop)
    return worker


def ensure(session: Session, entry_id: str) -> store.Rendition | None:
    """The entry's rendition, made now if there is none (None: the entry is not a file).

    SandboxUnavailable when the workstation cannot sandbox.
    """
    worker = _workers.get(id(session))
    if worker is not None:
        worker.take(entry_id, jobs.options_for(session.conn).limits.wall_seconds + 30)
    return jobs.make(session, entry_id)

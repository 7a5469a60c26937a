"""A first-come, first-served gate for expensive work (codename derivations).

The gate has a fixed number of slots. A caller that finds every slot taken joins a queue and is
served in arrival order; the queue is bounded in length (a caller beyond it is refused at once)
and each waiter in time (a waiter that is not served within `wait_seconds` is refused). So a
burst of requests makes an honest request wait its turn instead of losing a race for a slot,
while a flood can neither grow the queue without bound nor park a server thread for long.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from keys.errors import KdfBusy


class FifoGate:
    """At most `slots` holders at once; at most `max_waiting` others queue, in arrival order,
    each for at most `wait_seconds`."""

    def __init__(self, slots: int, max_waiting: int, wait_seconds: float) -> None:
        if slots < 1 or max_waiting < 0 or wait_seconds < 0:
            raise ValueError("a gate needs at least one slot and non-negative limits")
        self._lock = threading.Lock()
        self._free = slots
        self._max_waiting = max_waiting
        self._wait_seconds = wait_seconds
        # One event per waiter; a released slot is handed to the oldest waiter directly, so a
        # newcomer can never overtake someone already in the queue.
        self._queue: deque[threading.Event] = deque()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block; raises KdfBusy if none is granted."""
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def _acquire(self) -> None:
        with self._lock:
            if self._free > 0 and not self._queue:
                self._free -= 1
                return
            if len(self._queue) >= self._max_waiting:
                raise KdfBusy("too many codename checks waiting")
            turn = threading.Event()
            self._queue.append(turn)
        if turn.wait(self._wait_seconds):
            return
        with self._lock:
            if turn.is_set():
                return  # the slot was handed over just as the wait ran out: it is ours
            self._queue.remove(turn)
        raise KdfBusy("no codename check slot within the waiting time")

    def _release(self) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().set()  # the slot passes straight to the next in line
            else:
                self._free += 1
